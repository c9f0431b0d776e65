"""Shadow mirroring: the challenger scores a copy of a request after the champion has answered it.

The request path only puts a job on a bounded queue (``put_nowait``); one background thread runs the
challenger and writes its prediction to the inference log with ``"route": "shadow"``, the challenger's
``model_version``, its own latency and the request's ids — so canary analysis can judge the challenger
on real traffic (and on feedback labels, joined by request id) while every client is answered by the
champion. A full queue drops the job and counts it (``driftloop_serving_shadow_dropped``): mirroring
never slows a request. A shadow prediction is never returned to a client.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from driftloop.serving.metrics import ServingMetrics
from driftloop.serving.slots import LoadedModel
from driftloop.serving.worker import QueueWorker

__all__ = ["ShadowJob", "ShadowRunner"]

log = logging.getLogger("driftloop.serving")

#: Jobs waiting for the challenger; beyond this they are dropped (and counted).
QUEUE_SIZE = 1000


@dataclass(frozen=True)
class ShadowJob:
    challenger: LoadedModel
    instances: list[dict[str, Any]]
    ids: list[str]


#: ``(served, instances, ids, preds, probas, elapsed_s, route, error, probabilities)`` -> the records are
#: logged (``probabilities``: a multiclass challenger's class probabilities, else None; see
#: :func:`~driftloop.serving.service.log_records`)
LogFn = Callable[..., None]


class ShadowRunner(QueueWorker[ShadowJob]):
    thread_name = "serving-shadow"

    def __init__(self, metrics: ServingMetrics, log_fn: LogFn, queue_size: int = QUEUE_SIZE) -> None:
        super().__init__(queue_size)
        self.metrics = metrics
        self._log = log_fn
        self._busy = False

    def _drop(self, items: list[ShadowJob]) -> None:
        for job in items:
            self.metrics.shadow.labels(job.challenger.model, job.challenger.version, "dropped").inc()

    def idle(self) -> bool:
        return self._queue.empty() and not self._busy

    def _run(self) -> None:
        while True:
            try:
                job = self._queue.get(timeout=0.1)
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            self._busy = True
            try:
                self._mirror(job)
            finally:
                self._busy = False

    def _mirror(self, job: ShadowJob) -> None:
        model = job.challenger
        started = time.perf_counter()
        try:
            preds, probas, vectors = model.predict(job.instances)
        except Exception as exc:  # the challenger failed: logged as its error, nobody is answered
            elapsed = time.perf_counter() - started
            self._log(
                model, job.instances, job.ids, None, None, elapsed, "shadow", f"{type(exc).__name__}: {exc}"
            )
            self.metrics.shadow.labels(model.model, model.version, "error").inc()
            return
        elapsed = time.perf_counter() - started
        self._log(model, job.instances, job.ids, preds, probas, elapsed, "shadow", None, vectors)
        self.metrics.shadow.labels(model.model, model.version, "ok").inc()
        self.metrics.latency.labels(model.model, "shadow").observe(elapsed)
