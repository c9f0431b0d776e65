"""The inference log: every prediction becomes one flat JSON record on ``settings.topics.inference_log``.

A request only puts records on a bounded in-memory queue (``put_nowait``); when the queue is full the
record is dropped and counted (``driftloop_serving_log_records_dropped``) — logging never slows or
blocks a prediction. One background thread drains the queue in batches of ``serving.log_batch_size`` and
hands them to :class:`driftloop.kafka.Publisher`. If Kafka cannot be reached the thread keeps retrying
(records pile up in the queue and are dropped once it is full), so the server keeps serving.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from typing import Any

from driftloop.config import Settings
from driftloop.errors import DriftloopError
from driftloop.serving.metrics import ServingMetrics
from driftloop.serving.worker import QueueWorker

__all__ = ["InferenceLog"]

log = logging.getLogger("driftloop.serving")


class InferenceLog(QueueWorker[dict[str, Any]]):
    thread_name = "inference-log"

    def __init__(
        self,
        settings: Settings,
        metrics: ServingMetrics,
        topic: str | None = None,
        publisher_factory: Any = None,
    ) -> None:
        super().__init__(settings.serving.log_queue_size)
        self.settings = settings
        self.topic = topic or settings.topics.inference_log
        self.metrics = metrics
        self._batch = settings.serving.log_batch_size
        self._factory = publisher_factory
        self._publisher: Any = None
        self._lock = threading.Lock()
        self._in_flight = 0
        metrics.queue_depth.set_function(lambda: float(self._queue.qsize()))

    def depth(self) -> int:
        return self._queue.qsize()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Publish what is queued (up to ``timeout_s``; the rest is counted as dropped), then close the
        publisher."""
        super().stop(timeout_s)
        with self._lock:
            if self._publisher is not None:
                try:
                    self._publisher.close()
                except DriftloopError as exc:
                    log.warning("closing the inference-log publisher: %s", exc)
                self._publisher = None

    def publisher(self) -> Any:
        """The shared Kafka publisher (created on first use; also used for feedback)."""
        with self._lock:
            if self._publisher is None:
                if self._closed and self._thread is None:  # stopped: a thread that outlived the join
                    raise DriftloopError("the inference log is stopped", "start the server again")
                if self._factory is not None:
                    self._publisher = self._factory(self.settings)
                else:
                    from driftloop.kafka import Publisher

                    self._publisher = Publisher(self.settings)
            return self._publisher

    def _reset_publisher(self) -> None:
        with self._lock:
            publisher, self._publisher = self._publisher, None
        if publisher is not None:
            with contextlib.suppress(DriftloopError):
                publisher.close()

    def _take_batch(self) -> list[dict[str, Any]]:
        try:
            first = self._queue.get(timeout=0.1)
        except queue.Empty:
            return []
        batch = [first]
        while len(batch) < self._batch:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        backoff = 0.5
        pending: list[dict[str, Any]] = []
        while True:
            if not pending:
                if self._stop.is_set() and self._queue.empty():
                    return
                pending = self._take_batch()
                self._in_flight = len(pending)
                if not pending:
                    continue
            try:
                self._publish(pending)
                pending = []
                self._in_flight = 0
                backoff = 0.5
            except DriftloopError as exc:
                if self._stop.is_set():
                    self._drop(pending)
                    self._drop(self._drain())
                    return
                log.warning("inference log: %s; retrying in %.1fs", exc, backoff)
                self._reset_publisher()  # a failed send can leave kafka-python's producer unusable
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)

    def _publish(self, batch: list[dict[str, Any]]) -> None:
        pub = self.publisher()
        for rec in batch:
            pub.publish(self.topic, rec, key=str(rec.get("model") or "") or None)
        pub.flush(timeout_s=self.settings.kafka.request_timeout_ms / 1000)
        by_model: dict[str, int] = {}
        for rec in batch:
            name = str(rec.get("model", ""))
            by_model[name] = by_model.get(name, 0) + 1
        for name, n in by_model.items():
            self.metrics.log_published.labels(name).inc(n)

    def _drop(self, records: list[dict[str, Any]]) -> None:
        for rec in records:
            self.metrics.log_dropped.labels(str(rec.get("model", ""))).inc()

    def wait_empty(self, timeout_s: float = 10.0) -> bool:
        """Block until every queued record has been handed to Kafka (tests, shutdown); True when so."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._queue.empty() and not self._in_flight:
                return True
            time.sleep(0.02)
        return self._queue.empty() and not self._in_flight
