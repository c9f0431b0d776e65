"""Events: schema-valid for every outcome, deterministic ids; the realistic data set; metrics."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from driftloop.errors import EventError
from driftloop.events import DATA_QUALITY, DRIFT_CHECKED, DRIFT_DETECTED, CloudEvent
from monitors import MonitorDefinition, WindowInfo, build_profile, run_check
from monitors.datasets import FEATURES, TARGET, make_credit
from monitors.metrics import MonitorMetrics
from monitors.publish import validate_event


@pytest.fixture(scope="module")
def profile():  # type: ignore[no-untyped-def]
    return build_profile(make_credit(20_000, seed=0), MonitorDefinition(model="credit", target=TARGET))


def test_known_shift_is_detected_and_same_distribution_is_not(profile) -> None:  # type: ignore[no-untyped-def]
    same = run_check(profile, make_credit(5000, seed=1))
    assert same.status == "ok" and same.drifted_columns == [] and same.target_drift is False
    drifted = run_check(profile, make_credit(5000, seed=2, drift=0.5))
    assert drifted.status == "drift" and drifted.dataset_drift
    assert {"income", "debt_to_income", "credit_score", "employment"} <= set(drifted.drifted_columns)
    assert "purpose" not in drifted.drifted_columns  # not touched by the downturn
    assert drifted.target_drift is True
    assert set(drifted.columns) == {*FEATURES, TARGET}


@pytest.mark.parametrize(
    ("window_kwargs", "expected"),
    [
        ({"seed": 1}, DRIFT_CHECKED),
        ({"seed": 2, "drift": 0.6}, DRIFT_DETECTED),
        ({"seed": 3, "n": 10}, DATA_QUALITY),
    ],
)
def test_events_match_the_schema(profile, window_kwargs, expected) -> None:  # type: ignore[no-untyped-def]
    kwargs = {"n": 3000, **window_kwargs}
    event = run_check(profile, make_credit(**kwargs)).to_event(report_uri="s3://b/reports/x.html")
    assert event.type == expected and event.subject == "credit"
    validate_event(event.to_json())
    assert CloudEvent.parse(event.to_json()).id == event.id


def test_schema_rejects_a_wrong_event(profile) -> None:  # type: ignore[no-untyped-def]
    doc = run_check(profile, make_credit(3000, seed=2, drift=0.6)).to_event().to_dict()
    doc["type"] = DRIFT_CHECKED  # contradicts data.dataset_drift = true
    with pytest.raises(EventError):
        validate_event(doc)
    del doc["data"]["columns"]
    with pytest.raises(EventError, match="columns"):
        validate_event(doc)


def test_event_id_is_deterministic(profile) -> None:  # type: ignore[no-untyped-def]
    w = make_credit(3000, seed=7)
    a = run_check(profile, w, window=WindowInfo(source="s3://b/w.parquet"))
    b = run_check(profile, w.copy(), window=WindowInfo(source="s3://b/w.parquet"))
    assert a.event_id == b.event_id
    assert a.to_event().id == a.event_id
    other_window = make_credit(3000, seed=8)
    assert (
        run_check(profile, other_window, window=WindowInfo(source="s3://b/w.parquet")).event_id != a.event_id
    )
    assert run_check(profile, w, window=WindowInfo(source="s3://b/other.parquet")).event_id != a.event_id
    stricter = MonitorDefinition(model="credit", target=TARGET, drift_share=0.3)
    assert (
        run_check(profile, w, stricter, window=WindowInfo(source="s3://b/w.parquet")).event_id != a.event_id
    )


def test_metrics_are_recorded(profile) -> None:  # type: ignore[no-untyped-def]
    registry = CollectorRegistry()
    m = MonitorMetrics(registry)
    m.record(run_check(profile, make_credit(3000, seed=2, drift=0.6)))
    m.record(run_check(profile, make_credit(10, seed=2)))
    get = registry.get_sample_value
    assert get("driftloop_monitor_checks_total", {"model": "credit", "status": "drift"}) == 1
    assert get("driftloop_monitor_checks_total", {"model": "credit", "status": "quality"}) == 1
    assert get("driftloop_monitor_drift_share", {"model": "credit"}) > 0.5
    assert (
        get(
            "driftloop_monitor_column_drift_score",
            {"model": "credit", "column": "income", "test": "wasserstein"},
        )
        > 0.1
    )
    assert get("driftloop_monitor_check_duration_seconds_count", {"model": "credit"}) == 2
