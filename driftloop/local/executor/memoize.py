"""``memoize``: a template's outputs cached under a key, so a later node with the same key does not run.

On Argo the cache is a ConfigMap (``memoize.cache.configMap.name``) with one entry per key
(``workflow/controller/cache``); here it is a directory per cache name under ``<data_dir>/memoize/``
with one JSON file per key, written atomically, shared by every run on this machine. As on Argo:

- the key (after substitution) must match ``^[a-zA-Z0-9][-a-zA-Z0-9]*$``, else the node errors;
- a hit is an entry younger than ``maxAge`` (any age without one): the node is Succeeded at once with
  the cached outputs and no pod runs (no retry node either);
- a miss runs the template; its outputs are saved only when the node Succeeded.
The node records ``memoization: {hit, key, cacheName}`` (Argo's ``memoizationStatus``).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftloop.errors import WorkflowError
from driftloop.local.executor.result import NodeResult
from driftloop.local.executor.retry import parse_duration
from driftloop.local.executor.template import render, unresolved

__all__ = ["Memo", "load", "memo_of", "save"]

_KEY = re.compile(r"^[a-zA-Z0-9][-a-zA-Z0-9]*$")
_CACHE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")  # a ConfigMap name


@dataclass(frozen=True)
class Memo:
    key: str
    cache: str
    max_age_s: float | None

    def status(self, hit: bool) -> dict[str, Any]:
        return {"hit": hit, "key": self.key, "cacheName": self.cache}


def memo_of(tmpl: Mapping[str, Any], scope: Mapping[str, str]) -> Memo:
    """The template's ``memoize`` with its key rendered; a WorkflowError names what is wrong."""
    spec = tmpl["memoize"] or {}
    where = f"template {tmpl['name']}.memoize"
    key = render(str(spec.get("key", "")), scope)
    left = unresolved(key)
    if left:
        raise WorkflowError(f"{where}.key: cannot resolve {{{{{left[0]}}}}}", "fix the variable name")
    if not _KEY.match(key):
        raise WorkflowError(
            f"invalid cache key: {key}", "a memoize key must match ^[a-zA-Z0-9][-a-zA-Z0-9]*$ (as on Argo)"
        )
    cache = str(((spec.get("cache") or {}).get("configMap") or {}).get("name") or "")
    if not _CACHE.match(cache):
        raise WorkflowError(
            f"{where}.cache.configMap.name: {cache!r} is not a ConfigMap name", "name the cache"
        )
    max_age = spec.get("maxAge")
    age = parse_duration(str(max_age), f"{where}.maxAge") if max_age not in (None, "") else None
    return Memo(key, cache, age)


def _path(root: Path, memo: Memo) -> Path:
    return root / memo.cache / f"{memo.key}.json"


def load(root: Path, memo: Memo) -> dict[str, Any] | None:
    """The cached outputs (``{"result", "parameters", "artifacts", "exitCode"}``) of a hit, else None."""
    try:
        entry = json.loads(_path(root, memo).read_text())
    except (OSError, ValueError):
        return None
    created = entry.get("creationTimestamp")
    if not isinstance(created, int | float) or not isinstance(entry.get("outputs"), dict):
        return None
    if memo.max_age_s is not None and time.time() - created > memo.max_age_s:
        return None
    return dict(entry["outputs"])


def save(root: Path, memo: Memo, node: NodeResult) -> None:
    """Cache a Succeeded node's outputs under the memo's key (atomically: a reader sees old or new)."""
    path = _path(root, memo)
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {
        "nodeID": node.name,
        "creationTimestamp": time.time(),
        "outputs": {
            "result": node.result,
            "parameters": node.parameters,
            "artifacts": node.artifacts,
            "exitCode": node.exit_code,
        },
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".entry-")
    with os.fdopen(fd, "w") as f:
        json.dump(entry, f)
    os.replace(tmp, path)
