"""Run a workflow in the local executor with driftloop's settings.

The executor (:mod:`driftloop.local.executor`) knows nothing of driftloop's configuration or its S3
client: it is given a data directory, an artifact store, the host paths its pods read and the variables
they get. This module is where driftloop's :class:`~driftloop.config.Settings` become those: the S3 store of
the settings, the settings' local paths (data directory, a model's ``code_dir`` and local dataset), and
``DRIFTLOOP_CONFIG`` naming a private copy of exactly this run's settings — steps load their settings at
entry, so each step sees the configuration of the process that started the run, flags included.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from driftloop.config import Settings, export_settings
from driftloop.errors import ConfigError
from driftloop.local.executor import ArtifactStore, NodeResult, WorkflowResult, run_workflow

__all__ = ["run_local", "settings_paths"]


def settings_paths(settings: Settings) -> list[Path]:
    """The absolute local paths the settings name that exist here (the data directory, a model's
    ``code_dir``, a local dataset): pods read them, read-only, at their own path."""
    found: list[Path] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list | tuple):
            for value in node:
                walk(value)
        elif isinstance(node, str | Path) and str(node).startswith("/") and os.path.exists(str(node)[:4096]):
            found.append(Path(node))

    walk(settings.model_dump())
    return found


def _local_keys(settings: Settings) -> None:
    """Make local mode's registry key pair (``<data_dir>/keys``) here, on the host, before the first pod:
    pods see the data directory read-only, so a signing step could not make it."""
    from driftloop.signing import verify_key

    with contextlib.suppress(ConfigError):  # keys configured elsewhere, or none to make: the steps say
        verify_key(settings)


def run_local(
    doc_or_path: Mapping[str, Any] | str | Path,
    parameters: Mapping[str, str] | None,
    settings: Settings,
    *,
    templates_dir: Path | str | None = None,
    on_event: Callable[[NodeResult], None] | None = None,
    artifact_store: ArtifactStore | None = None,
    uid: str | None = None,
) -> WorkflowResult:
    """:func:`~driftloop.local.executor.run_workflow` with what ``settings`` give its pods (see above)."""
    from driftloop.s3 import S3Store

    _local_keys(settings)
    return run_workflow(
        doc_or_path,
        parameters,
        settings,
        templates_dir=templates_dir,
        on_event=on_event,
        artifact_store=artifact_store,
        store_factory=lambda: S3Store(settings),
        pod_env=lambda path: {"DRIFTLOOP_CONFIG": str(export_settings(settings, path))},
        host_paths=settings_paths(settings),
        uid=uid,
    )
