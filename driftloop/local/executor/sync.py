"""``synchronization`` mutexes and semaphores as file locks under ``<data_dir>/locks``.

A lock file per rendered mutex name, held with ``fcntl.flock`` for the duration of the workflow (or
template), so two runs that use one mutex serialise — also across processes, as on Argo where the
controller holds ``<namespace>/Mutex/<name>``. The OS drops the lock if the process dies.

A semaphore's limit lives in a ConfigMap key on a cluster (``configMapKeyRef``), which local mode does not
have: locally every semaphore has a limit of **1** — it serialises its holders like a mutex named after
the ConfigMap and key. That is never less safe than the cluster's limit, only slower.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from driftloop.errors import WorkflowError

__all__ = ["hold_mutexes", "mutex_names"]


def mutex_names(sync: Mapping[str, Any] | None, field: str) -> list[str]:
    """Lock names of a ``synchronization`` block: its mutexes, and its semaphores (limit 1 locally)."""
    if not sync:
        return []
    unknown = set(sync) - {"mutex", "mutexes", "semaphore", "semaphores"}
    if unknown:
        raise WorkflowError(
            f"{field}.{sorted(unknown)[0]} is not supported by the local executor",
            "use a mutex, or run the workflow on Argo",
        )
    items = list(sync.get("mutexes") or [])
    if sync.get("mutex"):
        items.append(sync["mutex"])
    names = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping) or not item.get("name"):
            raise WorkflowError(f"{field}.mutexes[{i}] has no name", "give each mutex a name")
        names.append(str(item["name"]))
    semaphores = list(sync.get("semaphores") or [])
    if sync.get("semaphore"):
        semaphores.append(sync["semaphore"])
    for i, item in enumerate(semaphores):
        ref = item.get("configMapKeyRef") if isinstance(item, Mapping) else None
        if not isinstance(ref, Mapping) or not ref.get("name") or not ref.get("key"):
            raise WorkflowError(
                f"{field}.semaphores[{i}] needs configMapKeyRef.name and .key",
                "name the ConfigMap key that holds the limit (the limit is 1 locally)",
            )
        names.append(f"semaphore/{ref['name']}/{ref['key']}")
    return names


def _lock_path(lock_dir: Path, name: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:80]
    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    return lock_dir / f"mutex-{safe}-{digest}.lock"


@contextlib.contextmanager
def hold_mutexes(
    lock_dir: Path,
    names: list[str],
    on_wait: Callable[[str], None] | None = None,
    poll: float = 0.05,
    cancelled: Callable[[], None] | None = None,
) -> Iterator[None]:
    """Hold every named mutex (acquired in sorted order, so two runs never deadlock). ``cancelled`` is
    called while waiting: it raises to give up (a cancelled run)."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    fds: list[int] = []
    try:
        for name in sorted(set(names)):
            fd = os.open(_lock_path(lock_dir, name), os.O_RDWR | os.O_CREAT, 0o644)
            fds.append(fd)
            waited = False
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if not waited and on_wait:
                        on_wait(name)
                    waited = True
                    if cancelled is not None:
                        cancelled()
                    time.sleep(poll)
        yield
    finally:
        for fd in reversed(fds):
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
