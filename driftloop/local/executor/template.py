"""``{{...}}`` substitution the way Argo does it (``util/template``).

A tag runs from ``{{`` to the first ``}}``. A tag that starts with ``=`` (``{{=expr}}``, no space
before the ``=``) is an expr-lang expression, evaluated by :func:`.expr.render_expression` over the
scope as nested maps (``{{=steps['flip-coin'].outputs.result == 'heads' ? 'a' : 'b'}}``); it must
evaluate, or substitution fails with an error naming the problem (an unknown name or function, a
type error, a ``nil`` result) — never a literal or a guessed value.

Any other tag is a simple tag: its trimmed text is looked up in the scope as is (``steps.a.outputs.
result``). A tag that is not in the scope is left untouched, as Argo does (Argo validates most tags
before a run; we report unresolved ones where they matter, e.g. in ``when``). Expression syntax in a
simple tag is not evaluated: ``{{steps['flip-coin'].outputs.result}}`` is not a name in the scope, so
it stays as written — on Argo too (its validator only checks tags starting with ``steps.``), where a
``when`` containing it then fails to parse.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from driftloop.errors import WorkflowError
from driftloop.local.executor import expr

__all__ = ["render", "render_obj", "unresolved"]

_TAG = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


def _is_expression(tag: str) -> bool:
    return tag.startswith("=")


def render(text: str, scope: Mapping[str, str]) -> str:
    """Replace every ``{{name}}`` found in ``scope`` and every ``{{=expression}}``; leave other tags."""
    if "{{" not in text:
        return text

    def sub(m: re.Match[str]) -> str:
        tag = m.group(1)
        if _is_expression(tag):
            try:
                return expr.render_expression(tag[1:], scope)
            except WorkflowError as exc:
                raise WorkflowError(
                    f"cannot evaluate expression tag {m.group(0)!r}: {exc.message}",
                    exc.hint or "see https://expr-lang.org/docs/language-definition",
                ) from None
        value = scope.get(tag.strip())
        return m.group(0) if value is None else value

    return _TAG.sub(sub, text)


def render_obj(obj: Any, scope: Mapping[str, str]) -> Any:
    """Render every string inside ``obj`` (dicts, lists and strings), returning a new object."""
    if isinstance(obj, str):
        return render(obj, scope)
    if isinstance(obj, list):
        return [render_obj(v, scope) for v in obj]
    if isinstance(obj, dict):
        return {k: render_obj(v, scope) for k, v in obj.items()}
    return obj


def unresolved(text: str, prefixes: tuple[str, ...] = ()) -> list[str]:
    """The simple ``{{...}}`` tags still in ``text`` (optionally only those starting with ``prefixes``)."""
    names = [m.group(1).strip() for m in _TAG.finditer(text) if not _is_expression(m.group(1))]
    return [n for n in names if n and (not prefixes or n.startswith(prefixes))]
