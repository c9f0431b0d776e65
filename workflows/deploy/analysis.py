"""Canary analysis: is the canary at least as good as the champion on live traffic?

Both versions' predictions are read from the inference log (every replica writes there, so this works
the same for the local server and for Kubernetes pods), joined by request id with the delayed labels on
the feedback topic. Per version: error rate, p95 latency and — where labels arrived — accuracy for a
classifier, mean absolute error for a regressor (``task``; a regressor is never judged by accuracy).

Decision (:func:`judge`), canary vs champion:

* **rollback** when the canary's error rate exceeds the champion's by more than
  ``max_error_rate_increase``; or its p95 latency exceeds ``max(champion × max_p95_latency_ratio,
  champion + latency_slack_ms)``; or, with at least ``min_labels`` labels on each side, its accuracy is
  below the champion's minus ``accuracy_margin`` (0 by default: a canary never replaces a less accurate
  champion). For a regressor the label rule is on the mean absolute error instead: rollback when a
  one-sided Welch test finds the canary's MAE above the champion's plus ``error_margin`` at
  ``accuracy_confidence``.
* **inconclusive** when the canary has fewer than ``min_requests`` requests (or, with
  ``require_labels``, too few labels).
* **promote** otherwise.

:func:`analyze_canary` watches for up to ``duration_s``; an inconclusive result extends the window once,
and a second inconclusive result becomes a rollback. The verdict is recorded on the canary version in
the registry (``records["canary_analysis"]``) and returned for the workflow outputs.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from driftloop.config import Settings
from driftloop.errors import UsageError
from driftloop.registry import Registry

__all__ = ["CanaryLimits", "Decision", "VariantStats", "Verdict", "analyze_canary", "judge", "summarize"]

log = logging.getLogger("driftloop.serving")

Decision = Literal["promote", "rollback", "inconclusive"]
_EARLY_ERRORS = 10


@dataclass(frozen=True)
class CanaryLimits:
    duration_s: float = 300.0  # the analysis window (extended once when inconclusive)
    min_requests: int = 100  # canary requests needed for a verdict
    min_labels: int = 30  # labels needed on each side before accuracy counts
    require_labels: bool = False  # inconclusive without enough labels
    max_error_rate_increase: float = 0.01
    max_p95_latency_ratio: float = 1.5
    latency_slack_ms: float = 5.0  # p95 differences below this are noise, whatever the ratio
    accuracy_margin: float = 0.0
    # The two versions are scored on different requests, so their accuracies differ by chance even for
    # the same model: a lower canary accuracy counts only when a one-sided two-proportion z-test says
    # it is lower than (champion - margin) at this confidence.
    accuracy_confidence: float = 0.95
    poll_s: float = 2.0
    task: str = "classification"  # regression: judged by the MAE on feedback labels
    error_margin: float = 0.0  # regression: how much larger the canary's MAE may be (label units)

    @classmethod
    def from_kwargs(cls, **limits: Any) -> CanaryLimits:
        """Build from keyword limits (workflow parameters arrive as strings)."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(limits) - set(known))
        if unknown:
            raise UsageError(f"unknown canary limits {unknown}", f"use some of {sorted(known)}")
        values: dict[str, Any] = {}
        for name, value in limits.items():
            if value is None or value == "":
                continue
            kind = type(getattr(cls(), name))
            if kind is bool:
                values[name] = str(value).lower() in ("1", "true", "yes")
            else:
                values[name] = value if kind is str else kind(value)
        return cls(**values)


@dataclass
class VariantStats:
    version: str | None
    requests: int = 0
    errors: int = 0
    p95_latency_ms: float | None = None
    labeled: int = 0
    correct: int = 0
    abs_error_sum: float = 0.0  # regression: sum and sum of squares of |label - prediction|
    abs_error_sq_sum: float = 0.0
    task: str = "classification"

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.labeled if self.labeled else None

    @property
    def mae(self) -> float | None:
        return self.abs_error_sum / self.labeled if self.labeled else None

    @property
    def mae_variance(self) -> float:
        """The sample variance of the absolute errors (0 with fewer than two labels)."""
        if self.labeled < 2:
            return 0.0
        mean = self.abs_error_sum / self.labeled
        return max(0.0, (self.abs_error_sq_sum - self.labeled * mean * mean) / (self.labeled - 1))

    def to_dict(self) -> dict[str, Any]:
        out = {**asdict(self), "error_rate": self.error_rate}
        if self.task == "regression":
            out["mae"] = self.mae
            out.pop("correct")
        else:
            out["accuracy"] = self.accuracy
            out.pop("abs_error_sum")
            out.pop("abs_error_sq_sum")
        return out


