"""sprig's string, encoding and path functions."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from driftloop.gosemantics import quote, trunc
from driftloop.local.executor.exprvalues import (
    ExprError,
    go_sprint,
)


def strval(v: Any) -> str:
    return v if isinstance(v, str) else go_sprint(v)


def sprig_quote(*values: Any) -> str:
    return " ".join(quote(strval(v)) for v in values if v is not None)


def sprig_trunc(c: int, s: str) -> str:
    return trunc(c, s)


def sprig_substr(start: int, end: int, s: str) -> str:
    b = s.encode()
    try:
        if start < 0:
            if end < 0:
                raise IndexError
            return b[:end].decode("utf-8", "replace")
        if end < 0 or end > len(b):
            if start > len(b):
                raise IndexError
            return b[start:].decode("utf-8", "replace")
        if start > end:
            raise IndexError
        return b[start:end].decode("utf-8", "replace")
    except IndexError:
        raise ExprError(f"runtime error: slice bounds out of range [{start}:{end}]") from None


def sprig_abbrev(width: int, s: str) -> str:
    if width < 4 or len(s) <= width:
        return s
    return s[: width - 3] + "..."


def sprig_indent(spaces: int, v: str) -> str:
    pad = " " * spaces
    return pad + v.replace("\n", "\n" + pad)


def sprig_title(s: str) -> str:
    out, prev = [], " "
    for ch in s:
        out.append(ch.upper() if not (prev.isalnum() or prev == "_" or prev == "'") else ch)
        prev = ch
    return "".join(out)


def sprig_untitle(s: str) -> str:
    return s[:1].lower() + s[1:] if s else s


def sprig_b64dec(v: str) -> str:
    try:
        return base64.b64decode(v.encode(), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError) as exc:
        return f"illegal base64 data ({exc})"


def sprig_b32dec(v: str) -> str:
    try:
        return base64.b32decode(v.encode()).decode("utf-8", "replace")
    except (binascii.Error, ValueError) as exc:
        return f"illegal base32 data ({exc})"


def sprig_path_clean(p: str) -> str:
    """Go's ``path.Clean``."""
    if p == "":
        return "."
    rooted = p.startswith("/")
    parts: list[str] = []
    for part in p.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    out = "/".join(parts)
    if rooted:
        return "/" + out
    return out or "."


def sprig_path_base(p: str) -> str:
    if p == "":
        return "."
    p = p.rstrip("/")
    if p == "":
        return "/"
    return p.rsplit("/", 1)[-1]


def sprig_path_dir(p: str) -> str:
    i = p.rfind("/")
    return sprig_path_clean(p[: i + 1])


def sprig_path_ext(p: str) -> str:
    for i in range(len(p) - 1, -1, -1):
        if p[i] == "/":
            break
        if p[i] == ".":
            return p[i:]
    return ""
