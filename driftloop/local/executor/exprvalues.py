"""Values of the expr-lang evaluator (:mod:`.exprlang`) and the Go semantics they follow.

Argo evaluates expressions with expr-lang (github.com/expr-lang/expr, Go). Its values are Go values;
here they are Python ones: ``None`` is Go's ``nil``, ``bool``, ``int`` (a Go ``int``, 64 bits: results
wrap around as in Go), ``float`` (``float64``), ``str``, ``list`` (``[]interface {}``), ``dict``
(``map[string]interface {}``) and :class:`GoFunc` (a function value such as ``asInt`` or ``sprig.trim``).

This module has the operators' runtime rules (expr-lang's ``vm/runtime``: ``Equal``, ``Less``, ``Add``,
...), Go's ``fmt`` ``%v`` formatting and Go's ``encoding/json`` encoding (Argo writes a ``{{=...}}``
result with ``json.Marshal``; ``valueFrom.expression`` results with ``%v``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from driftloop.errors import WorkflowError

__all__ = [
    "ExprError",
    "GoFunc",
    "add",
    "deep_equal",
    "divide",
    "equal",
    "exponent",
    "go_json",
    "go_sprint",
    "go_type",
    "is_number",
    "less",
    "modulo",
    "multiply",
    "negate",
    "parse_go_float",
    "parse_go_int",
    "subtract",
    "to_int",
    "wrap_int",
]

_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


class ExprError(WorkflowError):
    """An expression that cannot be compiled or evaluated (the message says why, as expr-lang would)."""


@dataclass(frozen=True)
class GoFunc:
    """A Go function value in the expression environment (``asInt``, ``jsonpath``, ``sprig.trim``, ...).

    ``params`` are the Go parameter types (``"string"``, ``"int"``, ``"bool"``, ``"map"``, ``"any"``,
    ...); with ``variadic`` the last one repeats. Arguments are checked like ``reflect.Call`` does
    (expr-lang calls these functions through reflection), ``nil`` becomes the parameter's zero value.
    ``unsupported`` names a function Argo has but the local executor does not implement: calling it
    is an error that says so (never a guessed value).
    """

    name: str
    impl: Callable[..., Any] = field(compare=False, repr=False)
    params: tuple[str, ...] = ()
    variadic: bool = False
    returns: str = "unknown"  # the static type the checker sees (see exprlang)
    typed: bool = False  # the checker knows the signature (a top-level env function such as asInt)
    unsupported: str | None = None

    def call(self, args: Sequence[Any]) -> Any:
        if self.unsupported is not None:
            raise ExprError(
                f"{self.name} is not supported by the local executor ({self.unsupported})",
                "rewrite the expression without it, or run the workflow on Argo",
            )
        n = len(self.params)
        if self.variadic:
            if len(args) < n - 1:
                raise ExprError(f"invalid number of arguments: expected at least {n - 1}, got {len(args)}")
        elif len(args) != n:
            raise ExprError(f"invalid number of arguments: expected {n}, got {len(args)}")
        conv = []
        for i, arg in enumerate(args):
            kind = self.params[min(i, n - 1)] if n else "any"
            conv.append(_reflect_arg(arg, kind))
        return self.impl(*conv)


_ZERO: dict[str, Any] = {"string": "", "int": 0, "float": 0.0, "bool": False, "map": None, "list": None}


def _reflect_arg(value: Any, kind: str) -> Any:
    """An argument as Go's ``reflect.Call`` takes it (nil -> zero value, wrong type -> panic)."""
    if kind == "any":
        return value
    if value is None:
        return _ZERO.get(kind)
    ok = {
        "string": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, float),
        "bool": isinstance(value, bool),
        "map": isinstance(value, dict),
        "list": isinstance(value, list),
    }.get(kind, False)
    if not ok:
        go_kind = {
            "string": "string",
            "int": "int",
            "float": "float64",
            "bool": "bool",
            "map": "map[string]interface {}",
            "list": "[]interface {}",
        }.get(kind, kind)
        raise ExprError(f"reflect: Call using {go_type(value)} as type {go_kind}")
    return value


