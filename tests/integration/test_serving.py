"""The model server against the real embedded Kafka + S3: predict, health, reload, tamper refusal,
inference log -> monitors, feedback."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import httpx
import joblib
import pytest

from driftloop.errors import IntegrityError
from driftloop.kafka import read_recent
from driftloop.registry import Registry
from driftloop.s3 import S3Store
from driftloop.serving import ModelServer

pytestmark = pytest.mark.integration

NUMERIC = ["age", "income", "loan_amount", "credit_score", "debt_to_income"]


def train(seed: int = 0, rows: int = 2000, flip: bool = False) -> tuple[Any, Any]:
    """A small scikit-learn classifier on the credit data (numeric features); ``flip`` inverts labels
    (a model that is confidently wrong — a bad canary)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from monitors.datasets import TARGET, make_credit

    df = make_credit(rows, seed=seed)
    y = 1 - df[TARGET] if flip else df[TARGET]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=200)).fit(df[NUMERIC], y)
    return model, df


def dump(model: Any) -> bytes:
    buf = io.BytesIO()
    joblib.dump(model, buf)
    return buf.getvalue()


def rows(df: Any, n: int, start: int = 0) -> list[dict[str, Any]]:
    return json.loads(df[NUMERIC].iloc[start : start + n].to_json(orient="records"))


