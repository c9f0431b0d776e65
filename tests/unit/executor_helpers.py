"""What the executor's unit tests share: a workflow around templates, a shell template (the ``settings``
fixture they use is in ``conftest.py``)."""

from __future__ import annotations

from typing import Any

__all__ = ["SHARED", "SHARED_CLAIM", "MemoryStore", "sh", "shared", "workflow"]


def workflow(
    templates: list[dict[str, Any]], entry: str = "main", name: str = "t", **spec: Any
) -> dict[str, Any]:
    """A Workflow named ``name`` that starts at template ``entry``."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": name},
        "spec": {"entrypoint": entry, "templates": templates, **spec},
    }


def sh(name: str, cmd: str, **extra: Any) -> dict[str, Any]:
    """A container template running ``cmd`` with ``sh -c``."""
    return {"name": name, "container": {"image": "alpine", "command": ["sh", "-c"], "args": [cmd]}, **extra}


class MemoryStore:
    """An artifact store in memory (the executor's ``ArtifactStore``): for unit tests of artifact passing
    that need no S3; the integration tests use the embedded S3."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put_bytes(self, key: str, data: bytes) -> None:
        self.objects[key] = data

    def get_bytes(self, key: str) -> bytes:
        return self.objects[key]


#: Where :func:`shared` mounts the run's ``shared`` claim: how the pods of one run share a file (a pod's
#: other writes stay in its sandbox, as on Argo).
SHARED = "/shared"


def shared(container: dict[str, Any]) -> dict[str, Any]:
    """``container`` (or a script) with the run's ``shared`` claim mounted at :data:`SHARED`; the workflow
    needs ``**SHARED_CLAIM``."""
    container["volumeMounts"] = [*container.get("volumeMounts", []), {"name": "shared", "mountPath": SHARED}]
    return container


SHARED_CLAIM: dict[str, Any] = {
    "volumeClaimTemplates": [{"metadata": {"name": "shared"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]
}