def go_type(value: Any) -> str:
    """Go's ``%T`` of a value."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, GoFunc):
        return "func"
    return type(value).__name__


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def wrap_int(n: int) -> int:
    """A Python int as a Go ``int`` (64-bit two's complement wrap-around)."""
    if _INT_MIN <= n <= _INT_MAX:
        return n
    return (n + 2**63) % 2**64 - 2**63


# --------------------------------------------------------------------------------------------------
# formatting: fmt %v and encoding/json


def _shortest(f: float) -> tuple[str, int]:
    """The shortest round-trip decimal digits of ``abs(f)`` and the decimal point position."""
    text = repr(abs(f))
    mant, _, exp = text.partition("e")
    whole, _, frac = mant.partition(".")
    digits = (whole + frac).lstrip("0")
    point = len(whole) + (int(exp) if exp else 0)
    lead = len(whole + frac) - len((whole + frac).lstrip("0"))
    point -= lead
    digits = digits.rstrip("0") or "0"
    if digits == "0":
        point = 1
    return digits, point


def _format_e(f: float, digits: str, point: int, min_exp_digits: int) -> str:
    exp = point - 1
    mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    sign = "-" if exp < 0 else "+"
    return f"{'-' if f < 0 else ''}{mant}e{sign}{abs(exp):0{min_exp_digits}d}"


def _format_f(f: float, digits: str, point: int) -> str:
    if point <= 0:
        text = "0." + "0" * (-point) + digits
    elif point >= len(digits):
        text = digits + "0" * (point - len(digits))
    else:
        text = digits[:point] + "." + digits[point:]
    return ("-" if f < 0 else "") + text


def go_float_v(f: float) -> str:
    """``fmt.Sprintf("%v", f)``: strconv's shortest ``%g`` (exponent form when it is < -4 or >= 6)."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    digits, point = _shortest(f)
    exp = point - 1
    if exp < -4 or exp >= 6:
        return _format_e(f, digits, point, 2)
    return _format_f(f, digits, point)


def go_sprint(value: Any) -> str:
    """``fmt.Sprintf("%v", value)`` for the values an expression produces."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float_v(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + " ".join(go_sprint(v) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: _sort_key(kv[0]))
        return "map[" + " ".join(f"{go_sprint(k)}:{go_sprint(v)}" for k, v in items) + "]"
    if isinstance(value, GoFunc):
        return f"func {value.name}"
    return str(value)


def _sort_key(key: Any) -> tuple[int, Any]:
    if is_number(key):
        return (0, key)
    return (1, str(key))


def _json_float(f: float) -> str:
    if math.isnan(f) or math.isinf(f):
        raise ExprError(f"json: unsupported value: {go_float_v(f)}")
    if f == 0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    digits, point = _shortest(f)
    if abs(f) < 1e-6 or abs(f) >= 1e21:
        text = _format_e(f, digits, point, 1)
        return text
    return _format_f(f, digits, point)


_JSON_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def _json_string(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch in _JSON_ESCAPES:
            out.append(_JSON_ESCAPES[ch])
        elif ch < " " or ch in "<>&\u2028\u2029":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_json(value: Any, indent: str | None = None, escape_html: bool = True, _level: int = 0) -> str:
    """``json.Marshal`` (or ``json.MarshalIndent(v, "", indent)``) of a value, as Go encodes it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _json_float(value)
    if isinstance(value, str):
        text = _json_string(value)
        if not escape_html:
            text = text.replace("\\u003c", "<").replace("\\u003e", ">").replace("\\u0026", "&")
        return text
    if isinstance(value, list | dict):
        if isinstance(value, list):
            parts = [go_json(v, indent, escape_html, _level + 1) for v in value]
            open_, close = "[", "]"
        else:
            if any(not isinstance(k, str) for k in value):
                raise ExprError("json: unsupported type: map[interface {}]interface {}")
            items = sorted(value.items())
            sep = ": " if indent is not None else ":"
            parts = [
                f"{_json_string(go_sprint(k))}{sep}{go_json(v, indent, escape_html, _level + 1)}"
                for k, v in items
            ]
            open_, close = "{", "}"
        if not parts:
            return open_ + close
        if indent is None:
            return open_ + ",".join(parts) + close
        pad, inner = "\n" + indent * _level, "\n" + indent * (_level + 1)
        return open_ + inner + ("," + inner).join(parts) + pad + close
    if isinstance(value, GoFunc):
        raise ExprError("json: unsupported type: func")
    raise ExprError(f"json: unsupported type: {go_type(value)}")


# --------------------------------------------------------------------------------------------------
# conversions


_GO_INT = re.compile(r"[+-]?[0-9]+")
_GO_INT_BASE0 = re.compile(
    r"[+-]?(?:0[xX](?:_?[0-9a-fA-F])+|0[bB](?:_?[01])+|0[oO](?:_?[0-7])+|0(?:_?[0-7])*|[1-9](?:_?[0-9])*)"
)
_GO_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_GO_FLOAT_SPECIAL = re.compile(r"[+-]?(?:inf|infinity|nan)", re.IGNORECASE)


def parse_go_int(text: str, base0: bool = False) -> int | None:
    """``strconv.Atoi`` (or ``ParseInt(s, 0, 64)`` with ``base0``); None when Go would fail."""
    if base0:
        if not _GO_INT_BASE0.fullmatch(text):
            return None
        sign = -1 if text.startswith("-") else 1
        body = text.lstrip("+-").replace("_", "")
        low = body.lower()
        if low.startswith("0x"):
            n = int(body[2:], 16)
        elif low.startswith("0b"):
            n = int(body[2:], 2)
        elif low.startswith("0o"):
            n = int(body[2:], 8)
        elif len(body) > 1 and body.startswith("0"):
            n = int(body[1:], 8)
        else:
            n = int(body)
        n *= sign
    else:
        if not _GO_INT.fullmatch(text):
            return None
        n = int(text)
    if not _INT_MIN <= n <= _INT_MAX:
        return None
    return n


def parse_go_float(text: str) -> float | None:
    """``strconv.ParseFloat(s, 64)`` for decimal syntax; None when Go would fail."""
    if _GO_FLOAT.fullmatch(text) or _GO_FLOAT_SPECIAL.fullmatch(text):
        try:
            return float(text)
        except (OverflowError, ValueError):
            return None
    return None


def to_int(value: Any) -> int:
    """expr-lang's ``runtime.ToInt`` (numbers only)."""
    if isinstance(value, bool) or not is_number(value):
        raise ExprError(f"invalid operation: int({go_type(value)})")
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return _INT_MIN
        return wrap_int(int(value))
    return value


# --------------------------------------------------------------------------------------------------
# operators (expr-lang vm/runtime)


def equal(a: Any, b: Any) -> bool:
    """``runtime.Equal``: numbers by value (int vs float too), strings, bools; else deep equality."""
    if is_number(a) and is_number(b):
        return bool(a == b)
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if isinstance(a, bool) and isinstance(b, bool):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if a is None and b is None:
        return True
    return deep_equal(a, b)


def deep_equal(a: Any, b: Any) -> bool:
    """Go's ``reflect.DeepEqual`` (types must match: ``1`` and ``1.0`` differ)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(deep_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(deep_equal(a[k], b[k]) for k in a)
    if isinstance(a, float) and math.isnan(a):
        return False
    return bool(a == b)


def _mismatch(op: str, a: Any, b: Any) -> ExprError:
    return ExprError(f"invalid operation: {go_type(a)} {op} {go_type(b)}")


def less(op: str, a: Any, b: Any) -> bool:
    """``<``, ``<=``, ``>``, ``>=``: numbers with numbers, strings with strings."""
    if is_number(a) and is_number(b):
        pass
    elif not (isinstance(a, str) and isinstance(b, str)):
        raise _mismatch(op, a, b)
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


def _numeric(op: str, a: Any, b: Any) -> None:
    if not (is_number(a) and is_number(b)):
        raise _mismatch(op, a, b)


def add(a: Any, b: Any) -> Any:
    if isinstance(a, str) and isinstance(b, str):
        return a + b
    _numeric("+", a, b)
    if isinstance(a, int) and isinstance(b, int):
        return wrap_int(a + b)
    return float(a) + float(b)


def subtract(a: Any, b: Any) -> Any:
    _numeric("-", a, b)
    if isinstance(a, int) and isinstance(b, int):
        return wrap_int(a - b)
    return float(a) - float(b)


def multiply(a: Any, b: Any) -> Any:
    _numeric("*", a, b)
    if isinstance(a, int) and isinstance(b, int):
        return wrap_int(a * b)
    return float(a) * float(b)


def divide(a: Any, b: Any) -> float:
    """``/`` always gives a float64 (``1 / 0`` is ``+Inf`` as in Go)."""
    _numeric("/", a, b)
    x, y = float(a), float(b)
    if y == 0:
        if x == 0 or math.isnan(x):
            return math.nan
        return math.copysign(math.inf, x) * math.copysign(1.0, y)
    return x / y


def modulo(a: Any, b: Any) -> int:
    """``%`` on integers only; the sign follows the dividend (Go truncated division)."""
    if not (isinstance(a, int) and isinstance(b, int)) or isinstance(a, bool) or isinstance(b, bool):
        raise _mismatch("%", a, b)
    if b == 0:
        raise ExprError("runtime error: integer divide by zero")
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def exponent(a: Any, b: Any) -> float:
    _numeric("**", a, b)
    try:
        return math.pow(float(a), float(b))
    except ValueError:
        return math.nan
    except OverflowError:
        return math.inf


def negate(a: Any) -> Any:
    if not is_number(a):
        raise ExprError(f"invalid operation: - {go_type(a)}")
    return wrap_int(-a) if isinstance(a, int) else -a
