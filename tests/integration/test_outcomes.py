"""Run outcomes reach Prometheus through the model server's /metrics (real embedded Kafka)."""

from __future__ import annotations

import time

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from driftloop.events import RETRAIN_REJECTED, RETRAIN_SUCCEEDED, CloudEvent
from driftloop.kafka import Publisher
from driftloop.outcomes import OutcomeWatcher

pytestmark = pytest.mark.integration


def test_outcome_events_become_counters(settings_for, topic) -> None:
    outcomes = topic()
    settings = settings_for(**{"topics.outcomes": outcomes})
    registry = CollectorRegistry()
    watcher = OutcomeWatcher(settings, registry)
    watcher.start()
    try:
        with Publisher(settings) as pub:
            for i, (kind, decision) in enumerate(
                [(RETRAIN_SUCCEEDED, "promote"), (RETRAIN_REJECTED, "rollback"), (RETRAIN_SUCCEEDED, None)]
            ):
                data = {"model": "credit", "outcome": kind.rsplit(".", 1)[-1]}
                if decision:
                    data["canary"] = {"decision": decision}
                pub.publish(outcomes, CloudEvent(id=f"e{i}", source="t", type=kind, data=data), key="credit")
            pub.publish(outcomes, b"not json", key="credit")
        deadline = time.monotonic() + 30
        text = ""
        while time.monotonic() < deadline:
            text = generate_latest(registry).decode()
            if 'driftloop_workflow_runs_total{model="credit",outcome="succeeded"} 2.0' in text:
                break
            time.sleep(0.3)
        assert 'driftloop_workflow_runs_total{model="credit",outcome="succeeded"} 2.0' in text
        assert 'driftloop_workflow_runs_total{model="credit",outcome="rejected"} 1.0' in text
        assert 'driftloop_serving_canary_verdicts_total{decision="promote",model="credit"} 1.0' in text
        assert 'driftloop_serving_canary_verdicts_total{decision="rollback",model="credit"} 1.0' in text
    finally:
        watcher.stop()
