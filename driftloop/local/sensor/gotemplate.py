"""A Go ``text/template`` subset with the sprig functions driftloop's Sensor uses.

Argo Events renders ``dataTemplate`` / data-filter ``template`` with Go templates and sprig's hermetic
functions. Supported here: text with ``{{ ... }}`` actions (``{{-`` / ``-}}`` trim whitespace), a
pipeline whose first command is a field (``.Input.body.id``), a quoted string, a number or a function
call, then ``| fn args...``. Functions: ``sha256sum``, ``trunc N``, ``lower``, ``upper``, ``quote``,
``default X``, ``trim``, ``replace OLD NEW``, ``trimSuffix S``, ``toString``. A missing map key renders
``<no value>``, as Go does. Anything else raises :class:`TemplateError` — never ``eval``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

from driftloop.gosemantics import quote, trunc, unquote
from driftloop.local.sensor.path import MISSING, as_string

__all__ = ["TemplateError", "render"]

_ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.S)


class TemplateError(ValueError):
    """The template uses syntax or a function outside the supported subset, or a call fails."""


def _default(dflt: Any, value: Any = MISSING) -> Any:
    empty = value is MISSING or value is None or value == "" or value == [] or value == {} or value is False
    return dflt if empty else value


_FUNCS: dict[str, Callable[..., Any]] = {
    "sha256sum": lambda s: hashlib.sha256(_text(s).encode()).hexdigest(),
    "trunc": lambda n, s: trunc(int(n), _text(s)),
    "lower": lambda s: _text(s).lower(),
    "upper": lambda s: _text(s).upper(),
    "quote": lambda *s: " ".join(quote(_text(x)) for x in s if x is not None),
    "default": _default,
    "trim": lambda s: _text(s).strip(),
    "replace": lambda old, new, s: _text(s).replace(_text(old), _text(new)),
    "trimSuffix": lambda suffix, s: _text(s).removesuffix(_text(suffix)),
    "toString": lambda s: _text(s),
}


def _text(value: Any) -> str:
    return "<no value>" if value is MISSING else as_string(value)


def _field(path: str, data: Any) -> Any:
    node = data
    for key in path.split(".")[1:]:
        if not key:
            continue
        if isinstance(node, dict):
            node = node.get(key, MISSING)
        else:
            raise TemplateError(f"can't evaluate field {key} in {path}")
        if node is MISSING:
            return MISSING
    return node


def _operand(token: str, data: Any) -> Any:
    if token.startswith("."):
        return _field(token, data)
    if token[:1] in "\"'`" or token == "":
        return token
    try:
        return float(token) if "." in token else int(token)
    except ValueError:
        raise TemplateError(f"unsupported operand {token!r}") from None


def _call(name: str, args: list[Any]) -> Any:
    fn = _FUNCS.get(name)
    if fn is None:
        raise TemplateError(f"function {name!r} not supported (have: {', '.join(sorted(_FUNCS))})")
    try:
        return fn(*args)
    except (TypeError, ValueError) as exc:
        raise TemplateError(f"{name}: {exc}") from None


_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|`([^`]*)`|(\S+)')


def _tokens(command: str) -> list[tuple[str, bool]]:
    """Split a command into (token, quoted) pairs; Go string escapes are decoded."""
    out: list[tuple[str, bool]] = []
    for m in _TOKEN.finditer(command):
        if m.group(1) is not None:
            try:
                out.append((unquote(m.group(1)), True))
            except ValueError as exc:
                raise TemplateError(str(exc)) from None
        elif m.group(2) is not None:
            out.append((m.group(2), True))
        else:
            out.append((m.group(3), False))
    return out


def _pipeline(text: str, data: Any) -> Any:
    value: Any = MISSING
    for i, command in enumerate(p.strip() for p in text.split("|")):
        toks = _tokens(command)
        if not toks:
            raise TemplateError(f"empty command in {{{{ {text} }}}}")
        head, head_quoted = toks[0]
        args = [t if q else _operand(t, data) for t, q in toks[1:]]
        if i == 0 and (head_quoted or head.startswith(".") or head[:1].isdigit()):
            if args:
                raise TemplateError(f"{head} is not a function")
            value = head if head_quoted else _operand(head, data)
        else:
            value = _call(head, [*args, value] if i > 0 else args)
    return value


def render(template: str, data: Any) -> str:
    """Render ``template`` with ``data`` as the dot (e.g. ``{"Input": event_data}``)."""
    out: list[str] = []
    pos = 0
    for m in _ACTION.finditer(template):
        literal = template[pos : m.start()]
        out.append(literal.rstrip() if m.group(1) else literal)
        out.append(_text(_pipeline(m.group(2), data)))
        pos = m.end()
        if m.group(3):
            rest = template[pos:]
            pos += len(rest) - len(rest.lstrip())
    tail = template[pos:]
    if "{{" in tail or "}}" in tail:
        raise TemplateError(f"unbalanced braces in template {template!r}")
    out.append(tail)
    return "".join(out)
