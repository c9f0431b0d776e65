"""The local sensor: consume the drift topic, evaluate the compiled Sensor, admit, submit, then commit.

One poll batch at a time:

1. every record → event data or a dead letter (:mod:`.envelope`); valid events → the Sensor's filters
   and parameters (:mod:`.spec`); filtered-out events are counted and logged, never dead letters;
2. matching events → admission (:class:`sensors.admission.Gate`: dedup ledger, cooldown, storm,
   back-pressure, concurrency) → a durable submission record — in parallel across models, in order
   within a model;
3. dead letters flushed to Kafka (acks=all) and the batch's rejections recorded on S3;
4. only then the offsets are committed. A crash before 4 redelivers the batch; the ledger and the
   deterministic Workflow name make the redelivery a no-op.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from driftloop.config import Settings
from driftloop.kafka import Record
from driftloop.local.sensor.envelope import DeadLetter, dead_letter_body, to_event_data
from driftloop.local.sensor.metrics import SensorMetrics
from driftloop.local.sensor.spec import Decision, SensorSpec, find_sensor, load_sensor
from driftloop.local.sensor.submission import Runner, SubmissionStore

__all__ = ["LocalSensor"]

log = logging.getLogger("driftloop.sensor")

#: records per poll of the drift topic (see ``LocalSensor.run``)
POLL_RECORDS = 100


class LocalSensor:
    """Args:
    settings: resolved settings (Kafka, S3, ``sensor.*`` policies, ``manifests_dir``).
    sensor_path: the compiled Sensor YAML (default: found under ``manifests_dir``).
    execute: run admitted Workflows (local executor / Argo); False only records submissions.
    templates_dir: where ``workflowTemplateRef`` names resolve (default ``manifests_dir``).
    after_submit: test hook called after a batch's submissions are durable, before the commit.
    """

    def __init__(
        self,
        settings: Settings,
        sensor_path: Path | None = None,
        *,
        execute: bool = True,
        templates_dir: Path | None = None,
        metrics: SensorMetrics | None = None,
        after_submit: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> None:
        from driftloop.s3 import S3Store
        from sensors.admission import Gate, local_liveness
        from sensors.policies import PolicyConfig, S3PolicyStore

        self.settings = settings
        self.spec: SensorSpec = load_sensor(sensor_path or find_sensor(settings.manifests_dir))
        self.metrics = metrics or SensorMetrics()
        self.store = S3Store(settings)
        self.gate = Gate(
            S3PolicyStore(self.store), PolicyConfig.from_settings(settings), local_liveness(settings)
        )
        self.submissions = SubmissionStore(self.store)
        self.runner: Runner | None = None
        if execute:
            self.runner = Runner(
                settings,
                self.submissions,
                Path(templates_dir or settings.manifests_dir),
                on_finished=lambda model, name, _phase: self.gate.release(model, name),
            )
        self.after_submit = after_submit
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sensor-admit")
        self._submitted: OrderedDict[str, None] = OrderedDict()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.name = "sensor"

    # --- one batch --------------------------------------------------------------------------------
    def process(self, records: list[Record], publisher: Any) -> list[dict[str, Any]]:
        """Steps 1–3 for one batch; returns the submissions made durable."""
        matching: dict[str, list[tuple[Record, Decision]]] = {}
        rejections: list[dict[str, Any]] = []
        dead = filtered = 0
        for rec in records:
            self.metrics.received.inc()
            data = to_event_data(rec)
            if isinstance(data, DeadLetter):
                self._dead_letter(publisher, rec, data)
                dead += 1
                continue
            decision = self.spec.evaluate(data)
            if not decision.triggered:
                self.metrics.filtered.inc()
                filtered += 1
                failed = [f.name for f in decision.filters if not f.passed]
                log.debug(
                    "event %s filtered out (%s)", data["body"].get("id"), decision.error or ", ".join(failed)
                )
                continue
            model = decision.workflow_parameters().get("model", "")
            matching.setdefault(model, []).append((rec, decision))
        futures = [self._pool.submit(self._admit_all, model, items) for model, items in matching.items()]
        submitted: list[dict[str, Any]] = []
        for fut in futures:
            subs, rejected = fut.result()
            submitted.extend(subs)
            rejections.extend(rejected)
        publisher.flush()
        if rejections:
            first = records[0]
            day = time.strftime("%Y-%m-%d")
            key = f"sensor/decisions/{day}/{first.topic}-{first.partition}-{first.offset}.json"
            self.store.put_json(key, rejections)
        if records:
            matched = sum(len(items) for items in matching.values())
            log.info(
                "batch of %d: %d submitted, %d already submitted (duplicates), %d not admitted by a policy, "
                "%d filtered out, %d dead-lettered",
                len(records),
                len(submitted),
                matched - len(submitted) - len(rejections),
                len(rejections),
                filtered,
                dead,
            )
        return submitted

    def _admit_all(
        self, model: str, items: list[tuple[Record, Decision]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        subs, rejected = [], []
        for rec, decision in items:
            sub, rejection = self._admit(model, rec, decision)
            if sub is not None:
                subs.append(sub)
            if rejection is not None:
                rejected.append(rejection)
        return subs, rejected

    def _admit(
        self, model: str, rec: Record, decision: Decision
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        name = decision.workflow_name
        params = decision.workflow_parameters()
        event_id = params.get("event_id", "")
        if name in self._submitted:
            self.metrics.deduplicated.inc()
            return None, None
        verdict = self.gate.evaluate(model, event_id, name)
        if verdict.outcome == "duplicate":
            self.metrics.deduplicated.inc()
            self._repair(model, rec, decision, event_id)
            return None, None
        if not verdict.admitted:
            self.metrics.rejected.labels(verdict.outcome).inc()
            if verdict.alert:
                self._alert(model, verdict.reason)
            log.info(
                "event %s for %s not admitted: %s (%s)", event_id, model, verdict.outcome, verdict.reason
            )
            rejection = {
                "event_id": event_id,
                "model": model,
                "policy": verdict.outcome,
                "reason": verdict.reason,
            }
            return None, {**rejection, "offset": rec.offset, "at": time.time()}
        sub = self._record(model, rec, decision, event_id, verdict.outcome)
        if verdict.replaces and self.runner is not None:
            self.runner.supersede(verdict.replaces)
        return sub, None

    def _record(
        self, model: str, rec: Record, decision: Decision, event_id: str, admission: str
    ) -> dict[str, Any]:
        name = decision.workflow_name
        sub = {
            "name": name,
            "model": model,
            "event_id": event_id,
            "status": "queued",
            "admission": admission,
            "workflow": decision.workflow,
            "sensor": self.spec.name,
            "source": {"topic": rec.topic, "partition": rec.partition, "offset": rec.offset},
            "created_at": time.time(),
        }
        if self.submissions.create(sub):
            self.metrics.triggered.inc()
            self.metrics.latency.observe(max(0.0, time.time() - rec.timestamp_ms / 1000))
            self._remember(name)
            if self.runner is not None:
                self.runner.submit(sub)
            return sub
        self.metrics.deduplicated.inc()
        self._remember(name)
        return {}

    def _repair(self, model: str, rec: Record, decision: Decision, event_id: str) -> None:
        """A ledger entry without its submission means a crash between the two writes: write it now."""
        name = decision.workflow_name
        if name not in self._submitted and not self.submissions.exists(name):
            log.warning("event %s was admitted but never submitted; submitting %s now", event_id, name)
            self._record(model, rec, decision, event_id, "repair")
        self._remember(name)

    def _remember(self, name: str) -> None:
        self._submitted[name] = None
        while len(self._submitted) > 10_000:
            self._submitted.popitem(last=False)

    def _dead_letter(self, publisher: Any, rec: Record, letter: DeadLetter) -> None:
        self.metrics.dead_lettered.labels(letter.reason).inc()
        body = dead_letter_body(rec, letter, self.spec.name)
        publisher.publish(
            self.settings.topics.dead_letters,
            json.dumps(body, separators=(",", ":")).encode(),
            key=rec.key,
            headers={"driftloop-reason": letter.reason, "driftloop-source-topic": rec.topic},
        )

    def _alert(self, model: str, reason: str) -> None:
        from driftloop.kafka import Publisher
        from sensors.alerts import storm_alert

        try:
            with Publisher(self.settings) as pub:
                pub.publish(self.settings.topics.outcomes, storm_alert(model, reason), key=model, wait=True)
        except Exception as exc:  # an alert must not stop the sensor
            log.warning("storm alert for %s not published: %s", model, exc)

    # --- the loop ---------------------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None, max_idle_s: float | None = None) -> None:
        """Consume until ``stop`` is set (or ``max_idle_s`` passes without records once the group has
        assigned partitions: joining takes seconds, longer on a loaded machine)."""
        from driftloop.kafka import Consumer, Publisher, ensure_topics

        stop = stop or self._stop
        topics = self.settings.topics
        ensure_topics(self.settings, [topics.drift_events, topics.dead_letters, topics.outcomes])
        if self.runner is not None:
            resumed = self.runner.resume()
            if resumed:
                log.info("resumed %d unfinished runs", resumed)
        idle_since = time.monotonic()
        with (
            Consumer(self.settings, [topics.drift_events], self.settings.sensor.consumer_group) as consumer,
            Publisher(self.settings, linger_ms=0) as publisher,
        ):
            while not stop.is_set():
                # a batch must be processed (each dead letter acknowledged) within max_poll_interval_ms, or
                # the group evicts this member and the commit fails: 1,000 poison records took > 3 s here
                records = consumer.poll(timeout_ms=200, max_records=POLL_RECORDS)
                if not records:
                    if not consumer.assigned():  # still joining the group: not idle yet
                        idle_since = time.monotonic()
                    elif max_idle_s is not None and time.monotonic() - idle_since > max_idle_s:
                        return
                    continue
                submitted = self.process(records, publisher)
                if self.after_submit is not None:
                    self.after_submit(submitted)
                consumer.commit()
                idle_since = time.monotonic()  # after the batch: its processing time is not idle time

    # --- Component (driftloop up) -------------------------------------------------------------------
    def start(self) -> None:
        def target() -> None:
            try:
                self.run(self._stop)
            except BaseException as exc:
                self._error = exc
                log.error("sensor stopped: %s", exc)

        self._thread = threading.Thread(target=target, name="driftloop-sensor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        self._pool.shutdown(wait=True)
        if self.runner is not None:
            self.runner.shutdown(wait=True)

    def healthy(self) -> bool:
        return self._error is None and (self._thread is None or self._thread.is_alive())
