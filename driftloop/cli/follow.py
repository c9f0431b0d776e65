"""Follow the progress lines of a local run's running steps, as ``argo logs --follow`` would show them.

A step says what it waits for on the ``driftloop.progress`` logger (:mod:`workflows.deploy.progress`:
a canary window's requests, labels, time left, and that no model server serves the model). The local
executor writes each pod's output to its log file; :class:`ProgressFollower` reads the files of the pods
that run and prints those lines, so ``driftloop retrain`` never waits in silence.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from driftloop.local.executor import NodeResult

__all__ = ["MARK", "ProgressFollower"]

#: How a progress line reads in a step's log: ``<time> driftloop.progress <message>``.
MARK = " driftloop.progress "


class ProgressFollower:
    """Prints the progress lines of every running pod's log, ``emit("<step>: <message>")``."""

    def __init__(self, emit: Callable[[str], None], poll_s: float = 0.5) -> None:
        self.emit, self.poll_s = emit, poll_s
        self._nodes: dict[str, NodeResult] = {}
        self._offsets: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="driftloop-follow", daemon=True)

    def __enter__(self) -> ProgressFollower:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._read_all()

    def on_event(self, node: NodeResult) -> None:
        """The executor's ``on_event``: follow a pod while it runs, read it to the end when it stops."""
        if node.type != "Pod":
            return
        with self._lock:
            if node.phase in ("Pending", "Running"):
                self._nodes[node.name] = node
            elif node.name in self._nodes:
                self._read(self._nodes.pop(node.name))

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            self._read_all()

    def _read_all(self) -> None:
        with self._lock:
            for node in list(self._nodes.values()):
                self._read(node)

    def _read(self, node: NodeResult) -> None:
        if not node.log:
            return
        start = self._offsets.get(node.name, 0)
        with contextlib.suppress(OSError):
            with Path(node.log).open("rb") as fh:
                fh.seek(start)
                data = fh.read()
            complete = data[: data.rfind(b"\n") + 1]  # a line still being written waits for the next read
            self._offsets[node.name] = start + len(complete)
            for line in complete.decode("utf-8", errors="replace").splitlines():
                _, mark, message = line.partition(MARK)
                if mark:
                    self.emit(f"{node.display_name}: {message}")
