"""Volumes, emulated inside the run's sandbox — never the host path a workflow names.

Each mount is a directory of the sandbox, bound at its ``mountPath`` in the pod's mount namespace
(:mod:`.isolation`), so the command uses the path as written and nothing reaches the host's own
``mountPath``:

* ``emptyDir`` — a fresh directory per pod, as on Kubernetes;
* ``persistentVolumeClaim`` and ``spec.volumeClaimTemplates`` — one directory per claim for the whole
  run, shared by every pod that mounts it (how workflows pass files between steps on a volume);
* ``configMap`` / ``secret`` marked ``optional: true`` — an empty directory (what a pod sees when the
  object is missing);

anything else (``hostPath``, a required ``configMap``/``secret``, NFS, CSI, ...) needs a cluster and is
refused when the workflow is loaded (:func:`check_volumes`), naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from driftloop.errors import WorkflowError

__all__ = ["check_volumes", "inside", "local_path", "mount_mapping", "no_dotdot"]

_PER_POD = ("emptyDir",)
_SHARED = ("persistentVolumeClaim",)
_OPTIONAL_OBJECTS = ("configMap", "secret")


def _refuse(where: str, what: str) -> WorkflowError:
    return WorkflowError(
        " ".join(
            p for p in (where, what, "is not supported by the local executor (it needs a cluster)") if p
        ),
        "remove it or run the workflow on Argo (`driftloop workflow submit`)",
    )


def _check_volume(volume: Mapping[str, Any], where: str) -> None:
    kinds = [k for k in volume if k != "name"]
    if len(kinds) != 1:
        raise WorkflowError(f"{where} needs exactly one volume source", "fix the volume")
    kind = kinds[0]
    if kind in _PER_POD or kind in _SHARED:
        return
    if kind in _OPTIONAL_OBJECTS and (volume.get(kind) or {}).get("optional") is True:
        return
    if kind in _OPTIONAL_OBJECTS:
        raise _refuse(f"{where}.{kind}", "(a required ConfigMap/Secret)")
    raise _refuse(f"{where}.{kind}", "")


def check_volumes(spec: Mapping[str, Any]) -> None:
    """Refuse volumes that cannot be emulated, and mounts of volumes nobody declares."""
    declared = {str(c.get("metadata", {}).get("name")) for c in spec.get("volumeClaimTemplates") or []}
    for i, volume in enumerate(spec.get("volumes") or []):
        _check_volume(volume, f"spec.volumes[{i}]")
        declared.add(str(volume.get("name")))
    for i, tmpl in enumerate(spec.get("templates") or []):
        own = set(declared)
        for j, volume in enumerate(tmpl.get("volumes") or []):
            _check_volume(volume, f"spec.templates[{i}].volumes[{j}]")
            own.add(str(volume.get("name")))
        for kind in ("container", "script"):
            for j, mount in enumerate((tmpl.get(kind) or {}).get("volumeMounts") or []):
                if str(mount.get("name")) not in own:
                    raise WorkflowError(
                        f"spec.templates[{i}].{kind}.volumeMounts[{j}] mounts {mount.get('name')!r}, "
                        "which no volume declares",
                        "declare it under volumes or volumeClaimTemplates",
                    )


def mount_mapping(
    tmpl: Mapping[str, Any],
    spec: Mapping[str, Any],
    mounts: Sequence[Mapping[str, Any]],
    pod_sandbox: Path,
    run_sandbox: Path,
) -> list[tuple[str, str]]:
    """``(mountPath, directory)`` for each mount of a pod, creating the directories."""
    volumes = {str(v["name"]): v for v in spec.get("volumes") or []}
    volumes.update({str(v["name"]): v for v in tmpl.get("volumes") or []})
    claims = {str(c.get("metadata", {}).get("name")) for c in spec.get("volumeClaimTemplates") or []}
    out = []
    for mount in mounts:
        name, path = str(mount["name"]), no_dotdot(str(mount["mountPath"]), "volumeMounts.mountPath")
        no_dotdot(str(mount.get("subPath") or ""), "volumeMounts.subPath")
        volume = volumes.get(name, {})
        if name in claims or "persistentVolumeClaim" in volume:
            base = run_sandbox / "volumes" / name  # shared by the run's pods
        else:  # per pod: one directory a volume, however many times the pod mounts it
            base = pod_sandbox / ".volumes" / name
        target = base / str(mount["subPath"]) if mount.get("subPath") else base
        if not inside(target, run_sandbox):  # a symlink an earlier pod left in a shared claim
            raise WorkflowError(
                f"volumeMounts {name!r} subPath {mount.get('subPath')!r} leads out of the run's sandbox "
                "(a symlink)",
                "mount a directory of the volume, not a link",
            )
        target.mkdir(parents=True, exist_ok=True)
        out.append((path.rstrip("/") or "/", str(target)))
    return out


def no_dotdot(path: str, where: str) -> str:
    """``path`` unless a component of it is ``..``, which would lead out of the sandbox (a WorkflowError
    naming ``where``)."""
    if ".." in PurePosixPath(path).parts:
        raise WorkflowError(
            f"{where} {path!r} contains '..'",
            "give the path without '..' (a pod's paths stay in its sandbox)",
        )
    return path


def inside(path: Path, root: Path) -> bool:
    """Whether ``path``, with every symlink resolved, is ``root`` or under it."""
    return path.resolve().is_relative_to(root.resolve())


def local_path(path: str, pod_sandbox: Path, mounts: Sequence[tuple[str, str]], where: str = "path") -> Path:
    """Where the pod's ``path`` lives on this machine: under the mount that holds it, else in the pod's
    sandbox. A path with ``..`` is refused (``where`` names its field)."""
    no_dotdot(path, where)
    for mount_path, target in sorted(mounts, key=lambda m: -len(m[0])):
        if path == mount_path or path.startswith(mount_path.rstrip("/") + "/"):
            return Path(target) / path[len(mount_path) :].lstrip("/")
    return pod_sandbox / path.lstrip("/")
