"""Build an OCI image archive without Docker, for `ctr -n k8s.io images import`.

One layer: a tar of a root filesystem directory (or of single files placed at paths), then the image
config, the manifest and an index.json naming the image with its fully qualified reference in the
``io.containerd.image.name`` annotation (containerd would otherwise try to resolve a short name against a
registry). The layer is an uncompressed tar so its digest is also its diff_id.

Usage:
    python oci.py OUT.tar NAME [--rootfs DIR] [--file SRC:DEST[:MODE]]... [--entrypoint JSON]
                  [--cmd JSON] [--env K=V]... [--user UID] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import tarfile
import tempfile
from pathlib import Path


def _add_tree(tar: tarfile.TarFile, root: Path) -> None:
    """Add every entry under root (not following symlinks), with its owner and mode, sorted."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            arc = str(path.relative_to(root))
            info = tar.gettarinfo(str(path), arcname=arc)
            if info.isreg():
                with open(path, "rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)


def _add_file(tar: tarfile.TarFile, src: Path, dest: str, mode: int) -> None:
    parts = dest.strip("/").split("/")
    for i in range(1, len(parts)):
        d = "/".join(parts[:i])
        if d not in tar.getnames():
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)
    data = src.read_bytes()
    info = tarfile.TarInfo("/".join(parts))
    info.size = len(data)
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


def build(
    out: Path, name: str, rootfs: Path | None, files: list[tuple[Path, str, int]], config: dict[str, object]
) -> str:
    """Write the archive; return the manifest digest."""
    blobs: dict[str, bytes] = {}

    def blob(data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        return digest

    with tempfile.TemporaryFile() as layer_file:
        with tarfile.open(fileobj=layer_file, mode="w", format=tarfile.PAX_FORMAT) as tar:
            if rootfs is not None:
                _add_tree(tar, rootfs)
            for src, dest, mode in files:
                _add_file(tar, src, dest, mode)
        layer_file.seek(0)
        layer = layer_file.read()
    layer_digest = blob(layer)
    image_config = {
        "architecture": "amd64",
        "os": "linux",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    }
    config_bytes = json.dumps(image_config, sort_keys=True).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": blob(config_bytes),
            "size": len(config_bytes),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": layer_digest,
                "size": len(layer),
            }
        ],
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True).encode()
    manifest_digest = blob(manifest_bytes)
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest,
                "size": len(manifest_bytes),
                "annotations": {
                    "io.containerd.image.name": name,
                    "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1],
                },
            }
        ],
    }
    tmp = out.with_suffix(".part")
    with tarfile.open(tmp, mode="w") as tar:

        def put(arc: str, data: bytes) -> None:
            info = tarfile.TarInfo(arc)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))

        put("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        put("index.json", json.dumps(index).encode())
        for digest, data in blobs.items():
            put("blobs/sha256/" + digest.split(":", 1)[1], data)
    tmp.replace(out)
    return manifest_digest


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("name", help="fully qualified reference, e.g. ghcr.io/driftloop/driftloop:0.1.0")
    p.add_argument("--rootfs", type=Path)
    p.add_argument("--file", action="append", default=[], help="SRC:DEST[:OCTAL_MODE]")
    p.add_argument("--entrypoint")
    p.add_argument("--cmd")
    p.add_argument("--env", action="append", default=[])
    p.add_argument("--user")
    p.add_argument("--workdir")
    a = p.parse_args()
    registry = a.name.split("/")[0]
    if "/" not in a.name or ("." not in registry and registry != "localhost"):
        raise SystemExit(f"error: image name {a.name} is not fully qualified — give REGISTRY/REPO:TAG")
    files = []
    for spec in a.file:
        src, dest, *mode = spec.split(":")
        files.append((Path(src), dest, int(mode[0], 8) if mode else 0o755))
    env = list(a.env)
    if not any(e.startswith("PATH=") for e in env):
        env.insert(0, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    config: dict[str, object] = {"Env": env}
    if a.entrypoint:
        config["Entrypoint"] = json.loads(a.entrypoint)
    if a.cmd:
        config["Cmd"] = json.loads(a.cmd)
    if a.user:
        config["User"] = a.user
    if a.workdir:
        config["WorkingDir"] = a.workdir
    digest = build(a.out, a.name, a.rootfs, files, config)
    print(f"oci: {a.name} -> {a.out} ({digest[:19]})")


if __name__ == "__main__":
    main()
