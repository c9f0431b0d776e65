"""Each pod in its own mount namespace (bubblewrap), so its command sees the paths Argo would give it.

A pod's filesystem is built like a container's, with the pod's sandbox directory as its root:

* ``/`` is the sandbox (writable, private): ``/tmp``, ``/argo/staging/script`` and any path under a top-level
  directory the host does not have (``/out.txt``, ``/data/x``) are files of the sandbox;
* every other top-level directory of the host (``/usr``, ``/etc``, ``/home``, ``/var``, ...) is bound
  **read-only**, so programs, the virtualenv and the checkout are there and a write to them fails (EROFS);
* a declared path (output parameter ``valueFrom.path``, artifact ``path``) under such a directory gets a
  private directory of the sandbox bound over the deepest part of its directory the host has (``/var/tmp``
  for ``/var/tmp/out.txt``; ``/mnt`` for ``/mnt/out/part.json`` when the host has no ``/mnt/out``), and so
  does a ``workingDir`` the host lacks;
* each volume mount is its emulated directory (:mod:`.volumes`) bound at its ``mountPath``;
* a few host paths a step needs are bound read-only where they would be hidden (the virtualenv, the
  checkout, the data directory with the run's settings);
* fresh ``/proc`` and ``/dev``; the network is shared (steps reach the embedded Kafka and S3 on loopback).

The pod runs in a user namespace where the kernel allows one and with no capabilities, so it cannot
remount the read-only binds; the process group, the parent-death signal and exit codes (128 + N for a
signal) are those of the process the runner starts. On the host the outputs are read from the sandbox
directory afterwards, never following a symlink out of it (see :mod:`.pod`).
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from driftloop.errors import WorkflowError

__all__ = ["HINT", "Layout", "check", "command", "pod_dirs", "refusal", "unavailable"]

logger = logging.getLogger(__name__)

BWRAP = "bwrap"
#: Top-level host entries a pod never gets from the host: its own /tmp, and fresh /proc and /dev.
_NOT_FROM_HOST = frozenset({"tmp", "proc", "dev", "lost+found"})
HINT = "run `make sandbox` (installs bubblewrap), or run the workflow on Argo (`driftloop workflow submit`)"


@dataclass
class Layout:
    """What a pod's namespace holds besides the host's read-only directories."""

    root: Path  # the pod's sandbox directory: the pod's `/`
    private: set[str] = field(default_factory=set)  # pod directories that must be the pod's own
    mounts: list[tuple[str, str]] = field(default_factory=list)  # (mountPath, host directory)
    host: list[Path] = field(default_factory=list)  # host paths the pod reads at the same path


def _parts(path: str) -> tuple[str, ...]:
    return tuple(p for p in PurePosixPath(path).parts if p != "/")


def _host_dir(parts: Sequence[str]) -> bool:
    p = "/" + "/".join(parts)
    return os.path.isdir(p) and not os.path.islink(p)


def _host_tops() -> list[str]:
    return sorted(n for n in os.listdir("/") if n not in _NOT_FROM_HOST)


def _area(path: str, tops: Iterable[str]) -> tuple[str, ...] | None:
    """The pod directory to make private so that ``path`` (a directory) can be made and written: the
    deepest part of it that the host has, under a top-level directory bound from the host; None when the
    path is the sandbox's own already."""
    parts = _parts(path)
    if not parts or parts[0] not in set(tops) or not _host_dir(parts[:1]):
        return None
    depth = max(i for i in range(1, len(parts) + 1) if _host_dir(parts[:i]))
    return parts[:depth]


def pod_dirs(paths: Iterable[str]) -> set[str]:
    """The directories of declared absolute pod paths (``/mnt/out`` for ``/mnt/out/part.json``)."""
    return {str(PurePosixPath(p).parent) for p in paths if p.startswith("/")}


def _under(parts: Sequence[str], base: Sequence[str]) -> bool:
    return tuple(parts[: len(base)]) == tuple(base)


