"""Fault injection: each test breaks a promise on purpose and asserts the end state."""
