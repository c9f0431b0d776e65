"""sprig's regex functions, on Go's own regular expressions (RE2: :mod:`driftloop.gosemantics`)."""

from __future__ import annotations

import re
from typing import Any

from driftloop.gosemantics import GoRegexpError, Match, Pattern, regexp, regexp_error
from driftloop.local.executor.exprfuncs.arguments import need_str
from driftloop.local.executor.exprvalues import (
    ExprError,
)


def go_regex(pattern: Any) -> Pattern:
    """``regexp.Compile``: RE2 syntax and semantics, Go's error message shape."""
    text = need_str(pattern)
    try:
        return regexp(text)
    except GoRegexpError as exc:
        raise ExprError(f"error parsing regexp: {regexp_error(exc)}: `{text}`") from None


def sprig_regex_replace(regex: str, s: str, repl: str) -> str:
    pattern = go_regex(regex)
    return pattern.sub(lambda m: go_expand(repl, m), s)


def go_expand(template: str, match: Match) -> str:
    """Go's ``Regexp.Expand``: ``$1``, ``${1}``, ``$name``, ``${name}``, ``$$``."""
    out, i = [], 0
    while i < len(template):
        ch = template[i]
        if ch != "$" or i + 1 >= len(template):
            out.append(ch)
            i += 1
            continue
        if template[i + 1] == "$":
            out.append("$")
            i += 2
            continue
        m = re.match(r"\{(\w+)\}|(\w+)", template[i + 1 :])
        if not m:
            out.append("$")
            i += 1
            continue
        name = m.group(1) or m.group(2)
        i += 1 + m.end()
        try:
            group = match.group(int(name)) if name.isdigit() else match.group(name)
        except IndexError:
            group = ""
        out.append(group or "")
    return "".join(out)


def sprig_regex_find_all(regex: str, s: str, n: int) -> list[Any]:
    found = [m.group(0) for m in go_regex(regex).finditer(s)]
    return found if n < 0 else found[:n]


def sprig_regex_split(regex: str, s: str, n: int) -> list[Any]:
    """Go's ``Regexp.Split``."""
    if n == 0:
        return []
    pattern = go_regex(regex)
    if regex and not s:
        return [""]
    parts: list[Any] = []
    beg = end = 0
    for m in pattern.finditer(s):
        if n > 0 and len(parts) == n - 1:
            break
        end = m.start()
        if m.end() != 0:
            parts.append(s[beg:end])
        beg = m.end()
    if end != len(s):
        parts.append(s[beg:])
    return parts


def sprig_must_regex_match(regex: str, s: str) -> bool:
    return go_regex(regex).search(s) is not None


def sprig_regex_match(regex: str, s: str) -> bool:
    try:
        return sprig_must_regex_match(regex, s)
    except ExprError:
        return False
