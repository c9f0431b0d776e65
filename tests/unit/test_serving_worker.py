"""The queue worker under the inference log and the shadow mirror: never blocks a request, loses nothing
silently."""

from __future__ import annotations

import queue
import threading

from driftloop.serving.worker import QueueWorker


class _Slow(QueueWorker[int]):
    """Takes one item, then waits for ``release`` before finishing it."""

    thread_name = "test-slow-worker"

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.release = threading.Event()
        self.taken = threading.Event()
        self.done: list[int] = []
        self.dropped: list[int] = []

    def _run(self) -> None:
        while not (self._stop.is_set() and self._queue.empty()):
            try:
                item = self._queue.get(timeout=0.05)
            except queue.Empty:
                continue
            self.taken.set()
            self.release.wait(5)
            self.done.append(item)

    def _drop(self, items: list[int]) -> None:
        self.dropped.extend(items)


def test_a_full_queue_drops_and_counts_without_waiting() -> None:
    w = _Slow(size=2)
    w.start()
    try:
        assert w.submit(1)
        assert w.taken.wait(5)  # 1 is being worked on; the queue holds 2 more
        assert w.submit(2) and w.submit(3)
        assert w.submit(4) is False and w.dropped == [4]
    finally:
        w.release.set()
        w.stop(5)
    assert w.done == [1, 2, 3] and w.dropped == [4]


def test_stop_counts_what_the_thread_could_not_finish_as_dropped() -> None:
    w = _Slow(size=10)
    w.start()
    for i in range(4):
        w.submit(i)
    assert w.taken.wait(5)
    (thread,) = [t for t in threading.enumerate() if t.name == "test-slow-worker"]
    w.stop(timeout_s=0.2)  # the worker is stuck on item 0: 1..3 never run
    assert w.dropped == [1, 2, 3]
    w.release.set()  # item 0 finishes, then the thread sees stop and an empty queue and ends
    thread.join(5)
    assert not thread.is_alive() and w.done == [0]


def test_a_submit_after_stop_is_counted_as_dropped_not_queued() -> None:
    """A mirror that outlives the shadow's grace submits its record after the log stopped: counted."""
    w = _Slow(size=10)
    w.start()
    w.stop(1)
    assert w.submit(7) is False and w.dropped == [7] and w._queue.empty()
    w.release.set()
    w.start()  # started again: accepting again
    try:
        assert w.submit(8)
    finally:
        w.stop(5)
    assert w.done == [8]


def test_a_stopped_inference_log_opens_no_new_publisher() -> None:
    """The sink thread that outlived stop's join must not open a Kafka publisher nobody closes."""
    import pytest

    from driftloop.config import load_settings
    from driftloop.errors import DriftloopError
    from driftloop.serving.metrics import ServingMetrics
    from driftloop.serving.sink import InferenceLog

    opened: list[object] = []

    class _Pub:
        def __init__(self, _settings: object) -> None:
            opened.append(self)

        def close(self) -> None:
            pass

    sink = InferenceLog(load_settings(env={}), ServingMetrics(), publisher_factory=_Pub)
    sink.start()
    assert sink.publisher() is opened[0]
    sink.stop(1)
    with pytest.raises(DriftloopError, match="stopped"):
        sink.publisher()
    assert len(opened) == 1
