"""``{{...}}`` substitution the way Argo does it for simple tags.

A tag whose name is in the scope is replaced by its value; a tag that is not is left untouched (Argo
validates most unresolved tags before a run; we report them where they matter, e.g. in ``when``).
Expression tags (``{{=...}}``) use the small evaluator in :mod:`driftloop.local.executor.expr`, with the scope
as variables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from driftloop.errors import WorkflowError
from driftloop.local.executor import expr

__all__ = ["render", "render_obj", "unresolved"]

_TAG = re.compile(r"\{\{\s*(=?)\s*(.+?)\s*\}\}", re.DOTALL)


def render(text: str, scope: Mapping[str, str]) -> str:
    """Replace every ``{{name}}`` found in ``scope``; leave unknown tags as they are."""
    if "{{" not in text:
        return text

    def sub(m: re.Match[str]) -> str:
        is_expr, name = m.group(1), m.group(2)
        if is_expr:
            try:
                return expr.format_value(expr.evaluate(name, _expr_vars(scope)))
            except WorkflowError as exc:
                raise WorkflowError(
                    f"cannot evaluate expression tag {m.group(0)!r}: {exc.message}",
                    "only simple expressions (comparisons, ?:, &&, ||) run locally",
                ) from None
        return scope.get(name, m.group(0))

    return _TAG.sub(sub, text)


def _expr_vars(scope: Mapping[str, str]) -> dict[str, Any]:
    # expr-lang spells hyphenated names as a['b-c']; dotted lookups are enough for local runs.
    return dict(scope)


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
    """The ``{{...}}`` tags still in ``text`` (optionally only those starting with ``prefixes``)."""
    names = [m.group(2) for m in _TAG.finditer(text) if not m.group(1)]
    return [n for n in names if not prefixes or n.startswith(prefixes)]
