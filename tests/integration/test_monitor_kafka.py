"""On the embedded Kafka + S3: a check publishes a schema-valid event that a consumer reads; the same
input twice gives the same event id; the inference-log topic can be the window."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from driftloop.kafka import Publisher, read_recent
from driftloop.s3 import S3Store
from monitors import MonitorDefinition, build_profile, run_check
from monitors.datasets import FEATURES, make_credit
from monitors.publish import publish_event, upload_report, validate_event
from monitors.window import load_window
from tests.conftest import Stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def stack(both_brokers: Stack) -> Stack:
    """Every test here runs on Tansu and on Apache Kafka (see tests/conftest.py)."""
    return both_brokers


def _cli(settings_overrides: dict[str, object], *args: str) -> subprocess.CompletedProcess[str]:
    sets = [f"--set={k}={v}" for k, v in settings_overrides.items()]
    return subprocess.run(
        [sys.executable, "-m", "driftloop", *sets, "monitor", "run", *args],
        capture_output=True,
        text=True,
        timeout=180,
    )


# On Tansu only: this is the monitor CLI's own behaviour (two Evidently runs: ~100 s each on a loaded 2-core
# machine); the publish and tail read it relies on run on both brokers in test_io.py and in the test below.
@pytest.mark.parametrize("both_brokers", ["tansu"], indirect=True)
def test_cli_publishes_a_schema_valid_event_with_a_stable_id(  # type: ignore[no-untyped-def]
    stack, topic, bucket, settings_for, tmp_path: Path
) -> None:
    drift_topic = topic()
    overrides = {**stack.overrides, "topics.drift_events": drift_topic, "s3.bucket": bucket}
    ref, cur = tmp_path / "ref.parquet", tmp_path / "cur.parquet"
    make_credit(5000, seed=0).to_parquet(ref)
    make_credit(3000, seed=1, drift=0.7).to_parquet(cur)
    runs = [
        _cli(overrides, "--model", "credit", "--reference", str(ref), "--current", str(cur), "--json")
        for _ in range(2)
    ]
    for proc in runs:
        assert proc.returncode == 0, proc.stderr
    ids = [json.loads(p.stdout)["event_id"] for p in runs]
    assert ids[0] == ids[1]

    settings = settings_for(s3__bucket=bucket)
    records = read_recent(settings, drift_topic, max_records=10)
    assert len(records) == 2
    for rec in records:
        assert rec.key == "credit"
        event = json.loads(rec.value)
        validate_event(event)
        assert event["id"] == ids[0]
        assert event["type"] == "io.driftloop.drift.detected"
        report_uri = event["data"]["report_uri"]
        assert report_uri.startswith(f"s3://{bucket}/reports/credit/")
    html = S3Store(settings).get_bytes(report_uri.split("/", 3)[3])
    assert b"<html" in html[:2000].lower()


def test_quality_event_and_inference_log_window(topic, bucket, settings_for) -> None:  # type: ignore[no-untyped-def]
    log_topic, drift_topic = topic(), topic()
    settings = settings_for(
        topics__inference_log=log_topic, topics__drift_events=drift_topic, s3__bucket=bucket
    )
    profile = build_profile(make_credit(5000, seed=0), MonitorDefinition(model="credit", features=FEATURES))
    window = make_credit(400, seed=2, drift=0.8)
    with Publisher(settings) as pub:
        rows = window[FEATURES].to_dict(orient="records")
        for i in range(0, len(rows), 50):  # batches, as the model server logs them
            pub.publish(
                log_topic,
                {
                    "model": "credit",
                    "model_version": "1",
                    "features": rows[i : i + 50],
                    "predictions": [0] * len(rows[i : i + 50]),
                },
            )
        pub.publish(log_topic, {"model": "other", "features": {"age": 1}, "prediction": 1})
        pub.flush()
    frame, info = load_window("kafka", settings, model="credit", last=1000)
    assert len(frame) == 400 and info.source == f"kafka://{log_topic}" and info.offsets
    result = run_check(profile, frame, window=info)
    assert result.status == "drift"

    small = run_check(profile, frame.iloc[:20], window=info)
    assert small.status == "quality"
    event = small.to_event(report_uri=upload_report(settings, profile, frame.iloc[:20], small))
    publish_event(settings, event)
    got = read_recent(settings, drift_topic, max_records=5)
    assert [json.loads(r.value)["type"] for r in got] == ["io.driftloop.data.quality"]
    validate_event(got[0].value)
