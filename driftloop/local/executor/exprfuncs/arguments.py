"""Argument checks shared by expr-lang's builtins (Go type assertions and arity)."""

from __future__ import annotations

from typing import Any

from driftloop.local.executor.exprvalues import (
    ExprError,
    go_type,
)


def need_str(value: Any) -> str:
    """A Go type assertion ``value.(string)`` (expr-lang's builtins do this)."""
    if not isinstance(value, str):
        raise ExprError(f"interface conversion: interface {{}} is {go_type(value)}, not string")
    return value


def arity(name: str, args: list[Any], *counts: int) -> None:
    if len(args) not in counts:
        expected = " or ".join(str(c) for c in counts)
        raise ExprError(f"invalid number of arguments for {name} (expected {expected}, got {len(args)})")
