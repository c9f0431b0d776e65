"""Canary routing and the canary verdict (pure functions: no services)."""

from __future__ import annotations

import json
import uuid

import pytest

from driftloop.errors import UsageError
from driftloop.serving.router import Router, sticky_key
from workflows.deploy.analysis import CanaryLimits, VariantStats, Verdict, assess, judge, summarize

LIMITS = CanaryLimits(min_requests=100, min_labels=30)


def test_twenty_percent_of_2000_request_ids_go_to_the_canary_and_stick() -> None:
    router = Router()
    keys = [sticky_key(uuid.uuid4().hex, b"body") for _ in range(2000)]
    routes = [router.choose(k, 0.2) for k in keys]
    assert 0.15 <= routes.count("canary") / 2000 <= 0.25
    assert routes == [router.choose(k, 0.2) for k in keys]  # sticky per request id and body
    assert {router.choose(k, 0.0) for k in keys} == {"champion"}


def test_routes_depend_on_the_servers_secret_key_and_the_body() -> None:
    """A client cannot compute which ids land on the canary (the key is the server's), and an id seen on
    the canary does not carry a different body there."""
    ids = [uuid.uuid4().hex for _ in range(400)]
    one, other = Router(), Router()
    mine = [one.choose(sticky_key(i, b"a"), 0.5) for i in ids]
    assert mine != [other.choose(sticky_key(i, b"a"), 0.5) for i in ids]  # another key: other routes
    assert mine != [one.choose(sticky_key(i, b"b"), 0.5) for i in ids]  # another body: a fresh draw
    assert sticky_key(None, b"a") is None


def stats(version: str, requests: int, errors: int = 0, p95: float = 2.0, labeled: int = 0, correct: int = 0):
    # every request as slow as the p95 (the sequential latency rule counts requests above the ceiling)
    return VariantStats(version, requests, errors, p95, labeled, correct, latencies_ms=[p95] * requests)


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
        # 0.50 vs 0.80 on 100/100 labels (0.60 on 50 was enough for the old one-look z-test, not for an
        # anytime-valid bound at a single look)
        (stats("v2", 200, labeled=100, correct=50), "accuracy"),
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
def test_fixed_rule_rolls_back_only_when_significantly_worse(
    canary_correct: int, confidence: float, decision: str
) -> None:
    """The previous rule (kept as ``rule="fixed"``, the benchmark's baseline): a one-look z-test."""
    limits = CanaryLimits(min_requests=100, min_labels=30, accuracy_confidence=confidence, rule="fixed")
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


def test_a_batchs_rows_count_as_one_latency() -> None:
    """A batch of 10 rows is one HTTP request with one latency (every row is logged with it): one slow
    batch among four is 25 % of the requests, not 10 of 40 rows weighed as 10 independent requests."""

    def batch(rid: str, ts: int, latency: float) -> list[dict]:
        return [
            {
                "model_version": "v2",
                "request_id": f"{rid}-{i}",
                "prediction": 1,
                "timestamp": ts,
                "latency_ms": latency,
            }
            for i in range(10)
        ]

    records = batch("a", 1, 200.0) + batch("b", 2, 5.0) + batch("c", 3, 6.0) + batch("d", 3, 5.0)
    s = summarize(records, {}, "v2")
    assert s.requests == 40  # rows: the error rate and the labels stay per row
    assert s.latencies_ms == [5.0, 5.0, 6.0, 200.0] and s.slower_than(100.0) == 1
    # records without a timestamp (older logs) keep every latency
    assert (
        len(
            summarize(
                [{k: v for k, v in r.items() if k != "timestamp"} for r in records], {}, "v2"
            ).latencies_ms
        )
        == 40
    )


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


