"""The committed ``driftloop-monitor`` WorkflowTemplate on the local executor, with real steps, the
embedded S3 and Kafka: one branch per model with a champion, a Parquet window checked in shards and
merged, and a model whose check fails does not stop the others from publishing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from driftloop.kafka import read_recent
from driftloop.local.runs import run_local
from driftloop.registry import Registry
from driftloop.s3 import S3Store
from monitors import MonitorDefinition, build_profile, run_check
from monitors.datasets import TARGET, make_credit
from monitors.publish import validate_event
from tests.conftest import REPO
from workflows.steps.monitor_shards import summary_prefix

pytestmark = pytest.mark.integration

TEMPLATE = REPO / "manifests/base/generated/workflows/driftloop-monitor.yaml"


def test_every_model_is_checked_in_shards_and_a_failing_one_stops_no_other(  # type: ignore[no-untyped-def]
    topic, bucket, settings_for, tmp_path: Path
) -> None:
    drift_topic = topic()
    settings = settings_for(
        s3__bucket=bucket, topics__drift_events=drift_topic, data_dir=str(tmp_path / "data")
    )
    registry = Registry(S3Store(settings))
    reference = make_credit(4000, seed=0)
    for model in ("fan-a", "fan-b", "fan-c", "fan-d"):
        profile = build_profile(reference, MonitorDefinition(model=model, target=TARGET), "v1")
        # fan-b's champion has a damaged reference profile: its check fails (a data error, not retried)
        raw = b"not a profile" if model == "fan-b" else profile.to_bytes()
        registry.register(model, b"model-1", reference_profile=raw)
        if model != "fan-d":  # fan-d has no champion: not checked
            registry.promote(model, "v1")

    window = tmp_path / "window"
    window.mkdir()
    drifted = make_credit(3000, seed=1, drift=0.7).drop(columns=[TARGET])
    for i in range(3):  # three files, two row groups each
        drifted.iloc[i * 1000 : (i + 1) * 1000].to_parquet(window / f"part-{i}.parquet", row_group_size=500)

    result = run_local(TEMPLATE, {"current": str(window), "shards": "3"}, settings)

    assert result.phase == "Failed"  # fan-b failed ...
    merges = {n.name.split(".")[1]: n.phase for n in result.nodes if n.display_name == "merge"}
    assert merges == {
        "check(0:fan-a)": "Succeeded",
        "check(1:fan-b)": "Omitted",
        "check(2:fan-c)": "Succeeded",
    }
    summaries = [n for n in result.nodes if n.type == "Pod" and n.display_name.startswith("summarize(")]
    assert len([n for n in summaries if n.phase == "Succeeded"]) == 6  # 3 shards of fan-a and of fan-c
    failed = [n for n in result.nodes if n.type == "Pod" and n.phase == "Failed"]
    assert failed and all("fan-b" in n.name for n in failed)
    assert failed[0].exit_code == 2 and failed[0].log  # a data error: not retried
    assert "error: not a driftloop reference profile" in Path(failed[0].log).read_text()
    assert not [n for n in result.nodes if "drift-check" in n.name and n.phase == "Succeeded"]

    # ... and the other two published the same event as the single-process check of the whole window
    single = run_check(profile, drifted, MonitorDefinition(model="fan-a", target=TARGET))
    records = read_recent(settings, drift_topic, max_records=10)
    events = {r.key: json.loads(r.value) for r in records}
    assert sorted(events) == ["fan-a", "fan-c"] and len(records) == 2
    for model, event in events.items():
        validate_event(event)
        assert event["type"] == "io.driftloop.drift.detected"
        assert event["data"]["drift_share"] == pytest.approx(single.drift_share, abs=1e-12)
        assert sorted(event["data"]["drifted_columns"]) == sorted(
            n for n, c in single.columns.items() if c.drifted
        )
        assert event["data"]["report_uri"].startswith(f"s3://{bucket}/reports/{model}/")
    # the shard summaries were passed through the store and removed once merged
    store = S3Store(settings)
    assert store.list(summary_prefix(result.name, "fan-a")) == []
    assert store.exists(summary_prefix(result.name, "fan-b") + "plan.json")  # kept: its merge never ran


def test_an_inference_log_window_is_checked_in_one_pod(  # type: ignore[no-untyped-def]
    topic, bucket, settings_for, tmp_path: Path
) -> None:
    """``current=kafka``: the plan says ``single`` and the model's window is checked by ``drift-check``."""
    from driftloop.kafka import Publisher
    from monitors.datasets import FEATURES

    log_topic, drift_topic = topic(), topic()
    settings = settings_for(
        s3__bucket=bucket,
        topics__drift_events=drift_topic,
        topics__inference_log=log_topic,
        data_dir=str(tmp_path / "data"),
    )
    registry = Registry(S3Store(settings))
    definition = MonitorDefinition(model="fan-k", features=FEATURES)
    registry.register(
        "fan-k", b"m", reference_profile=build_profile(make_credit(3000, seed=0), definition).to_bytes()
    )
    registry.promote("fan-k", "v1")
    rows = make_credit(600, seed=3, drift=0.8)[FEATURES].to_dict(orient="records")
    with Publisher(settings) as pub:
        for i in range(0, len(rows), 100):
            pub.publish(
                log_topic, {"model": "fan-k", "features": rows[i : i + 100], "predictions": [0] * 100}
            )
        pub.flush()

    result = run_local(TEMPLATE, {"model": "fan-k"}, settings)

    assert result.phase == "Succeeded", [(n.name, n.phase, n.message) for n in result.nodes]
    phases = {n.display_name: n.phase for n in result.nodes}
    assert phases["drift-check"] == "Succeeded"
    assert phases.get("merge") in (None, "Skipped", "Omitted")
    events = [json.loads(r.value) for r in read_recent(settings, drift_topic, max_records=5)]
    assert [(e["subject"], e["type"]) for e in events] == [("fan-k", "io.driftloop.drift.detected")]