@dataclass
class Verdict:
    decision: Decision
    model: str
    canary_version: str
    champion_version: str | None
    reasons: list[str]
    canary: VariantStats
    champion: VariantStats
    extended: bool = False
    since_ms: int = 0
    until_ms: int = 0
    limits: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "model": self.model,
            "canary_version": self.canary_version,
            "champion_version": self.champion_version,
            "reasons": self.reasons,
            "canary": self.canary.to_dict(),
            "champion": self.champion.to_dict(),
            "extended": self.extended,
            "since_ms": self.since_ms,
            "until_ms": self.until_ms,
            "limits": self.limits,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


def _p95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def _same(label: Any, prediction: Any) -> bool:
    return bool(label == prediction or str(label) == str(prediction))


def _abs_error(label: Any, prediction: Any) -> float | None:
    try:
        err = abs(float(label) - float(prediction))
    except (TypeError, ValueError):
        return None
    return err if math.isfinite(err) else None


def summarize(
    records: Iterable[dict[str, Any]],
    labels: dict[str, Any],
    version: str | None,
    task: str = "classification",
) -> VariantStats:
    """Stats of one version from inference-log records and labels (request id -> label)."""
    stats = VariantStats(version, task=task)
    latencies: list[float] = []
    for rec in records:
        if version is None or rec.get("model_version") != version:
            continue
        stats.requests += 1
        if "error" in rec:
            stats.errors += 1
        if isinstance(rec.get("latency_ms"), int | float):
            latencies.append(float(rec["latency_ms"]))
        rid = rec.get("request_id")
        if "error" not in rec and rid in labels:
            if task == "regression":
                err = _abs_error(labels[rid], rec.get("prediction"))
                if err is None:  # a non-numeric label or prediction cannot be scored
                    continue
                stats.labeled += 1
                stats.abs_error_sum += err
                stats.abs_error_sq_sum += err * err
            else:
                stats.labeled += 1
                stats.correct += _same(labels[rid], rec.get("prediction"))
    stats.p95_latency_ms = _p95(latencies)
    return stats


def _significantly_less_accurate(canary: VariantStats, champion: VariantStats, limits: CanaryLimits) -> bool:
    """One-sided two-proportion z-test of ``canary accuracy < champion accuracy - margin``."""
    from statistics import NormalDist

    if canary.accuracy is None or champion.accuracy is None:
        return False
    gap = canary.accuracy - (champion.accuracy - limits.accuracy_margin)
    if gap >= 0:
        return False
    pooled = (canary.correct + champion.correct) / (canary.labeled + champion.labeled)
    se = math.sqrt(pooled * (1 - pooled) * (1 / canary.labeled + 1 / champion.labeled))
    if se == 0:
        return True
    return gap / se < -NormalDist().inv_cdf(limits.accuracy_confidence)


def _significantly_larger_error(canary: VariantStats, champion: VariantStats, limits: CanaryLimits) -> bool:
    """One-sided Welch test of ``canary MAE > champion MAE + error_margin`` (regression)."""
    from statistics import NormalDist

    if canary.mae is None or champion.mae is None:
        return False
    gap = canary.mae - (champion.mae + limits.error_margin)
    se = math.sqrt(canary.mae_variance / canary.labeled + champion.mae_variance / champion.labeled)
    if se == 0:
        return gap > 0
    return gap / se > NormalDist().inv_cdf(limits.accuracy_confidence)


