"""Compiled expr-lang programs: parse once (cached), then check and run against an environment."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from driftloop.local.executor.exprlang.checker import Checker
from driftloop.local.executor.exprlang.interpreter import Interpreter, NilChainError
from driftloop.local.executor.exprlang.nodes import Node
from driftloop.local.executor.exprlang.parser import Parser
from driftloop.local.executor.exprvalues import (
    ExprError,
)


@dataclass(frozen=True)
class Program:
    """A parsed expression (check it against an environment with :func:`run`)."""

    text: str
    tree: Node


@functools.lru_cache(maxsize=1024)
def compile_expr(text: str) -> Program:
    """Parse ``text`` (syntax errors raise :class:`ExprError` with a position); parses are cached."""
    try:
        return Program(text, Parser(text).parse())
    except RecursionError:
        raise ExprError("expression is nested too deeply") from None


def run(program: Program, env: Mapping[str, Any]) -> Any:
    """Type-check ``program`` against ``env`` (as expr-lang's ``Compile`` does), then evaluate it."""
    try:
        Checker(program.text, env).check(program.tree)
        return Interpreter(program.text, env).eval(program.tree)
    except NilChainError:
        return None
    except RecursionError:
        raise ExprError("expression is nested too deeply") from None
