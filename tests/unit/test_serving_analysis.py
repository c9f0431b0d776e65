"""Canary routing and the canary verdict (pure functions: no services)."""

from __future__ import annotations

import uuid

import pytest

from driftloop.errors import UsageError
from driftloop.serving.router import choose_route
from workflows.deploy.analysis import CanaryLimits, VariantStats, judge, summarize

LIMITS = CanaryLimits(min_requests=100, min_labels=30)


def test_twenty_percent_of_2000_request_ids_go_to_the_canary_and_stick() -> None:
    ids = [uuid.uuid4().hex for _ in range(2000)]
    routes = [choose_route(i, 0.2, True) for i in ids]
    assert 0.15 <= routes.count("canary") / 2000 <= 0.25
    assert routes == [choose_route(i, 0.2, True) for i in ids]  # sticky per request id
    assert {choose_route(i, 0.2, False) for i in ids} == {"champion"}


def stats(version: str, requests: int, errors: int = 0, p95: float = 2.0, labeled: int = 0, correct: int = 0):
    return VariantStats(version, requests, errors, p95, labeled, correct)


def test_good_canary_is_promoted() -> None:
    decision, _ = judge(
        stats("v1", 800, 1, labeled=100, correct=80), stats("v2", 200, 0, labeled=50, correct=42), LIMITS
    )
    assert decision == "promote"


@pytest.mark.parametrize(
    ("canary", "reason"),
    [
        (stats("v2", 200, errors=20), "error rate"),
        (stats("v2", 200, p95=30.0), "p95 latency"),
        (stats("v2", 200, labeled=50, correct=30), "accuracy"),
    ],
)
def test_worse_canary_is_rolled_back(canary: VariantStats, reason: str) -> None:
    champion = stats("v1", 800, 1, labeled=100, correct=80)
    decision, reasons = judge(champion, canary, LIMITS)
    assert decision == "rollback" and reason in reasons[0]


@pytest.mark.parametrize(
    ("canary_correct", "confidence", "decision"),
    [
        (78, 0.95, "promote"),  # 0.78 vs 0.80 on 100 vs 400 labels: within sampling noise
        (70, 0.99, "promote"),  # 0.70 vs 0.80: z ≈ -2.16, not below -2.33 at 99 % ...
        (70, 0.95, "rollback"),  # ... but below -1.64 at 95 %
        (55, 0.999, "rollback"),  # 0.55 vs 0.80: far worse at any reasonable confidence
    ],
)
def test_accuracy_rolls_back_only_when_significantly_worse(
    canary_correct: int, confidence: float, decision: str
) -> None:
    limits = CanaryLimits(min_requests=100, min_labels=30, accuracy_confidence=confidence)
    champion = stats("v1", 800, labeled=400, correct=320)
    canary = stats("v2", 200, labeled=100, correct=canary_correct)
    assert judge(champion, canary, limits)[0] == decision


def test_too_little_traffic_or_labels_is_inconclusive() -> None:
    assert judge(stats("v1", 800), stats("v2", 20), LIMITS)[0] == "inconclusive"
    strict = CanaryLimits(min_requests=100, require_labels=True)
    assert judge(stats("v1", 800, labeled=5), stats("v2", 200, labeled=5), strict)[0] == "inconclusive"


def test_summarize_joins_labels_by_request_id() -> None:
    records = [
        {"model_version": "v2", "request_id": "a", "prediction": 1, "latency_ms": 1.0},
        {"model_version": "v2", "request_id": "b", "prediction": 0, "latency_ms": 3.0},
        {"model_version": "v2", "request_id": "c", "error": "boom", "latency_ms": 2.0},
        {"model_version": "v1", "request_id": "d", "prediction": 1, "latency_ms": 9.0},
    ]
    s = summarize(records, {"a": 1, "b": "1", "c": 1}, "v2")
    assert (s.requests, s.errors, s.labeled, s.correct, s.p95_latency_ms) == (3, 1, 2, 1, 3.0)


def test_limits_from_workflow_strings() -> None:
    limits = CanaryLimits.from_kwargs(duration_s="60", min_requests="10", require_labels="true")
    assert limits.duration_s == 60.0 and limits.min_requests == 10 and limits.require_labels is True
    with pytest.raises(UsageError):
        CanaryLimits.from_kwargs(nonsense=1)


def _regression_records(version: str, errors: list[float], start: int) -> tuple[list[dict], dict]:
    records, labels = [], {}
    for i, err in enumerate(errors):
        rid = f"r{start + i}"
        records.append({"request_id": rid, "model_version": version, "prediction": 100.0, "latency_ms": 1.0})
        labels[rid] = 100.0 + err
    return records, labels


def test_regressor_is_judged_by_its_error_not_accuracy():
    import random

    rng = random.Random(0)
    limits = CanaryLimits(task="regression", min_requests=50, min_labels=30)
    champ_r, champ_l = _regression_records("v1", [rng.gauss(0, 5) for _ in range(200)], 0)
    same_r, same_l = _regression_records("v2", [rng.gauss(0, 5) for _ in range(200)], 1000)
    worse_r, worse_l = _regression_records("v3", [rng.gauss(0, 15) for _ in range(200)], 2000)
    labels = {**champ_l, **same_l, **worse_l}
    records = champ_r + same_r + worse_r
    champion = summarize(records, labels, "v1", "regression")
    assert champion.labeled == 200 and champion.correct == 0 and 3 < champion.mae < 5
    same = summarize(records, labels, "v2", "regression")
    decision, reasons = judge(champion, same, limits)
    assert decision == "promote" and reasons[-1].startswith("MAE"), reasons
    worse = summarize(records, labels, "v3", "regression")
    decision, reasons = judge(champion, worse, limits)
    assert decision == "rollback" and "MAE" in reasons[0], reasons
    # with a margin as large as the gap, the worse canary is tolerated
    assert judge(champion, worse, CanaryLimits(task="regression", min_requests=50, error_margin=20.0))[0] == (
        "promote"
    )