@pytest.mark.parametrize(
    ("canary_correct", "confidence", "decision"),
    [
        (78, 0.95, "promote"),  # 0.78 vs 0.80 on 100 vs 400 labels: within sampling noise
        (70, 0.95, "promote"),  # z ≈ 2.0 at one look: enough for a fixed-horizon test, not for one that peeks
        (55, 0.95, "rollback"),  # z ≈ 4.7: beyond the anytime boundary (≈ 3.0 here)
        (55, 0.99, "rollback"),
    ],
)
def test_sequential_rule_rolls_back_only_beyond_the_anytime_boundary(
    canary_correct: int, confidence: float, decision: str
) -> None:
    limits = CanaryLimits(min_requests=100, min_labels=30, accuracy_confidence=confidence)
    champion = stats("v1", 800, labeled=400, correct=320)
    canary = stats("v2", 200, labeled=100, correct=canary_correct)
    assert judge(champion, canary, limits)[0] == decision


def test_assessment_records_statistic_bounds_and_sizes() -> None:
    found = assess(
        stats("v1", 800, 1, labeled=400, correct=320), stats("v2", 200, labeled=100, correct=55), LIMITS
    )
    assert found.decision == "rollback" and found.settled
    by_rule = {c["rule"]: c for c in found.checks}
    assert set(by_rule) == {"error_rate", "latency", "accuracy"}
    acc = by_rule["accuracy"]
    assert acc["n"] == {"canary": 100, "champion": 400} and acc["outcome"] == "worse"
    assert acc["estimate"] == pytest.approx(0.55 - 0.80)
    assert acc["lower"] < acc["estimate"] < acc["upper"] < -LIMITS.accuracy_margin
    assert acc["alpha"] == pytest.approx(0.05 * 0.8) and acc["z_boundary"] > 1.645
    assert by_rule["latency"]["ceiling_ms"] == 7.0 and by_rule["latency"]["estimate"] == 0.0
    assert "≤" in found.reasons[0]  # the reason quotes the bound


def test_clearly_better_canary_is_settled_early_an_equal_one_is_not() -> None:
    champion = stats("v1", 2000, labeled=1000, correct=800)
    better = assess(champion, stats("v2", 500, labeled=500, correct=450), LIMITS)
    assert better.decision == "promote" and better.settled  # shown not worse: no need to wait
    equal = assess(champion, stats("v2", 500, labeled=500, correct=400), LIMITS)
    assert equal.decision == "promote" and not equal.settled  # promoted only at the deadline
    with_margin = CanaryLimits(min_requests=100, min_labels=30, accuracy_margin=0.1)
    assert assess(champion, stats("v2", 500, labeled=500, correct=400), with_margin).settled


def test_broken_canary_is_rolled_back_before_min_requests() -> None:
    decision, reasons = judge(stats("v1", 800, 1), stats("v2", 30, errors=15), LIMITS)
    assert decision == "rollback" and reasons[0].startswith("error rate")
    assert judge(stats("v1", 800, 1), stats("v2", 30, errors=3), LIMITS)[0] == "inconclusive"


def test_verdict_dict_keeps_the_keys_other_code_reads() -> None:
    champion, canary = stats("v1", 800, labeled=400, correct=320), stats("v2", 200, labeled=100, correct=55)
    found = assess(champion, canary, LIMITS)
    verdict = Verdict(
        found.decision,
        "credit",
        "v2",
        "v1",
        found.reasons,
        canary,
        champion,
        checks=found.checks,
        stopped_by="evidence",
    )
    data = json.loads(verdict.to_json())
    assert data["decision"] == "rollback" and data["reasons"] == found.reasons
    assert data["rule"] == "sequential" and data["stopped_by"] == "evidence"
    assert data["canary"]["accuracy"] == 0.55 and "latencies_ms" not in data["canary"]
    assert [c["rule"] for c in data["checks"]] == ["error_rate", "latency", "accuracy"]


def test_unknown_rule_is_refused() -> None:
    with pytest.raises(UsageError, match="rule"):
        CanaryLimits.from_kwargs(rule="bayesian")
