"""Performance-triggered retraining on the embedded Kafka + S3, end to end on the monitor side.

The credit model is trained and registered by the real ``train``, ``evaluate`` and ``register`` steps
(holdout metrics and the CBPE estimator land in the registry); predictions go to the inference-log topic
and labels — late, duplicated, for unknown ids, missing — to the feedback topic; the monitor step joins
them, and the local sensor, reading the compiled Sensor, turns a measured accuracy drop into exactly one
retrain with reason ``performance``. A same-distribution window, checked first, publishes nothing that
triggers.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from driftloop.config import Settings
from driftloop.events import DRIFT_CHECKED, PERFORMANCE_DEGRADED
from driftloop.kafka import Publisher, read_recent
from driftloop.modelspec import EXAMPLES_DIR
from driftloop.registry import Registry
from driftloop.s3 import S3Store
from monitors.datasets import TARGET, make_credit
from monitors.performance import ESTIMATOR_FILE
from tests.integration.test_sensor_kafka import env, run_sensor, submissions  # noqa: F401 - env: a fixture
from workflows.steps import monitor as monitor_step
from workflows.steps.evaluate import evaluate
from workflows.steps.register import register
from workflows.steps.train import train

pytestmark = pytest.mark.integration

sys.path.insert(0, str(EXAMPLES_DIR / "credit"))


def _register_champion(settings: Settings, tmp_path: Path) -> Any:
    train_uri, holdout_uri = tmp_path / "train.parquet", tmp_path / "holdout.parquet"
    make_credit(5000, seed=0).to_parquet(train_uri)
    make_credit(2500, seed=10).to_parquet(holdout_uri)
    model_file = tmp_path / "model.joblib"
    trained = train(
        settings,
        model="credit",
        train_uri=str(train_uri),
        model_path=model_file,
        task="classification",
        target=TARGET,
        trainer="credit_model:train",
        params={},
    )
    gate_args = {
        "model": "credit",
        "model_file": model_file,
        "model_sha256": trained["sha256"],
        "holdout_uri": str(holdout_uri),
        "task": "classification",
        "target": TARGET,
        "primary_metric": "accuracy",
        "gate_margin": 0.02,
        "min_score": 0.5,
    }
    scores, estimator = tmp_path / "scores.json", tmp_path / "estimator.joblib"
    evaluate(settings, **gate_args, metrics_path=scores, estimator_path=estimator)
    result = register(
        settings,
        **gate_args,
        scores_file=scores,
        estimator_file=estimator,
        train_uri=str(train_uri),
        metrics_path=tmp_path / "metrics.json",
        profile_path=tmp_path / "profile.bin",
    )
    assert result["verdict"] == "passed" and result["version"] == "v1"
    registry = Registry(S3Store(settings))
    registry.promote("credit", "v1")
    mv = registry.get("credit", "v1")
    assert ESTIMATOR_FILE in mv.files and mv.metrics["primary_metric"] == "accuracy"
    return registry.load_model("credit", "v1")[1]


def _serve(settings: Settings, model: Any, frame: pd.DataFrame, prefix: str) -> list[dict[str, Any]]:
    """Log ``frame``'s predictions as the model server does; returns the labels it would get later."""
    x = frame.drop(columns=[TARGET])
    proba, pred = model.predict_proba(x), model.predict(x)
    now = int(time.time() * 1000)
    records = json.loads(x.to_json(orient="records"))
    labels = []
    with Publisher(settings) as pub:
        for i, rec in enumerate(records):
            rid = f"{prefix}-{i}"
            rec.update(
                prediction=int(pred[i]),
                probability=float(proba[i].max()),
                model="credit",
                model_version="v1",
                request_id=rid,
                timestamp=now,
                latency_ms=1.0,
            )
            pub.publish(settings.topics.inference_log, rec, key=rid)
            labels.append({"request_id": rid, "label": int(frame[TARGET].iloc[i]), "model": "credit"})
        pub.flush()
    return labels


def _feedback(settings: Settings, labels: list[dict[str, Any]]) -> None:
    with Publisher(settings) as pub:
        for rec in labels:
            pub.publish(
                settings.topics.feedback, {**rec, "timestamp": int(time.time() * 1000)}, key=rec["request_id"]
            )
        pub.flush()


def _events(settings: Settings) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in read_recent(settings, settings.topics.drift_events)]


def test_a_measured_accuracy_drop_starts_one_retrain_with_reason_performance(
    env: Callable[..., Settings],  # noqa: F811 - the fixture imported above
    topic: Callable[..., str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="driftloop.kafka")  # how each read ended, if a count is short
    settings = env(**{"topics.inference_log": topic(), "topics.feedback": topic()})
    model = _register_champion(settings, tmp_path)

    # 1. same distribution, labelled: a check, no trigger, no run
    labels = _serve(settings, model, make_credit(1500, seed=1), "same")
    _feedback(settings, labels)
    out = monitor_step.check("credit", "kafka", 60.0, True, settings=settings)
    assert out["event_type"] == DRIFT_CHECKED and out["signals"] == "" and out["reason"] == ""
    (first,) = _events(settings)
    assert first["data"]["retrain"] is False
    # the window's size and the join's counts say which read came up short, if one does
    assert first["data"]["performance"]["labels"] == 1500, (
        first["data"].get("window"),
        first["data"]["performance"],
    )
    run_sensor(settings, execute=False)
    assert submissions(settings) == []

    # 2. same inputs, new outcomes (a concept shift), labels arriving late and messy
    later = env(**{"topics.inference_log": topic(), "topics.feedback": topic()})  # same bucket: same champion
    labels = _serve(later, model, make_credit(1500, seed=2, concept=0.6), "shift")
    messy = [
        *labels,
        {"request_id": "nobody-asked", "label": 1, "model": "credit"},  # an unknown request id
        {
            "request_id": labels[0]["request_id"],
            "label": labels[0]["label"],
            "model": "credit",
        },  # a duplicate
        {"request_id": labels[1]["request_id"], "label": None, "model": "credit"},  # no label
    ]
    _feedback(later, messy)
    out = monitor_step.check("credit", "kafka", 60.0, True, settings=later)
    assert out["event_type"] == PERFORMANCE_DEGRADED and out["reason"] == "performance"
    event = _events(later)[-1]
    perf = event["data"]["performance"]
    assert event["type"] == PERFORMANCE_DEGRADED and event["data"]["retrain"] is True
    assert event["data"]["dataset_drift"] is False  # the inputs did not move
    assert perf["label_stats"] == {"joined": 1500, "unknown": 1, "duplicates": 1, "missing": 1}
    assert perf["reference"]["accuracy"] - perf["actual"]["accuracy"] > 0.05
    assert perf["estimated"]["accuracy"] > perf["actual"]["accuracy"]  # CBPE cannot see a concept shift

    run_sensor(later, execute=False)
    (sub,) = submissions(later)
    params = {p["name"]: p["value"] for p in sub["workflow"]["spec"]["arguments"]["parameters"]}
    assert params["reason"] == "performance" and params["event_id"] == event["id"]
    assert sub["workflow"]["spec"]["workflowTemplateRef"]["name"] == "driftloop-retrain-credit"
