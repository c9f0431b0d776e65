"""The compiled Sensor admits every monitor signal the monitor asks a retrain for, and passes its reason:
a performance drop, an estimated one, multivariate and segment drift — never a check that asked for none."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from driftloop.config import load_settings
from driftloop.contracts import REASONS
from driftloop.events import DRIFT_CHECKED, DRIFT_DETECTED, PERFORMANCE_DEGRADED
from driftloop.local.sensor.spec import SensorSpec
from driftloop.monitorspec import SIGNALS
from sensors.manifests import build_sensor

CASE = Path(__file__).parent / "sensor_cases" / "drift_event.json"


def _event(type_: str, **data: Any) -> dict[str, Any]:
    body = json.loads(CASE.read_text())
    body["type"] = type_
    body["data"].update(data)
    return {"body": body}


@pytest.fixture(scope="module")
def spec() -> SensorSpec:
    return SensorSpec(build_sensor(load_settings(env={})))


def test_every_signal_is_a_reason() -> None:
    assert set(SIGNALS) <= set(REASONS)


@pytest.mark.parametrize(
    ("type_", "reason"),
    [
        (PERFORMANCE_DEGRADED, "performance"),
        (PERFORMANCE_DEGRADED, "estimated-performance"),
        (DRIFT_DETECTED, "multivariate"),
        (DRIFT_DETECTED, "segment-drift"),
        (DRIFT_DETECTED, "drift"),
    ],
)
def test_a_retrain_request_triggers_with_its_reason(spec: SensorSpec, type_: str, reason: str) -> None:
    decision = spec.evaluate(_event(type_, dataset_drift=False, retrain=True, reason=reason))
    assert decision.triggered
    assert decision.workflow_parameters()["reason"] == reason


@pytest.mark.parametrize(
    ("type_", "data"),
    [
        (PERFORMANCE_DEGRADED, {"retrain": False, "reason": None}),  # reported, not among the triggers
        (DRIFT_DETECTED, {"retrain": False, "reason": None, "dataset_drift": False}),
        (DRIFT_CHECKED, {"retrain": True, "reason": "drift"}),  # a type that never triggers
        ("io.driftloop.data.quality", {"retrain": True, "reason": "drift"}),
    ],
)
def test_no_retrain_request_no_run(spec: SensorSpec, type_: str, data: dict[str, Any]) -> None:
    assert not spec.evaluate(_event(type_, **data)).triggered


def test_an_event_without_a_retrain_field_is_filtered(spec: SensorSpec) -> None:
    event = _event(DRIFT_DETECTED)
    del event["body"]["data"]["retrain"]
    assert not spec.evaluate(event).triggered


def test_an_event_without_a_reason_falls_back_to_drift(spec: SensorSpec) -> None:
    event = _event(DRIFT_DETECTED)
    del event["body"]["data"]["reason"]
    decision = spec.evaluate(event)
    assert decision.triggered and decision.workflow_parameters()["reason"] == "drift"
