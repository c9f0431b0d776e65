"""gjson-style paths, the subset Argo Events sensors use: ``body.data.model``, ``items.0.name``,
wildcards ``*`` / ``?`` in a key, ``\\.`` to escape a dot, ``#`` for an array's length.

See https://github.com/tidwall/gjson#path-syntax. :func:`get` returns ``MISSING`` when the path does not
exist (Argo treats that as a filter error, hence ``false``); :func:`as_string` renders a value the way
gjson's ``Result.String()`` does (strings unquoted, objects and arrays as compact JSON).
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

__all__ = ["MISSING", "as_string", "get", "split"]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def split(path: str) -> list[str]:
    """``a.b\\.c.0`` -> ``["a", "b.c", "0"]``."""
    parts: list[str] = []
    cur: list[str] = []
    it = iter(path)
    for ch in it:
        if ch == "\\":
            cur.append(next(it, ""))
        elif ch == ".":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def _step(node: Any, key: str) -> Any:
    if isinstance(node, dict):
        if key in node:
            return node[key]
        if "*" in key or "?" in key:
            for name, value in node.items():
                if fnmatch.fnmatchcase(name, key):
                    return value
        return MISSING
    if isinstance(node, list):
        if key == "#":
            return len(node)
        if key.isdigit() and int(key) < len(node):
            return node[int(key)]
    return MISSING


def get(doc: Any, path: str) -> Any:
    """The value at ``path`` in ``doc``, or :data:`MISSING`."""
    node = doc
    for key in split(path):
        node = _step(node, key)
        if node is MISSING:
            return MISSING
    return node


def as_string(value: Any) -> str:
    """gjson ``Result.String()``: ``null`` and missing give ``""``; numbers as JSON writes them."""
    if value is MISSING or value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"))