def judge(champion: VariantStats, canary: VariantStats, limits: CanaryLimits) -> tuple[Decision, list[str]]:
    """The decision and its reasons (pure: see the module docstring)."""
    bad: list[str] = []
    if canary.requests and canary.error_rate > champion.error_rate + limits.max_error_rate_increase:
        bad.append(
            f"error rate {canary.error_rate:.3f} vs champion {champion.error_rate:.3f} "
            f"(allowed +{limits.max_error_rate_increase})"
        )
    if canary.p95_latency_ms is not None and champion.p95_latency_ms is not None:
        ceiling = max(
            champion.p95_latency_ms * limits.max_p95_latency_ratio,
            champion.p95_latency_ms + limits.latency_slack_ms,
        )
        if canary.p95_latency_ms > ceiling:
            bad.append(f"p95 latency {canary.p95_latency_ms:.1f} ms > {ceiling:.1f} ms")
    labeled = canary.labeled >= limits.min_labels and champion.labeled >= limits.min_labels
    regression = limits.task == "regression"
    if labeled and regression and _significantly_larger_error(canary, champion, limits):
        bad.append(
            f"MAE {canary.mae:.4g} vs champion {champion.mae:.4g} on {canary.labeled}/{champion.labeled} "
            f"labels (above by more than {limits.error_margin} at "
            f"{limits.accuracy_confidence:.0%} confidence)"
        )
    if labeled and not regression and _significantly_less_accurate(canary, champion, limits):
        bad.append(
            f"accuracy {canary.accuracy:.3f} vs champion {champion.accuracy:.3f} "
            f"on {canary.labeled}/{champion.labeled} labels (below by more than {limits.accuracy_margin} "
            f"at {limits.accuracy_confidence:.0%} confidence)"
        )
    enough = canary.requests >= limits.min_requests
    # A canary that already failed _EARLY_ERRORS requests is rolled back without waiting for min_requests.
    if bad and (enough or canary.errors >= _EARLY_ERRORS):
        return "rollback", bad
    if not enough:
        return "inconclusive", [f"canary served {canary.requests} requests, {limits.min_requests} needed"]
    if limits.require_labels and not labeled:
        return "inconclusive", [
            f"labels: canary {canary.labeled}, champion {champion.labeled}, "
            f"{limits.min_labels} needed on each side"
        ]
    ok = [f"error rate {canary.error_rate:.3f} vs {champion.error_rate:.3f}"]
    if labeled and regression:
        ok.append(f"MAE {canary.mae:.4g} vs {champion.mae:.4g}")
    elif labeled:
        ok.append(f"accuracy {canary.accuracy:.3f} vs {champion.accuracy:.3f}")
    else:
        ok.append("too few labels to compare " + ("errors" if regression else "accuracy"))
    return "promote", ok


def _read(settings: Settings, topic: str, since_ms: int) -> list[dict[str, Any]]:
    from driftloop.kafka import read_recent

    out = []
    for rec in read_recent(settings, topic, since_ms=since_ms):
        try:
            value = json.loads(rec.value)
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(value, dict):
            out.append(value)
    return out


def collect(settings: Settings, model: str, since_ms: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Inference-log records of ``model`` and feedback labels (request id -> label) since ``since_ms``."""
    records = [r for r in _read(settings, settings.topics.inference_log, since_ms) if r.get("model") == model]
    labels = {
        str(f["request_id"]): f.get("label")
        for f in _read(settings, settings.topics.feedback, since_ms)
        if f.get("request_id") is not None and f.get("model", model) == model
    }
    return records, labels


def analyze_canary(
    settings: Settings,
    registry: Registry,
    model: str,
    version: str,
    limits: CanaryLimits | None = None,
    *,
    since_ms: int | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Verdict:
    """Watch the canary ``version`` of ``model`` and decide; record and return the verdict."""
    limits = limits or CanaryLimits()
    champion_version = registry.get_alias(model, "champion")
    if since_ms is None:
        deployed = registry.get(model, version).records.get("canary_deploy") or {}
        since_ms = int(deployed.get("started_ms") or (clock() - limits.duration_s) * 1000)
    deadline = clock() + limits.duration_s
    extended = False
    while True:
        records, labels = collect(settings, model, since_ms)
        canary = summarize(records, labels, version, limits.task)
        champion = summarize(records, labels, champion_version, limits.task)
        decision, reasons = judge(champion, canary, limits)
        # Promote early only once labels could be compared; without them, watch the whole window.
        labels_done = min(canary.labeled, champion.labeled) >= limits.min_labels
        done = decision == "rollback" or (decision == "promote" and labels_done)
        if not done and clock() < deadline:
            sleep(min(limits.poll_s, max(0.0, deadline - clock())))
            continue
        if decision != "inconclusive" or clock() < deadline:
            break
        if not extended:
            log.info("canary %s %s inconclusive (%s); extending once", model, version, reasons[0])
            extended = True
            deadline = clock() + limits.duration_s
            continue
        decision = "rollback"
        reasons = [*reasons, "still inconclusive after one extension: rolling back"]
        break
    verdict = Verdict(
        decision,
        model,
        version,
        champion_version,
        reasons,
        canary,
        champion,
        extended,
        since_ms,
        int(clock() * 1000),
        asdict(limits),
    )
    registry.record(model, version, "canary_analysis", verdict.to_dict())
    log.info("canary %s %s: %s (%s)", model, version, decision, "; ".join(reasons))
    return verdict
