"""Stopping a run from outside it: ``driftloop runs cancel``, ``driftloop up`` stopping, a signal.

A run is stopped by a *request*, never by signalling a process: ``runs cancel NAME`` writes the file
``<data_dir>/runs/NAME/CANCEL`` and whichever process runs it (``driftloop workflow run``, ``retrain`` or
``up``, which may run several) sees it at its next poll; ``up`` cancels every run it has with
:func:`cancel_all` before it stops its components. Signalling the run's owner PID, as before, stopped
``driftloop up`` itself when the run was one of the sensor's.

A cancelled run's running steps are stopped (their process group), nothing new starts, the run ends
``Failed`` ("interrupted") and its exit handler still runs, as on Argo after ``argo stop``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

__all__ = [
    "CANCEL",
    "RunCancelled",
    "cancel_all",
    "closing",
    "is_closing",
    "register",
    "request_cancel",
    "unregister",
    "wait_idle",
]

#: the request file in a run's directory
CANCEL = "CANCEL"


class RunCancelled(KeyboardInterrupt):
    """Raised in a run's threads once it is cancelled; the run ends as after Ctrl-C (exit handler runs).
    A KeyboardInterrupt, so the paths that already handle Ctrl-C handle it, and no ``except Exception``
    on the way swallows it."""


class _Cancellable(Protocol):
    name: str

    def request_cancel(self) -> None: ...


_lock = threading.Lock()
_active: dict[int, _Cancellable] = {}
_idle = threading.Condition(_lock)
_closing = 0


@contextlib.contextmanager
def closing() -> Iterator[None]:
    """While the block runs (``up`` stopping), a run that starts is cancelled at once and
    :func:`is_closing` tells the run queues not to start their next run."""
    global _closing
    with _lock:
        _closing += 1
    try:
        yield
    finally:
        with _lock:
            _closing -= 1


def is_closing() -> bool:
    return _closing > 0


def register(run: _Cancellable) -> None:
    with _lock:
        _active[id(run)] = run
        late = _closing > 0
    if late:
        run.request_cancel()


def unregister(run: _Cancellable) -> None:
    with _lock:
        _active.pop(id(run), None)
        _idle.notify_all()


def cancel_all() -> list[str]:
    """Cancel every run of this process; returns their names."""
    with _lock:
        runs = list(_active.values())
    for run in runs:
        run.request_cancel()
    return [r.name for r in runs]


def wait_idle(timeout_s: float) -> list[str]:
    """Wait until no run of this process is left (their exit handlers ran); returns those still running."""
    deadline = time.monotonic() + timeout_s
    with _lock:
        while _active and time.monotonic() < deadline:
            _idle.wait(max(0.0, min(1.0, deadline - time.monotonic())))
        return [r.name for r in _active.values()]


def request_cancel(run_dir: Path) -> None:
    """Ask the process running the run recorded in ``run_dir`` to cancel it."""
    path = Path(run_dir) / CANCEL
    tmp = path.with_suffix(".tmp")
    tmp.write_text(str(time.time()))
    tmp.replace(path)
