"""expr-lang's numeric builtins: conversions, rounding, min/max/mean/median and bit operations."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from driftloop.local.executor.exprfuncs.arguments import arity
from driftloop.local.executor.exprvalues import (
    ExprError,
    go_type,
    is_number,
    less,
    parse_go_float,
    parse_go_int,
    to_int,
    wrap_int,
)


def builtin_int(x: Any) -> int:
    """expr-lang's ``int`` (Argo's ``asInt``): numbers truncate, strings must be base-10 integers."""
    if isinstance(x, bool):
        raise ExprError("invalid operation: int(bool)")
    if isinstance(x, str):
        n = parse_go_int(x)
        if n is None:
            raise ExprError(f"invalid operation: int({x})")
        return n
    if is_number(x):
        return to_int(x)
    raise ExprError(f"invalid operation: int({go_type(x)})")


def builtin_float(x: Any) -> float:
    """expr-lang's ``float`` (Argo's ``asFloat``)."""
    if isinstance(x, bool):
        raise ExprError("invalid operation: float(bool)")
    if isinstance(x, str):
        f = parse_go_float(x)
        if f is None:
            raise ExprError(f"invalid operation: float({x})")
        return f
    if is_number(x):
        return float(x)
    raise ExprError(f"invalid operation: float({go_type(x)})")


def builtin_abs(args: list[Any]) -> Any:
    arity("abs", args, 1)
    x = args[0]
    if not is_number(x):
        raise ExprError(f"invalid argument for abs (type {go_type(x)})")
    return wrap_int(abs(x)) if isinstance(x, int) else abs(x)


def round_half_away(f: float) -> float:
    if math.isnan(f) or math.isinf(f):
        return f
    r = math.floor(abs(f) + 0.5)
    return math.copysign(r, f)


def builtin_rounding(name: str, fn: Callable[[float], float]) -> Callable[[list[Any]], float]:
    def run(args: list[Any]) -> float:
        arity(name, args, 1)
        x = args[0]
        if not is_number(x):
            raise ExprError(f"invalid argument for {name} (type {go_type(x)})")
        if isinstance(x, int):
            return float(x)
        if math.isnan(x) or math.isinf(x):
            return x
        return float(fn(x))

    return run


def _numbers(name: str, args: list[Any], depth: int = 0) -> list[Any]:
    out: list[Any] = []
    for a in args:
        if isinstance(a, list):
            out.extend(_numbers(name, a, depth + 1))
        elif is_number(a):
            out.append(a)
        else:
            raise ExprError(f"invalid argument for {name} (type {go_type(a)})")
    return out


def builtin_min_max(name: str) -> Callable[[list[Any]], Any]:
    def run(args: list[Any]) -> Any:
        if not args:
            raise ExprError(f"not enough arguments to call {name}")
        if len(args) == 1 and not isinstance(args[0], list) and not is_number(args[0]):
            return args[0]
        values = _numbers(name, args)
        if not values:
            return None
        best = values[0]
        for v in values[1:]:
            if (name == "max" and less("<", best, v)) or (name == "min" and less(">", best, v)):
                best = v
        return best

    return run


def builtin_mean(args: list[Any]) -> float:
    values = _numbers("mean", args)
    return float(sum(float(v) for v in values) / len(values)) if values else 0.0


def builtin_median(args: list[Any]) -> float:
    values = sorted(float(v) for v in _numbers("median", args))
    if not values:
        return 0.0
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def builtin_bit(name: str, fn: Callable[[int, int], int]) -> Callable[[list[Any]], int]:
    def run(args: list[Any]) -> int:
        arity(name, args, 2)
        x, y = args
        if not (isinstance(x, int) and isinstance(y, int)) or isinstance(x, bool) or isinstance(y, bool):
            raise ExprError(
                f"cannot use {go_type(x if not isinstance(x, int) else y)} as argument to call {name}"
            )
        if name in ("bitshl", "bitshr", "bitushr") and y < 0:
            raise ExprError(f"invalid operation: negative shift count {y} (type int)")
        return wrap_int(fn(x, y))

    return run


def builtin_bitnot(args: list[Any]) -> int:
    arity("bitnot", args, 1)
    if not isinstance(args[0], int) or isinstance(args[0], bool):
        raise ExprError(f"cannot use {go_type(args[0])} as argument to call bitnot")
    return ~args[0]
