"""The local sensor on the embedded Kafka + S3: one drift event → exactly one run.

A "run" is a durable submission record (``sensor/submissions/<workflow>.json``); the WorkflowTemplate
is a one-step ``python -c pass`` fixture so runs are fast. The Sensor is the real compiled one
(``render_sensor_manifests``) with the test's topics.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from driftloop.config import Settings
from driftloop.kafka import Publisher, read_recent
from driftloop.local.sensor.service import LocalSensor
from driftloop.s3 import S3Store
from sensors.manifests import render_sensor_manifests
from tests.conftest import Stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def stack(both_brokers: Stack) -> Stack:
    """Every test here runs on Tansu and on Apache Kafka (see tests/conftest.py)."""
    return both_brokers


CASE = json.loads((Path(__file__).parent.parent / "unit" / "sensor_cases" / "drift_event.json").read_text())
TRIVIAL = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "WorkflowTemplate",
    "metadata": {"name": "driftloop-retrain-credit"},
    "spec": {
        "entrypoint": "main",
        "arguments": {
            "parameters": [{"name": n, "value": ""} for n in ("model", "reason", "event_id", "report_uri")]
        },
        "templates": [
            {"name": "main", "container": {"image": "python:3.11", "command": ["python", "-c", "pass"]}}
        ],
    },
}


def drift_event(model: str = "credit", **data: Any) -> dict[str, Any]:
    body = json.loads(json.dumps(CASE))
    body["id"] = str(uuid.uuid4())
    body["data"].update({"model": model, **data})
    body["subject"] = model
    return body


@pytest.fixture
def env(
    settings_for: Callable[..., Settings],
    topic: Callable[..., str],
    bucket: str,
    tmp_path: Path,
    unique_name: Callable[[str], str],
) -> Callable[..., Settings]:
    def make(**extra: Any) -> Settings:
        manifests = tmp_path / "manifests"
        settings = settings_for(
            **{
                "topics.drift_events": topic(),
                "topics.dead_letters": topic(),
                "topics.outcomes": topic(),
                "s3.bucket": bucket,
                "manifests_dir": str(manifests),
                "data_dir": str(tmp_path / "data"),
                "sensor.consumer_group": unique_name("g"),
                "sensor.cooldown_s": 0,
                **extra,
            }
        )
        for rel, text in render_sensor_manifests(settings).items():
            (manifests / rel).parent.mkdir(parents=True, exist_ok=True)
            (manifests / rel).write_text(text)
        (manifests / "retrain.yaml").write_text(yaml.safe_dump(TRIVIAL))
        return settings

    return make


def publish(settings: Settings, *values: Any) -> None:
    with Publisher(settings) as pub:
        for v in values:
            pub.publish(settings.topics.drift_events, v, key="credit")


def submissions(settings: Settings) -> list[dict[str, Any]]:
    store = S3Store(settings)
    return [store.get_json(k) for k in store.list("sensor/submissions/")]


def run_sensor(settings: Settings, idle_s: float = 3.0, **kw: Any) -> LocalSensor:
    sensor = LocalSensor(settings, **kw)
    try:
        sensor.run(max_idle_s=idle_s)
    finally:
        sensor.stop()
    return sensor


def test_one_event_one_run_executed(env: Callable[..., Settings]) -> None:
    settings = env()
    event = drift_event()
    publish(settings, event)
    sensor = run_sensor(settings)
    subs = submissions(settings)
    assert len(subs) == 1
    digest = hashlib.sha256(event["id"].encode()).hexdigest()[:10]
    assert subs[0]["name"] == f"retrain-credit-{digest}"
    assert subs[0]["status"] == "Succeeded"  # the trivial template ran on the local executor
    params = {p["name"]: p["value"] for p in subs[0]["workflow"]["spec"]["arguments"]["parameters"]}
    assert params == {
        "model": "credit",
        "reason": "drift",
        "event_id": event["id"],
        "report_uri": event["data"]["report_uri"],
    }
    assert sensor.metrics.triggered._value.get() == 1
    assert (Path(settings.data_dir) / "runs" / subs[0]["name"]).is_dir()


def test_same_event_ten_times_is_one_run(env: Callable[..., Settings]) -> None:
    settings = env()
    event = drift_event()
    publish(settings, *[event] * 10)
    sensor = run_sensor(settings, execute=False)
    assert len(submissions(settings)) == 1
    assert sensor.metrics.deduplicated._value.get() == 9


def test_crash_after_submit_before_commit_then_restart(env: Callable[..., Settings]) -> None:
    settings = env()
    publish(settings, drift_event())

    class CrashError(Exception):
        pass

    def crash(subs: list[dict[str, Any]]) -> None:
        assert subs, "the crash must come after a durable submission"
        raise CrashError

    with pytest.raises(CrashError):
        LocalSensor(settings, execute=False, after_submit=crash).run(max_idle_s=10)
    assert len(submissions(settings)) == 1
    restarted = run_sensor(settings, execute=False)  # the uncommitted record is redelivered
    assert restarted.metrics.received._value.get() == 1
    assert restarted.metrics.deduplicated._value.get() == 1
    assert len(submissions(settings)) == 1


def test_filtered_out_event_is_no_run_and_no_dead_letter(env: Callable[..., Settings]) -> None:
    settings = env()
    # another model; a check that asked for no retrain (the monitor's data.retrain is what the Sensor reads)
    publish(settings, drift_event(model="iris"), drift_event(dataset_drift=False, retrain=False, reason=None))
    sensor = run_sensor(settings, execute=False)
    assert submissions(settings) == []
    assert sensor.metrics.filtered._value.get() == 2
    assert read_recent(settings, settings.topics.dead_letters, timeout_s=2) == []


def test_thousand_malformed_payloads_all_dead_lettered(env: Callable[..., Settings]) -> None:
    settings = env()
    rng = random.Random(7)
    payloads: list[bytes] = []
    for i in range(1000):
        kind = i % 5
        if kind == 0:
            payloads.append(bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 64))))
        elif kind == 1:
            payloads.append(json.dumps(rng.choice([[1, 2], "s", 3, None, True])).encode())
        elif kind == 2:
            ev = drift_event()
            ev["type"] = f"io.other.{i}"
            payloads.append(json.dumps(ev).encode())
        elif kind == 3:
            ev = drift_event()
            del ev["data"][rng.choice(["model", "dataset_drift", "drift_share", "report_uri"])]
            payloads.append(json.dumps(ev).encode())
        else:
            ev = drift_event()
            ev["data"]["dataset_drift"] = "yes"
            payloads.append(json.dumps(ev).encode())
    good = drift_event()
    publish(settings, *payloads, good)
    sensor = LocalSensor(settings, execute=False)
    stop = threading.Event()
    thread = threading.Thread(target=sensor.run, kwargs={"stop": stop, "max_idle_s": 5}, daemon=True)
    thread.start()
    thread.join(timeout=60)
    letters = read_recent(settings, settings.topics.dead_letters, timeout_s=5)
    assert len(letters) == 1000
    first = json.loads(letters[0].value)
    assert {"reason", "source_topic", "partition", "offset"} <= set(first)
    assert "payload" in first or "payload_b64" in first
    assert {json.loads(r.value)["reason"] for r in letters} >= {
        "not-json",
        "not-an-object",
        "unknown-type",
        "missing-field",
        "wrong-schema",
    }
    assert len(submissions(settings)) == 1  # the sensor kept going and handled the good event
    sensor.stop()


def test_s3_ledger_conditional_write_survives_restart(
    stack: Any, bucket: str, settings_for: Callable[..., Settings]
) -> None:
    """SeaweedFS honours IfNoneMatch='*': the second claim of an event id fails, also from a new store."""
    from sensors.admission import Gate
    from sensors.policies import PolicyConfig, S3PolicyStore

    store = S3Store(settings_for(**{"s3.bucket": bucket}))
    first = S3PolicyStore(store)
    assert first.claim("ev-1", {"workflow": "w"}) is True
    assert first.claim("ev-1", {"workflow": "w2"}) is False
    gate = Gate(S3PolicyStore(store), PolicyConfig(cooldown_s=0))  # a fresh process: nothing cached
    assert gate.evaluate("credit", "ev-1", "w", at=1e9).outcome == "duplicate"
    assert first.ledger_entry("ev-1") == {"workflow": "w"}
