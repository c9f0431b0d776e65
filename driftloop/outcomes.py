"""Run outcomes as Prometheus metrics.

Workflow steps are short-lived pods that exit before Prometheus scrapes them, so the outcome of a retrain
is counted where something lives long: a consumer of the outcomes topic (the ``io.driftloop.retrain.*``
CloudEvents the exit handler publishes), run inside the model server. All replicas share one consumer
group, so each outcome is counted once across replicas and a ``sum()`` over them is right.

Metrics: ``driftloop_workflow_runs_total{model,outcome}`` (succeeded | rejected | failed) and
``driftloop_serving_canary_verdicts_total{model,decision}`` (promote | rollback).
"""

from __future__ import annotations

import contextlib
import logging
import threading

from prometheus_client import CollectorRegistry, Counter

from driftloop.config import Settings
from driftloop.errors import DriftloopError, EventError
from driftloop.events import CloudEvent
from driftloop.kafka import Record

__all__ = ["OutcomeMetrics", "OutcomeWatcher"]

log = logging.getLogger("driftloop.outcomes")
GROUP = "driftloop-outcome-metrics"


def group_for(topic: str) -> str:
    """The consumer group of the outcome metrics of ``topic``: one per topic, so the servers that share
    a topic share the group (each event counted once), and a group never spans two topics (a member
    left behind on one would hold up the other's rebalance)."""
    return f"{GROUP}.{topic}"


class OutcomeMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.runs = Counter(
            "driftloop_workflow_runs_total",
            "Retrain runs by outcome, from the outcome events",
            ["model", "outcome"],
            registry=registry,
        )
        self.verdicts = Counter(
            "driftloop_serving_canary_verdicts_total",
            "Canary analysis verdicts, from the outcome events",
            ["model", "decision"],
            registry=registry,
        )

    def observe(self, record: Record) -> bool:
        """Count one outcome event; False (and a log line) when it is not one."""
        try:
            event = CloudEvent.parse(record.value)
        except EventError as exc:
            log.warning("outcomes topic: skipping a malformed record at offset %s: %s", record.offset, exc)
            return False
        if not event.type.startswith("io.driftloop.retrain."):
            return False
        model = str(event.data.get("model") or event.subject or "unknown")
        self.runs.labels(model, str(event.data.get("outcome") or event.type.rsplit(".", 1)[-1])).inc()
        canary = event.data.get("canary") or {}
        if isinstance(canary, dict) and canary.get("decision"):
            self.verdicts.labels(model, str(canary["decision"])).inc()
        return True


class OutcomeWatcher:
    """A background consumer of ``topics.outcomes`` feeding :class:`OutcomeMetrics`."""

    name = "outcomes"

    def __init__(self, settings: Settings, registry: CollectorRegistry) -> None:
        self.settings = settings
        self.metrics = OutcomeMetrics(registry)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="driftloop-outcomes", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        from driftloop.kafka import Consumer

        while not self._stop.is_set():
            try:
                topic = self.settings.topics.outcomes
                with Consumer(self.settings, [topic], group_for(topic)) as consumer:
                    while not self._stop.is_set():
                        records = consumer.poll(500)
                        for rec in records:
                            self.metrics.observe(rec)
                        if records:
                            consumer.commit()
            except DriftloopError as exc:  # Kafka away: metrics are best-effort, try again later
                log.warning("outcome metrics paused: %s", exc)
                self._stop.wait(5)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            with contextlib.suppress(RuntimeError):
                self._thread.join(timeout=5)

    def healthy(self) -> bool:
        return True
