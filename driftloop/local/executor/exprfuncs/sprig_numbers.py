"""sprig's number functions (spf13/cast conversions, integer and decimal arithmetic, ranges)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

from driftloop.local.executor.exprvalues import (
    ExprError,
    go_sprint,
    is_number,
    parse_go_float,
    parse_go_int,
    to_int,
    wrap_int,
)


def cast_int(v: Any) -> int:
    """spf13/cast ``ToInt64`` (errors give 0, as sprig ignores them)."""
    if v is None:
        return 0
    if isinstance(v, bool):
        return 1 if v else 0
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return to_int(v)
    if isinstance(v, str):
        if v == "":
            return 0
        text = v
        if "." in text:
            m = re.fullmatch(r"([-+]?\d*)(\.\d*)?", text)
            if m:
                text = m.group(1)
                text = {"-": "-0", "+": "+0", "": "0"}.get(text, text)
        n = parse_go_int(text, base0=True)
        return 0 if n is None else n
    return 0


def cast_float(v: Any) -> float:
    """spf13/cast ``ToFloat64`` (errors give 0)."""
    if v is None:
        return 0.0
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if is_number(v):
        return float(v)
    if isinstance(v, str):
        if v == "":
            return 0.0
        f = parse_go_float(v)
        return 0.0 if f is None else f
    return 0.0


def sprig_div(a: Any, b: Any) -> int:
    x, y = cast_int(a), cast_int(b)
    if y == 0:
        raise ExprError("runtime error: integer divide by zero")
    q = abs(x) // abs(y)
    return wrap_int(q if (x >= 0) == (y >= 0) else -q)


def sprig_mod(a: Any, b: Any) -> int:
    x, y = cast_int(a), cast_int(b)
    if y == 0:
        raise ExprError("runtime error: integer divide by zero")
    r = abs(x) % abs(y)
    return -r if x < 0 else r


def sprig_decimal_op(op: str) -> Callable[..., float]:
    def run(first: Any, *rest: Any) -> float:
        with localcontext() as ctx:
            ctx.prec = 60
            acc = Decimal(repr(cast_float(first)))
            for r in rest:
                d = Decimal(repr(cast_float(r)))
                try:
                    if op == "+":
                        acc += d
                    elif op == "-":
                        acc -= d
                    elif op == "*":
                        acc *= d
                    else:
                        acc = (acc / d).quantize(Decimal(1).scaleb(-16))
                except (InvalidOperation, ZeroDivisionError):
                    raise ExprError("decimal division by 0") from None
            return float(acc)

    return run


def sprig_until_step(start: int, stop: int, step: int) -> list[Any]:
    if stop < start:
        return list(range(start, stop, step)) if step < 0 else []
    return list(range(start, stop, step)) if step > 0 else []


def sprig_seq(*params: int) -> str:
    if len(params) == 0 or len(params) > 3:
        return ""
    if len(params) == 1:
        start, end = 1, params[0]
        inc = -1 if end < start else 1
        nums = sprig_until_step(start, end + inc, inc)
    elif len(params) == 2:
        start, end = params
        step = -1 if end < start else 1
        nums = sprig_until_step(start, end + step, step)
    else:
        start, step, end = params
        inc = 1
        if end < start:
            inc = -1
            if step > 0:
                return ""
        nums = sprig_until_step(start, end + inc, step)
    return " ".join(str(n) for n in nums)


def sprig_max(first: Any, *rest: Any) -> int:
    return max([cast_int(first), *(cast_int(r) for r in rest)])


def sprig_min(first: Any, *rest: Any) -> int:
    return min([cast_int(first), *(cast_int(r) for r in rest)])


def sprig_maxf(first: Any, *rest: Any) -> float:
    acc = cast_float(first)
    for r in rest:
        acc = max(acc, cast_float(r))
    return acc


def sprig_minf(first: Any, *rest: Any) -> float:
    acc = cast_float(first)
    for r in rest:
        acc = min(acc, cast_float(r))
    return acc


def sprig_round(a: Any, p: int, *r_opt: float) -> float:
    round_on = r_opt[0] if r_opt else 0.5
    val = cast_float(a)
    pow_ = math.pow(10, float(p))
    digit = pow_ * val
    frac = math.modf(digit)[0]
    rounded = math.ceil(digit) if frac >= round_on else math.floor(digit)
    return float(rounded) / pow_


def sprig_to_decimal(v: Any) -> int:
    text = go_sprint(v)
    if not re.fullmatch(r"[+-]?[0-7]+", text):
        return 0
    n = int(text, 8)
    return wrap_int(n)
