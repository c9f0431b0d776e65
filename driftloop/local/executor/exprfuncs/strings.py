"""expr-lang's string builtins, JSON and base64 (Go ``strings`` semantics)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from driftloop.local.executor.exprfuncs.arguments import arity, need_str
from driftloop.local.executor.exprvalues import (
    ExprError,
    go_json,
    go_sprint,
    go_type,
    to_int,
)


def builtin_trim(args: list[Any]) -> str:
    arity("trim", args, 1, 2)
    s = need_str(args[0])
    return s.strip() if len(args) == 1 else s.strip(need_str(args[1]))


def builtin_trim_affix(name: str, suffix: bool) -> Callable[[list[Any]], str]:
    def run(args: list[Any]) -> str:
        arity(name, args, 1, 2)
        s = need_str(args[0])
        cut = need_str(args[1]) if len(args) == 2 else " "
        if suffix:
            return s[: -len(cut)] if cut and s.endswith(cut) else s
        return s[len(cut) :] if s.startswith(cut) else s

    return run


def go_split(s: str, sep: str, n: int = -1, after: bool = False) -> list[Any]:
    """``strings.SplitN`` / ``SplitAfterN`` (``sep == ""`` splits into characters; ``n == 0`` -> none)."""
    if n == 0:
        return []
    if sep == "":
        chars = list(s)
        if 0 < n < len(chars):
            chars = [*chars[: n - 1], "".join(chars[n - 1 :])]
        return list(chars)
    parts: list[Any] = []
    rest = s
    while n < 0 or len(parts) < n - 1:
        i = rest.find(sep)
        if i < 0:
            break
        parts.append(rest[: i + len(sep)] if after else rest[:i])
        rest = rest[i + len(sep) :]
    parts.append(rest)
    return parts


def builtin_split(name: str, after: bool) -> Callable[[list[Any]], list[Any]]:
    def run(args: list[Any]) -> list[Any]:
        arity(name, args, 2, 3)
        n = to_int(args[2]) if len(args) == 3 else -1
        return go_split(need_str(args[0]), need_str(args[1]), n, after)

    return run


def builtin_replace(args: list[Any]) -> str:
    arity("replace", args, 3, 4)
    s, old, new = (need_str(a) for a in args[:3])
    n = to_int(args[3]) if len(args) == 4 else -1
    return go_replace(s, old, new, n)


def go_replace(s: str, old: str, new: str, n: int = -1) -> str:
    """``strings.Replace`` (an empty ``old`` matches before every character and at the end)."""
    if n == 0 or (old == new):
        return s
    if old == "":
        out, count = [], 0
        for ch in s:
            if n < 0 or count < n:
                out.append(new)
                count += 1
            out.append(ch)
        if n < 0 or count < n:
            out.append(new)
        return "".join(out)
    return s.replace(old, new, n if n > 0 else -1)


def builtin_repeat(args: list[Any]) -> str:
    arity("repeat", args, 2)
    s, n = need_str(args[0]), to_int(args[1])
    if n < 0:
        raise ExprError(f"invalid argument for repeat (expected positive integer, got {n})")
    if n > 1_000_000:
        raise ExprError("memory budget exceeded")
    return s * n


def builtin_join(args: list[Any]) -> str:
    arity("join", args, 1, 2)
    glue = need_str(args[1]) if len(args) == 2 else ""
    if not isinstance(args[0], list):
        raise ExprError(f"invalid argument for join (type {go_type(args[0])})")
    return glue.join(need_str(v) for v in args[0])


def builtin_byte_index(args: list[Any], name: str, last: bool) -> int:
    arity(name, args, 2)
    s, sub = need_str(args[0]).encode(), need_str(args[1]).encode()
    return s.rfind(sub) if last else s.find(sub)


def builtin_affix_test(name: str, suffix: bool) -> Callable[[list[Any]], bool]:
    def run(args: list[Any]) -> bool:
        arity(name, args, 2)
        s, p = need_str(args[0]), need_str(args[1])
        return s.endswith(p) if suffix else s.startswith(p)

    return run


def go_json_loads(text: str) -> Any:
    """``json.Unmarshal`` into ``interface{}``: every number is a float64."""
    try:
        return json.loads(text, parse_int=float, parse_constant=_no_constant)
    except ValueError as exc:
        raise ExprError(f"invalid JSON: {exc}") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"invalid character {name[0]!r} looking for beginning of value")


def builtin_to_json(args: list[Any]) -> str:
    arity("toJSON", args, 1)
    return go_json(args[0], indent="  ")


def builtin_from_json(args: list[Any]) -> Any:
    arity("fromJSON", args, 1)
    return go_json_loads(need_str(args[0]))


def builtin_to_base64(args: list[Any]) -> str:
    arity("toBase64", args, 1)
    return base64.b64encode(need_str(args[0]).encode()).decode()


def builtin_from_base64(args: list[Any]) -> str:
    arity("fromBase64", args, 1)
    try:
        return base64.b64decode(need_str(args[0]).encode(), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        raise ExprError(f"illegal base64 data in {args[0]!r}") from None


def builtin_string(args: list[Any]) -> str:
    arity("string", args, 1)
    return go_sprint(args[0])


#: expr-lang builtins (the non-predicate ones) by name: each takes the evaluated arguments.
