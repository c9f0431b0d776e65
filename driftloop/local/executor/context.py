"""What a template runner (:mod:`.dag`, :mod:`.steps`, :mod:`.pod`, :mod:`.suspend`, :mod:`.task`,
:mod:`.hooks`) may ask of the run it works for.

:class:`.engine.Run` implements it and dispatches to those runners; they see only this protocol, so
the import graph stays one-way (engine → runners → context) — the runners never import the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any, Protocol

from driftloop.local.executor.artifacts import ArtifactStore
from driftloop.local.executor.result import NodeResult

__all__ = ["Guard", "RunContext"]


class Guard(Protocol):
    """What a template's children report to (:class:`.task.Pool`): its ``failFast``."""

    @property
    def tripped(self) -> bool: ...

    def report(self, node: NodeResult) -> None: ...


class RunContext(Protocol):
    """One workflow run as its template runners use it (state shared between threads; see engine).
    The attributes are read-only here: runners mutate the run through its methods and containers."""

    @property
    def name(self) -> str: ...

    @property
    def spec(self) -> Mapping[str, Any]: ...

    @property
    def templates(self) -> Mapping[str, Mapping[str, Any]]: ...

    @property
    def sandbox_root(self) -> Path: ...

    @property
    def logs_dir(self) -> Path: ...

    @property
    def deadline(self) -> float | None: ...

    @property
    def checkpoint(self) -> Callable[[], object]: ...

    @property
    def pod_env(self) -> dict[str, str]: ...

    @property
    def host_paths(self) -> list[Path]: ...

    @property
    def exit_args(self) -> dict[str, Any]: ...

    @property
    def global_artifacts(self) -> dict[str, Mapping[str, Any]]: ...

    def cancelled(self) -> bool: ...

    def check_cancel(self) -> None: ...

    def store(self) -> ArtifactStore: ...

    def note_image(self, image: str | None) -> None: ...

    def emit(self, node: NodeResult) -> None: ...

    def global_scope(self) -> dict[str, str]: ...

    def set_global(self, key: str, value: str) -> None: ...

    def new_node(self, name: str, display: str, type_: str, template: str | None) -> NodeResult: ...

    def finish(self, node: NodeResult, phase: str, message: str = "") -> NodeResult: ...

    def remaining(self) -> float | None: ...

    def template(self, name: str) -> Mapping[str, Any]: ...

    def run_template(
        self,
        tmpl_name: str,
        node_name: str,
        display: str,
        params: Mapping[str, str],
        artifacts: Mapping[str, Mapping[str, Any]],
        guard: Guard | None = None,
    ) -> NodeResult: ...

    def template_outputs(
        self,
        tmpl: Mapping[str, Any],
        node: NodeResult,
        scope: Mapping[str, str],
        art_scope: Mapping[str, Mapping[str, Any]],
        absent: Collection[str] = (),
    ) -> None: ...
