"""S3 artifacts with the keys and archive format Argo uses.

Argo's default artifact repository ``keyFormat`` is ``{{workflow.name}}/{{pod.name}}``; an output artifact
is stored under that prefix as ``<artifact name>.tgz`` (a gzipped tar of the path) or, with
``archive: {none: {}}``, as the file itself under its base name. An explicit ``s3.key`` is used as is. An
input artifact that is a gzipped tar is unpacked at its path, as the Argo executor does
(https://argo-workflows.readthedocs.io/en/latest/configure-artifact-repository/ and
https://argo-workflows.readthedocs.io/en/latest/walk-through/artifacts/).
"""

from __future__ import annotations

import io
import shutil
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from driftloop.errors import WorkflowError

__all__ = ["DEFAULT_KEY_FORMAT", "ArtifactStore", "bind_argument", "download", "upload"]

DEFAULT_KEY_FORMAT = "{{workflow.name}}/{{pod.name}}"


def bind_argument(
    arg: Mapping[str, Any], available: Mapping[str, Mapping[str, Any]], where: str
) -> Mapping[str, Any] | None:
    """The artifact an argument passes (its ``from`` already rendered): itself when it names no ``from``,
    else the artifact ``from`` names in ``available`` (narrowed by the argument's ``subPath``), or None for
    a missing ``optional`` one, which Argo simply does not pass."""
    if not arg.get("from"):
        return arg
    found = available.get(str(arg["from"]).strip("{} "))
    if found:
        return {**found, "subPath": arg["subPath"]} if arg.get("subPath") else found
    if arg.get("optional"):
        return None
    raise WorkflowError(
        f"{where}artifact {arg['name']!r}: cannot resolve {arg['from']!r}", "check the reference"
    )


class ArtifactStore(Protocol):
    """What the executor needs from object storage (``driftloop.s3.S3Store`` fits)."""

    def put_bytes(self, key: str, data: bytes) -> Any: ...

    def get_bytes(self, key: str) -> bytes: ...


def _is_none_archive(art: Mapping[str, Any]) -> bool:
    archive = art.get("archive") or {}
    return "none" in archive


def _contained(art: Mapping[str, Any], path: Path, root: Path | None) -> None:
    """Refuse a file of the artifact that leads out of the sandbox ``root`` (a symlink to a host file)."""
    if root is not None and not path.resolve().is_relative_to(root.resolve()):
        raise WorkflowError(
            f"output artifact {art['name']!r}: {path.name} leads out of the pod's sandbox (a symlink)",
            "write the files themselves into the artifact's path",
        )


def upload(
    store: ArtifactStore, art: Mapping[str, Any], local: Path, key_prefix: str, root: Path | None = None
) -> dict[str, Any]:
    """Upload the output artifact at ``local``; returns the artifact as Argo records it (with ``s3.key``).
    With ``root`` (the run's sandbox), nothing outside it is read: a symlink that leads out is refused
    (``archive: none``) or stored as a link (a tarball), never followed."""
    s3 = dict(art.get("s3") or {})
    if local.is_symlink() or local.exists():
        _contained(art, local, root)
    if not local.exists():
        if art.get("optional"):
            return {}
        raise WorkflowError(
            f"output artifact {art['name']!r}: {art.get('path')} was not written by the step",
            "write the file, or mark the artifact optional",
        )
    if _is_none_archive(art):
        key = s3.get("key") or f"{key_prefix}/{local.name}"
        if local.is_dir():
            files = sorted(p for p in local.rglob("*") if p.is_file() or p.is_symlink())
            for f in files:
                _contained(art, f, root)
            for f in files:
                if f.is_file():
                    store.put_bytes(f"{key}/{f.relative_to(local).as_posix()}", f.read_bytes())
        else:
            store.put_bytes(key, local.read_bytes())
    else:
        key = s3.get("key") or f"{key_prefix}/{art['name']}.tgz"
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            tar.add(local, arcname=local.name)
        store.put_bytes(key, buf.getvalue())
    s3["key"] = key
    return {"name": art["name"], "path": art.get("path"), "s3": s3}


def download(store: ArtifactStore, key: str, local: Path) -> None:
    """Fetch ``key`` into ``local``, unpacking a gzipped tar like the Argo executor."""
    data = store.get_bytes(key)
    local.parent.mkdir(parents=True, exist_ok=True)
    if data[:2] != b"\x1f\x8b":
        local.write_bytes(data)
        return
    try:
        with (
            tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar,
            tempfile.TemporaryDirectory(dir=local.parent) as tmp,
        ):
            tar.extractall(tmp, filter="data")
            _place(Path(tmp), local)
    except tarfile.TarError:  # gzip but not a tar: keep the bytes as they are
        local.write_bytes(data)


def download_directory(store: ArtifactStore, key: str, local: Path) -> bool:
    """Fetch every object under the prefix ``key/`` into the directory ``local`` (Argo's S3 driver does this
    for a key that names a directory); False when there is none (or the store cannot list)."""
    lister = getattr(store, "list", None)
    if lister is None:
        return False
    prefix = key.rstrip("/") + "/"
    keys = [k for k in lister(prefix) if not k.endswith("/")]
    if not keys:
        return False
    for k in keys:
        rel = k[len(prefix) :]
        if ".." in Path(rel).parts or rel.startswith("/"):
            raise WorkflowError(f"artifact key {k!r} leads out of the artifact's path", "remove that object")
        target = local / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(store.get_bytes(k))
    return True


def _place(extracted: Path, local: Path) -> None:
    entries = list(extracted.iterdir())
    if local.exists():
        shutil.rmtree(local) if local.is_dir() else local.unlink()
    if len(entries) == 1:  # one file or directory in the archive: it becomes the artifact path
        shutil.move(str(entries[0]), local)
    else:
        shutil.copytree(extracted, local)
