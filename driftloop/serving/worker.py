"""The shape the inference log and the shadow mirror share: one background thread serving a bounded queue
that the request path fills without ever waiting.

A full queue drops the item and counts it (:meth:`QueueWorker._drop`), so a slow consumer never slows a
request; :meth:`QueueWorker.stop` gives the thread ``timeout_s`` to finish what is queued and counts the rest
as dropped — nothing leaves silently.
"""

from __future__ import annotations

import queue
import threading
from typing import Generic, TypeVar

__all__ = ["QueueWorker"]

T = TypeVar("T")


class QueueWorker(Generic[T]):
    #: The background thread's name (seen in thread dumps and the thread-leak tests).
    thread_name = "queue-worker"

    def __init__(self, queue_size: int) -> None:
        self._queue: queue.Queue[T] = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: set by stop(): a late submit (a mirror that outlived the shadow's grace, say) is counted as
        #: dropped instead of waiting in a queue nobody serves
        self._closed = False

    def submit(self, item: T) -> bool:
        """Queue ``item``; False (and counted as dropped) when the queue is full or the worker stopped."""
        if self._closed:
            self._drop([item])
            return False
        try:
            self._queue.put_nowait(item)
            return True
        except queue.Full:
            self._drop([item])
            return False

    def start(self) -> None:
        if self._thread is None:
            self._closed = False
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Let the thread finish what is queued (up to ``timeout_s``), then count what is left as dropped."""
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        self._drop(self._drain())

    def _drain(self) -> list[T]:
        out: list[T] = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out

    def _run(self) -> None:
        """The thread's loop: serve the queue until ``_stop`` is set and the queue is empty."""
        raise NotImplementedError

    def _drop(self, items: list[T]) -> None:
        """Count ``items`` as dropped (each worker has its own counter)."""
        raise NotImplementedError