def wait_for(predicate: Any, timeout_s: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


@pytest.fixture
def served(settings_for: Any, bucket: str, topic: Any, unique_name: Any) -> Any:
    """Champion v1 of model ``credit`` and a server on a free port, logging to fresh topics."""
    log_topic, feedback_topic = topic(), topic()
    settings = settings_for(
        **{
            "s3.bucket": bucket,
            "topics.inference_log": log_topic,
            "topics.feedback": feedback_topic,
            "serving.log_batch_size": 50,
        }
    )
    registry = Registry(S3Store(settings))
    model, df = train()
    registry.register("credit", dump(model), metrics={"accuracy": 0.8})
    registry.promote("credit", "v1")
    server = ModelServer(settings, "credit", registry=registry, port=0, poll_s=0.2)
    server.start()
    try:
        yield settings, registry, server, df
    finally:
        server.stop()


def test_predict_health_info_and_metrics(served: Any) -> None:
    _settings, _registry, server, df = served
    with httpx.Client(base_url=server.url) as http:
        assert http.get("/healthz").status_code == 200
        assert http.get("/readyz").json()["ready"] is True
        r = http.post("/v1/models/credit/predict", json={"instances": rows(df, 3), "request_id": "abc"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["model_version"] == "v1" and len(body["predictions"]) == 3
        assert body["ids"] == ["abc-0", "abc-1", "abc-2"]
        assert all(0.5 <= p <= 1 for p in body["probabilities"])
        info = http.get("/v1/models/credit").json()
        assert info["champion"] == "v1" and info["canary"] is None
        bad = http.post("/v1/models/credit/predict", json={"instances": [{"age": 3}]})
        assert bad.status_code == 400 and "income" in bad.json()["error"]
        assert http.post("/v1/models/other/predict", json={"instances": [{}]}).status_code == 404
        metrics = http.get("/metrics").text
    assert (
        'driftloop_serving_requests_total{model="credit",outcome="ok",route="champion",version="v1"} 1.0'
        in metrics
    )
    assert "driftloop_serving_request_latency_seconds_bucket" in metrics
    assert "driftloop_serving_log_queue_depth" in metrics


def test_log_window_feeds_a_monitor_check(served: Any) -> None:
    """requests -> inference log -> read_recent -> a DataFrame with the feature columns -> run_check."""
    from monitors import MonitorDefinition, build_profile, run_check
    from monitors.window import frame_from_records

    settings, _registry, server, df = served
    with httpx.Client(base_url=server.url) as http:
        for i in range(0, 300, 30):
            assert (
                http.post("/v1/models/credit/predict", json={"instances": rows(df, 30, i)}).status_code == 200
            )
    assert server.sink.wait_empty(15)
    records = read_recent(settings, settings.topics.inference_log)
    values = [json.loads(r.value) for r in records]
    assert len(values) == 300
    first = values[0]
    assert set(NUMERIC) <= set(first) and first["model_version"] == "v1" and "latency_ms" in first
    frame = frame_from_records(values, "credit")
    assert set(NUMERIC) <= set(frame.columns) and len(frame) == 300
    definition = MonitorDefinition(model="credit", features=[{"name": n} for n in NUMERIC], min_rows=50)
    profile = build_profile(df, definition, model_version="v1")
    result = run_check(profile, frame, definition)
    assert result.current_rows == 300
    assert result.status == "ok", result.quality


def test_alias_change_is_picked_up_and_tampered_model_refused(served: Any) -> None:
    _settings, registry, server, df = served
    model2, _ = train(seed=1)
    registry.register("credit", dump(model2))
    registry.promote("credit", "v2")
    with httpx.Client(base_url=server.url) as http:
        wait_for(lambda: http.get("/v1/models/credit").json()["champion"] == "v2")
        # v3's model file is replaced after registration: its sha256 no longer matches
        model3, _ = train(seed=2)
        registry.register("credit", dump(model3))
        registry.store.put_bytes("models/credit/v3/model.joblib", dump(model2))
        with pytest.raises(IntegrityError):
            registry.promote("credit", "v3")  # the registry refuses to point an alias at it
        # a bucket writer moving the pointer behind its back is refused (unsigned): v2 stays
        registry.store.put_pointer("models/credit/aliases/champion.json", {"version": "v3"})
        time.sleep(1.0)
        assert http.get("/v1/models/credit").json()["champion"] == "v2"
        # a correctly signed pointer to a version whose file was replaced after registration: the
        # server refuses the file by its sha256
        registry._put_alias("credit", "champion", "v3", "test: signed pointer, replaced file")
        info = wait_for(lambda: (i := http.get("/v1/models/credit").json())["errors"] and i)
        assert "sha256" in info["errors"]["champion"] and "v3" in info["errors"]["champion"]
        assert info["champion"] == "v2"  # keeps serving the verified model
        r = http.post("/v1/models/credit/predict", json={"instances": rows(df, 1)})
        assert r.json()["model_version"] == "v2"
        assert 'outcome="integrity_error"' in http.get("/metrics").text


def test_tampered_model_without_a_previous_one_is_not_ready(settings_for: Any, bucket: str) -> None:
    settings = settings_for(**{"s3.bucket": bucket})
    registry = Registry(S3Store(settings))
    model, df = train()
    registry.register("credit", dump(model))
    registry.promote("credit", "v1")
    registry.store.put_bytes("models/credit/v1/model.joblib", dump(model) + b"x")
    with (
        ModelServer(settings, "credit", registry=registry, port=0) as server,
        httpx.Client(base_url=server.url) as http,
    ):
        ready = http.get("/readyz")
        assert ready.status_code == 503
        assert "sha256" in ready.json()["errors"]["credit"]["champion"]
        r = http.post("/v1/models/credit/predict", json={"instances": rows(df, 1)})
        assert r.status_code == 503 and "sha256" in r.json()["error"]


def test_feedback_lands_on_the_feedback_topic(served: Any) -> None:
    settings, _registry, server, _df = served
    with httpx.Client(base_url=server.feedback_url) as feed:
        r = feed.post(
            "/v1/feedback",
            json={"labels": [{"request_id": "a", "label": 1}, {"request_id": "b", "label": 0}]},
        )
        assert r.status_code == 202 and r.json()["accepted"] == 2
        assert feed.post("/v1/feedback", json={"label": 1}).status_code == 400
    got = [json.loads(r.value) for r in read_recent(settings, settings.topics.feedback)]
    assert [(g["request_id"], g["label"], g["model"]) for g in got] == [
        ("a", 1, "credit"),
        ("b", 0, "credit"),
    ]


def test_full_log_queue_drops_and_counts_without_blocking(settings_for: Any, bucket: str, topic: Any) -> None:
    settings = settings_for(
        **{"s3.bucket": bucket, "topics.inference_log": topic(), "serving.log_queue_size": 5}
    )
    registry = Registry(S3Store(settings))
    model, df = train()
    registry.register("credit", dump(model))
    registry.promote("credit", "v1")
    server = ModelServer(settings, "credit", registry=registry, port=0)
    server.sink.start = lambda: None  # type: ignore[method-assign]  # no consumer of the queue: it fills up
    with server, httpx.Client(base_url=server.url) as http:
        started = time.perf_counter()
        for _ in range(20):
            assert http.post("/v1/models/credit/predict", json={"instances": rows(df, 1)}).status_code == 200
        assert time.perf_counter() - started < 5
        metrics = http.get("/metrics").text
    assert 'driftloop_serving_log_records_dropped_total{model="credit"} 15.0' in metrics