def command(layout: Layout, argv: Sequence[str], workdir: str) -> list[str]:
    """The bubblewrap command line that runs ``argv`` in ``workdir`` inside the pod's namespace; makes the
    sandbox directories it binds."""
    root = layout.root
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    tops = _host_tops()
    ops: list[tuple[int, list[str]]] = []  # (depth, bwrap args): parents are mounted before children
    for name in tops:
        p = "/" + name
        if os.path.islink(p):
            target, mine = os.readlink(p), root / name
            if mine.is_symlink() and os.readlink(mine) == target:
                continue  # made for an earlier process of this pod (bwrap refuses to make it again)
            if mine.is_symlink():
                mine.unlink()
            ops.append((1, ["--symlink", target, p]))
        elif os.path.isdir(p):
            ops.append((1, ["--ro-bind", p, p]))
    mounts = [(_parts(m), t) for m, t in layout.mounts]
    areas: set[tuple[str, ...]] = set()
    for d in (*layout.private, *(m for m, _ in layout.mounts)):
        a = _area(d, tops)
        if a is not None and not any(_under(a, m) for m, _ in mounts if m):
            areas.add(a)
    for a in areas:
        (root / "/".join(a)).mkdir(parents=True, exist_ok=True)
        ops.append((len(a), ["--bind", str(root / "/".join(a)), "/" + "/".join(a)]))
    for m, target in mounts:
        ops.append((len(m), ["--bind", target, "/" + "/".join(m)]))
    sandbox_parts = _parts(str(root.resolve()))
    for h in layout.host:
        hp = _parts(str(h))
        hidden = not hp or hp[0] not in tops or any(_under(hp, a) for a in areas)
        # A host path that holds the sandbox (or /tmp) is never exposed: it would show the host's files.
        if hidden and hp and h.exists() and not _under(sandbox_parts, hp) and hp != ("tmp",):
            ops.append((len(hp), ["--ro-bind", str(h), str(h)]))
    ops.sort(key=lambda o: o[0])  # stable: at one depth, in the order above
    out = [BWRAP, "--unshare-user-try", "--cap-drop", "ALL", "--die-with-parent", "--bind", str(root), "/"]
    for _, op in ops:
        out += op
    out += ["--proc", "/proc", "--dev", "/dev", "--chdir", workdir, "--", *argv]
    return out


@functools.cache
def unavailable() -> str | None:
    """Why pods cannot be isolated on this machine (None when they can): probed once, by running ``true``
    in a namespace built as for a pod."""
    if not sys.platform.startswith("linux"):
        return f"pods are isolated with Linux mount namespaces; this is {sys.platform}"
    if shutil.which(BWRAP) is None:
        return "bubblewrap (`bwrap`) is not installed"
    with tempfile.TemporaryDirectory(prefix="driftloop-probe-") as tmp:
        argv = command(Layout(Path(tmp), private={"/mnt/probe"}), ["true"], "/")
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"`bwrap` could not run: {exc}"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["exit code " + str(done.returncode)])[-1]
        return f"`bwrap` cannot make a mount namespace here ({last})"
    return None


def _declared(tmpl: Mapping[str, Any]) -> Iterator[str]:
    """The fields of a template that name a pod path or mount a volume."""
    outputs = tmpl.get("outputs") or {}
    for j, p in enumerate(outputs.get("parameters") or []):
        if (p.get("valueFrom") or {}).get("path"):
            yield f"outputs.parameters[{j}].valueFrom.path"
    for io in ("inputs", "outputs"):
        for j, a in enumerate((tmpl.get(io) or {}).get("artifacts") or []):
            if a.get("path"):
                yield f"{io}.artifacts[{j}].path"
    for kind in ("container", "script"):
        for j, _ in enumerate((tmpl.get(kind) or {}).get("volumeMounts") or []):
            yield f"{kind}.volumeMounts[{j}]"


@functools.cache
def _say_once(reason: str) -> None:
    logger.warning("pods are not isolated on this machine: %s — %s", reason, HINT)


def check(spec: Mapping[str, Any]) -> None:
    """Where pods cannot be isolated, say so once and refuse a workflow whose pods name a path (outputs,
    input artifacts, volume mounts): run on the host, they would read and write the host's own files."""
    reason = unavailable()
    if reason is None:
        return
    _say_once(reason)
    for i, tmpl in enumerate(spec.get("templates") or []):
        for where in _declared(tmpl):
            raise refusal(f"spec.templates[{i}].{where}", reason)


def refusal(where: str, reason: str) -> WorkflowError:
    """The error for a field that needs an isolated pod."""
    return WorkflowError(f"{where} needs an isolated pod, and {reason}", HINT)
