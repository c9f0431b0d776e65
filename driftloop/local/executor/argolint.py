"""Argo's own submit-time validation before a local run: ``argo lint --offline`` when the Argo CLI is on PATH.

The executor checks what it runs itself (:mod:`.model`), but Argo refuses more at submit — e.g.
``depends: "a.AnySucceeded"`` on a task without a loop. When ``argo`` is on ``PATH`` (``make engines``
builds it into ``.bin/``), every Workflow is linted offline before it starts, together with the
WorkflowTemplates it references from the templates directory, and Argo's message is the refusal. Without
the CLI the executor's own checks stand alone.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from driftloop.errors import WorkflowError

__all__ = ["argo_cli", "lint"]

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@cache
def argo_cli() -> str | None:
    """The Argo CLI on PATH, if any (looked up once per process)."""
    return shutil.which("argo")


def _refs(node: Any) -> Iterator[str]:
    """The WorkflowTemplate names a document references (``workflowTemplateRef``, ``templateRef``)."""
    if isinstance(node, Mapping):
        for key in ("workflowTemplateRef", "templateRef"):
            ref = node.get(key)
            if isinstance(ref, Mapping) and ref.get("name") and not ref.get("clusterScope"):
                yield str(ref["name"])
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def lint(doc: Mapping[str, Any], find_template: Callable[[str], Mapping[str, Any]]) -> None:
    """Raise a WorkflowError with Argo's message when ``argo lint --offline`` refuses ``doc``;
    ``find_template`` gives a referenced WorkflowTemplate by name."""
    cli = argo_cli()
    if cli is None:
        return
    docs: dict[str, Mapping[str, Any]] = {}
    todo = list(_refs(doc))
    while todo:
        name = todo.pop()
        if name in docs:
            continue
        try:
            docs[name] = find_template(name)
        except WorkflowError:
            continue  # the executor reports a missing template itself
        todo.extend(_refs(docs[name]))
    with tempfile.TemporaryDirectory(prefix="driftloop-lint-") as tmp:
        paths = []
        for i, d in enumerate([doc, *docs.values()]):
            path = Path(tmp) / f"{i}.yaml"
            path.write_text(yaml.safe_dump(dict(d), sort_keys=False))
            paths.append(str(path))
        try:
            proc = subprocess.run(
                [cli, "lint", "--offline", "--no-color", "-o", "simple", *paths],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise WorkflowError(
                f"argo lint could not run: {exc}", "fix or remove the `argo` on PATH"
            ) from None
    if proc.returncode == 0:
        return
    out = _ANSI.sub("", proc.stdout + proc.stderr)
    lines = [
        ln.split(": ", 1)[-1].strip() for ln in out.splitlines() if ln.strip() and "linting errors" not in ln
    ]
    raise WorkflowError(
        f"argo lint refuses the workflow: {'; '.join(lines) or out.strip()}",
        "fix it as Argo says (Argo would refuse it at submit)",
    )
