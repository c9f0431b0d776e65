"""Run Hera's runner (``python -m hera.workflows.runner``) with the pod's absolute paths sandboxed.

In a pod, the Hera runner reads input artifacts from ``/tmp/hera-inputs/artifacts/<name>`` (or an
annotated ``path``) and writes outputs under ``hera__outputs_directory`` (``/tmp/hera-outputs``) or an
annotated ``value_from.path``. Locally the executor sets ``hera__outputs_directory`` to the node's sandbox
and starts this module instead of ``hera.workflows.runner``; it maps every other absolute path that an
annotation names into the sandbox (``DRIFTLOOP_SANDBOX``), then calls Hera's own entrypoint unchanged.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _remap(path: str, root: str) -> str:
    if not path.startswith("/") or path.startswith(root):
        return path
    return str(Path(root) / path.lstrip("/"))


def _patch(root: str) -> None:
    from hera.workflows import Artifact, Parameter
    from hera.workflows import artifact as artifact_mod
    from hera.workflows._runner import script_annotations_util as sau
    from hera.workflows._runner import util

    artifact_mod._DEFAULT_ARTIFACT_INPUT_DIRECTORY = _remap("/tmp/hera-inputs/artifacts/", root) + "/"

    def fix(obj: Any) -> None:
        if isinstance(obj, Artifact) and obj.path:
            obj.path = _remap(obj.path, root)
        if isinstance(obj, Parameter) and obj.value_from is not None and obj.value_from.path:
            obj.value_from.path = _remap(obj.value_from.path, root)

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            for a in (*args, *kwargs.values()):
                fix(a)
            return fn(*args, **kwargs)

        return inner

    for name in (
        "get_annotated_output_param",
        "get_annotated_output_artifact",
        "get_annotated_artifact_value",
        "_get_outputs_path",
    ):
        wrapped = wrap(getattr(sau, name))
        setattr(sau, name, wrapped)
        if hasattr(util, name):
            setattr(util, name, wrapped)


def main() -> None:
    """Entry point: ``python -m driftloop.local.executor.hera_shim -e module:function ARGS_FILE``."""
    root = os.environ.get("DRIFTLOOP_SANDBOX")
    if root:
        _patch(root)
    from hera.workflows._runner.util import _run

    _run()


if __name__ == "__main__":
    main()
