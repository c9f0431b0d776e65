"""Unit-test fixtures shared across modules (a module's own fixture of the same name wins)."""

from __future__ import annotations

import types
from pathlib import Path

import pytest


@pytest.fixture()
def settings(tmp_path: Path) -> types.SimpleNamespace:
    """The settings the local executor reads: a data directory of the test's own."""
    return types.SimpleNamespace(data_dir=tmp_path / "data")
