"""Canary analysis: is the canary at least as good as the champion on live traffic?

Both versions' predictions are read from the inference log (every replica writes there, so this works
the same for the local server and for Kubernetes pods), joined by request id with the delayed labels on
the feedback topic. Per version: error rate, latencies and — where labels arrived — accuracy for a
classifier, mean absolute error for a regressor (``task``; a regressor is never judged by accuracy).
A shadow challenger's records (``"route": "shadow"``, the challenger's ``model_version``) are selected
the same way, by version, so a shadow is analysed with the same call (both versions then score the same
requests; the unpaired bounds below stay valid, only somewhat wider than a paired test's).

Decision (:func:`assess`, :func:`judge`), canary vs champion, with ``rule="sequential"`` (the default).
Each rule is an anytime-valid one-sided confidence sequence (:mod:`workflows.deploy.sequential`), so
looking at every poll and stopping at the first clear answer keeps its error rate at its share of
``alpha = 1 - accuracy_confidence`` (labels 80 %, error rate 10 %, latency 10 %: a canary within every
limit — an equal one in particular — is rolled back with probability ≤ alpha over the whole watch,
extension included):

* **rollback** as soon as the evidence shows harm: the difference of error rates (canary - champion) is
  above ``max_error_rate_increase``; or the share of canary requests slower than the latency ceiling
  ``max(champion p95 × max_p95_latency_ratio, champion p95 + latency_slack_ms)`` is above 5 % (i.e. the
  canary's p95 is above the ceiling; the ceiling uses the champion's observed p95, which with 80 % of
  the traffic is the better-measured side); or, with at least ``min_labels`` labels on each side, the
  accuracy difference is below ``-accuracy_margin`` (non-inferiority, unpooled variances) — for a
  regressor, the difference of mean absolute errors is above ``error_margin``. Error and latency need
  ``min_requests`` canary requests first (or ``10`` canary errors: a broken canary is not kept waiting).
* **promote early** when the label rule shows the canary is *not worse* (the accuracy difference's
  bound is above ``-accuracy_margin``; the MAE difference's is below ``error_margin``) and nothing
  showed harm. With a zero margin that takes a canary that is really better; an equal one waits for
  the deadline.
* **at the deadline** (``duration_s`` after the start): a canary whose tests showed no harm is
  promoted if it served ``min_requests`` requests (and, with ``require_labels``, has ``min_labels``
  labels per side); with less evidence than that it is **inconclusive**: the window is extended once
  (the confidence sequences simply continue), and still inconclusive at the second deadline it is
  **rolled back** — a canary is never promoted on too little traffic. A canary worse by less than the
  window's data can show is promoted at the deadline (``bench_canary.py`` measures how often for a
  5-point accuracy drop); a longer ``canary_duration_s`` buys more evidence.

``rule="fixed"`` keeps the previous rule for comparison (``tests/benchmarks/bench_canary.py``): a
fixed-horizon one-sided z-test (pooled) or Welch test re-run at every poll, the error rate and p95 by
their point estimates, and an early promote as soon as ``min_labels`` labels are in on each side.

The verdict is recorded on the canary version in the registry (``records["canary_analysis"]``, see
:meth:`Verdict.to_dict`: the decision and reasons, each rule's statistic and bounds with the sample sizes
per side under ``checks``, the rule and what stopped the watch) and returned for the workflow outputs.
"""

from __future__ import annotations

import bisect
import json
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

from driftloop.config import Settings
from driftloop.errors import UsageError
from driftloop.registry import Registry
from workflows.deploy import sequential as seq

__all__ = [
    "Assessment",
    "CanaryLimits",
    "Decision",
    "VariantStats",
    "Verdict",
    "analyze_canary",
    "assess",
    "judge",
    "summarize",
    "watch",
]

log = logging.getLogger("driftloop.serving")

Decision = Literal["promote", "rollback", "inconclusive"]
_EARLY_ERRORS = 10
#: How alpha is split between the rules (a union bound keeps the total at alpha).
_ALPHA_SHARE = {"labels": 0.8, "error_rate": 0.1, "latency": 0.1}
#: The latency rule compares the canary's p95: its share of requests above the ceiling vs 5 %.
_TAIL = 0.05


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
    # the same model: a canary is rolled back only with evidence at this confidence (1 - alpha).
    accuracy_confidence: float = 0.95
    poll_s: float = 2.0
    task: str = "classification"  # regression: judged by the MAE on feedback labels
    error_margin: float = 0.0  # regression: how much larger the canary's MAE may be (label units)
    rule: str = "sequential"  # or "fixed": the previous peeking fixed-horizon rule (for comparison)
    # The effective per-side sample size where the sequential bounds are tightest (any value is valid;
    # near the labels a window collects is best).
    tightest_at: float = 250.0

    def __post_init__(self) -> None:
        if self.rule not in ("sequential", "fixed"):
            raise UsageError(f"unknown canary rule {self.rule!r}", "use rule 'sequential' or 'fixed'")
        if not 0 < self.accuracy_confidence < 1 or self.tightest_at <= 0:
            raise UsageError(
                "canary accuracy_confidence must be in (0, 1) and tightest_at positive",
                "for example accuracy_confidence 0.95, tightest_at 250",
            )

    @property
    def alpha(self) -> float:
        return 1 - self.accuracy_confidence

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
    # every latency, ascending (the latency rule counts the canary's requests above the ceiling)
    latencies_ms: list[float] = field(default_factory=list, repr=False)

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

    def slower_than(self, ceiling_ms: float) -> int:
        """How many of the latencies are above ``ceiling_ms``."""
        return len(self.latencies_ms) - bisect.bisect_right(self.latencies_ms, ceiling_ms)

    def to_dict(self) -> dict[str, Any]:
        out = {**asdict(self), "error_rate": self.error_rate}
        out.pop("latencies_ms")
        if self.task == "regression":
            out["mae"] = self.mae
            out.pop("correct")
        else:
            out["accuracy"] = self.accuracy
            out.pop("abs_error_sum")
            out.pop("abs_error_sq_sum")
        return out


@dataclass
class Assessment:
    """One look at the evidence: the decision so far, why, each rule's statistic, and whether the
    evidence is enough to stop watching now (``settled``)."""

    decision: Decision
    reasons: list[str]
    checks: list[dict[str, Any]] = field(default_factory=list)
    settled: bool = False


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
    rule: str = "sequential"
    stopped_by: str = "evidence"  # "evidence" | "deadline" | "extension" (inconclusive twice)
    checks: list[dict[str, Any]] = field(default_factory=list)

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
            "rule": self.rule,
            "stopped_by": self.stopped_by,
            "checks": self.checks,
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
    latencies.sort()
    stats.latencies_ms = latencies
    stats.p95_latency_ms = _p95(latencies)
    return stats


# --- the sequential rule --------------------------------------------------------------------------------


def _check(
    name: str, statistic: str, cs: seq.Interval, limit: float, canary_n: int, champion_n: int, outcome: str
) -> dict[str, Any]:
    return {
        "rule": name,
        "test": "one-sided normal-mixture confidence sequence (anytime-valid)",
        "statistic": statistic,
        **cs.to_dict(),
        "limit": limit,
        "n": {"canary": canary_n, "champion": champion_n},
        "outcome": outcome,
    }


def _label_check(
    champion: VariantStats, canary: VariantStats, limits: CanaryLimits
) -> tuple[dict[str, Any], str | None, bool]:
    """The accuracy (classifier) or MAE (regressor) rule: its record, a harm reason, cleared or not."""
    alpha = limits.alpha * _ALPHA_SHARE["labels"]
    n_c, n_h = canary.labeled, champion.labeled
    if limits.task == "regression":
        cs = seq.difference_of_means(
            canary.abs_error_sum / n_c,
            canary.mae_variance,
            n_c,
            champion.abs_error_sum / n_h,
            champion.mae_variance,
            n_h,
            alpha=alpha,
            tightest_at=limits.tightest_at,
        )
        limit = limits.error_margin
        harm, cleared = cs.above(limit), cs.below(limit)
        statistic = "canary MAE - champion MAE"
        why = (
            f"MAE {canary.mae:.4g} vs champion {champion.mae:.4g} on {n_c}/{n_h} labels: larger by more than "
            f"{limit} (anytime {1 - alpha:.0%} bound on the difference ≥ {cs.lower:.4g})"
        )
    else:
        cs = seq.difference_of_proportions(
            canary.correct, n_c, champion.correct, n_h, alpha=alpha, tightest_at=limits.tightest_at
        )
        limit = -limits.accuracy_margin
        harm, cleared = cs.below(limit), cs.above(limit)
        statistic = "canary accuracy - champion accuracy"
        why = (
            f"accuracy {canary.accuracy:.3f} vs champion {champion.accuracy:.3f} on {n_c}/{n_h} labels: "
            f"below by more than {limits.accuracy_margin} (anytime {1 - alpha:.0%} bound on the difference "
            f"≤ {cs.upper:.3f})"
        )
    outcome = "worse" if harm else "not worse" if cleared else "open"
    name = "mae" if limits.task == "regression" else "accuracy"
    return _check(name, statistic, cs, limit, n_c, n_h, outcome), why if harm else None, cleared


def _judge_sequential(champion: VariantStats, canary: VariantStats, limits: CanaryLimits) -> Assessment:
    checks: list[dict[str, Any]] = []
    bad: list[str] = []
    enough = canary.requests >= limits.min_requests
    guarded = enough or canary.errors >= _EARLY_ERRORS  # error and latency rules are in force
    if guarded and champion.requests:
        alpha = limits.alpha * _ALPHA_SHARE["error_rate"]
        cs = seq.difference_of_proportions(
            canary.errors,
            canary.requests,
            champion.errors,
            champion.requests,
            alpha=alpha,
            tightest_at=limits.tightest_at,
        )
        harm = cs.above(limits.max_error_rate_increase)
        checks.append(
            _check(
                "error_rate",
                "canary error rate - champion error rate",
                cs,
                limits.max_error_rate_increase,
                canary.requests,
                champion.requests,
                "worse" if harm else "open",
            )
        )
        if harm:
            bad.append(
                f"error rate {canary.error_rate:.3f} vs champion {champion.error_rate:.3f} (allowed "
                f"+{limits.max_error_rate_increase}; anytime {1 - alpha:.1%} bound on the difference "
                f"≥ {cs.lower:.3f})"
            )
    if guarded and canary.latencies_ms and champion.p95_latency_ms is not None:
        alpha = limits.alpha * _ALPHA_SHARE["latency"]
        ceiling = max(
            champion.p95_latency_ms * limits.max_p95_latency_ratio,
            champion.p95_latency_ms + limits.latency_slack_ms,
        )
        slow = canary.slower_than(ceiling)
        cs = seq.proportion(slow, len(canary.latencies_ms), alpha=alpha, tightest_at=limits.tightest_at)
        harm = cs.above(_TAIL)
        check = _check(
            "latency",
            f"share of canary requests slower than {ceiling:.1f} ms",
            cs,
            _TAIL,
            len(canary.latencies_ms),
            champion.requests,
            "worse" if harm else "open",
        )
        checks.append({**check, "ceiling_ms": ceiling})
        if harm:
            bad.append(
                f"p95 latency {canary.p95_latency_ms:.1f} ms > {ceiling:.1f} ms ({cs.estimate:.0%} of canary "
                f"requests slower; anytime {1 - alpha:.1%} bound ≥ {cs.lower:.0%} > {_TAIL:.0%})"
            )
    labeled = canary.labeled >= limits.min_labels and champion.labeled >= limits.min_labels
    cleared = False
    if labeled:
        check, why, cleared = _label_check(champion, canary, limits)
        checks.append(check)
        if why:
            bad.append(why)
    if bad:
        return Assessment("rollback", bad, checks, settled=True)
    early = _not_ready(champion, canary, limits, labeled)
    if early:
        return Assessment("inconclusive", early, checks)
    ok = [f"error rate {canary.error_rate:.3f} vs {champion.error_rate:.3f}"]
    regression = limits.task == "regression"
    if labeled and regression:
        ok.append(f"MAE {canary.mae:.4g} vs {champion.mae:.4g}" + (" (shown not worse)" if cleared else ""))
    elif labeled:
        ok.append(
            f"accuracy {canary.accuracy:.3f} vs {champion.accuracy:.3f}"
            + (" (shown not worse)" if cleared else "")
        )
    else:
        ok.append("too few labels to compare " + ("errors" if regression else "accuracy"))
    return Assessment("promote", ok, checks, settled=cleared)


def _not_ready(
    champion: VariantStats, canary: VariantStats, limits: CanaryLimits, labeled: bool
) -> list[str] | None:
    if canary.requests < limits.min_requests:
        return [f"canary served {canary.requests} requests, {limits.min_requests} needed"]
    if limits.require_labels and not labeled:
        return [
            f"labels: canary {canary.labeled}, champion {champion.labeled}, "
            f"{limits.min_labels} needed on each side"
        ]
    return None


# --- the previous fixed-horizon rule (kept as the benchmark's baseline) -------------------------------------


def _fixed_z(canary: VariantStats, champion: VariantStats, limits: CanaryLimits) -> float | None:
    """The old rule's statistic: pooled two-proportion z (accuracy) or Welch z (MAE); None if undefined."""
    if canary.labeled == 0 or champion.labeled == 0:
        return None
    if limits.task == "regression":
        gap = canary.abs_error_sum / canary.labeled - (
            champion.abs_error_sum / champion.labeled + limits.error_margin
        )
        se = math.sqrt(canary.mae_variance / canary.labeled + champion.mae_variance / champion.labeled)
        return gap / se if se else (math.inf if gap > 0 else -math.inf if gap < 0 else 0.0)
    gap = canary.correct / canary.labeled - (champion.correct / champion.labeled - limits.accuracy_margin)
    if gap >= 0:
        return 0.0
    pooled = (canary.correct + champion.correct) / (canary.labeled + champion.labeled)
    se = math.sqrt(pooled * (1 - pooled) * (1 / canary.labeled + 1 / champion.labeled))
    return -gap / se if se else math.inf  # positive = canary worse


def _judge_fixed(champion: VariantStats, canary: VariantStats, limits: CanaryLimits) -> Assessment:
    from statistics import NormalDist

    bad: list[str] = []
    checks: list[dict[str, Any]] = []
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
    z = _fixed_z(canary, champion, limits) if labeled else None
    critical = NormalDist().inv_cdf(limits.accuracy_confidence)
    if z is not None:
        worse = z > critical
        checks.append(
            {
                "rule": "mae" if regression else "accuracy",
                "test": "one-sided Welch z-test" if regression else "one-sided pooled two-proportion z-test",
                "statistic": "z (positive = canary worse)",
                "z": z,
                "critical": critical,
                "n": {"canary": canary.labeled, "champion": champion.labeled},
                "outcome": "worse" if worse else "not shown worse",
            }
        )
        if worse and regression:
            bad.append(
                f"MAE {canary.mae:.4g} vs champion {champion.mae:.4g} on {canary.labeled}/{champion.labeled} "
                f"labels (above by more than {limits.error_margin} at "
                f"{limits.accuracy_confidence:.0%} confidence)"
            )
        elif worse:
            bad.append(
                f"accuracy {canary.accuracy:.3f} vs champion {champion.accuracy:.3f} "
                f"on {canary.labeled}/{champion.labeled} labels (below by more than {limits.accuracy_margin} "
                f"at {limits.accuracy_confidence:.0%} confidence)"
            )
    enough = canary.requests >= limits.min_requests
    # A canary that already failed _EARLY_ERRORS requests is rolled back without waiting for min_requests.
    if bad and (enough or canary.errors >= _EARLY_ERRORS):
        return Assessment("rollback", bad, checks, settled=True)
    early = _not_ready(champion, canary, limits, labeled)
    if early:
        return Assessment("inconclusive", early, checks)
    ok = [f"error rate {canary.error_rate:.3f} vs {champion.error_rate:.3f}"]
    if labeled and regression:
        ok.append(f"MAE {canary.mae:.4g} vs {champion.mae:.4g}")
    elif labeled:
        ok.append(f"accuracy {canary.accuracy:.3f} vs {champion.accuracy:.3f}")
    else:
        ok.append("too few labels to compare " + ("errors" if regression else "accuracy"))
    # the old loop promoted as soon as labels could be compared
    return Assessment("promote", ok, checks, settled=labeled)


def assess(champion: VariantStats, canary: VariantStats, limits: CanaryLimits) -> Assessment:
    """One look at the evidence under ``limits.rule`` (pure: see the module docstring)."""
    if limits.rule == "fixed":
        return _judge_fixed(champion, canary, limits)
    return _judge_sequential(champion, canary, limits)


def judge(champion: VariantStats, canary: VariantStats, limits: CanaryLimits) -> tuple[Decision, list[str]]:
    """The decision and its reasons (pure: see the module docstring)."""
    found = assess(champion, canary, limits)
    return found.decision, found.reasons


# --- watching ---------------------------------------------------------------------------------------------


def watch(
    observe: Callable[[], tuple[VariantStats, VariantStats]],
    limits: CanaryLimits,
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[Assessment, VariantStats, VariantStats, bool, str]:
    """Look every ``poll_s`` until the evidence settles or the deadline; the deadline rule of the module
    docstring. ``observe()`` returns (champion, canary) so far. Returns the last assessment, the stats,
    whether the window was extended and what stopped the watch."""
    deadline = clock() + limits.duration_s
    extended = False
    while True:
        champion, canary = observe()
        found = assess(champion, canary, limits)
        if found.settled:
            return found, champion, canary, extended, "evidence"
        if clock() < deadline:
            sleep(min(limits.poll_s, max(0.0, deadline - clock())))
            continue
        if found.decision != "inconclusive":
            return found, champion, canary, extended, "deadline"
        if not extended:
            log.info("canary %s inconclusive (%s); extending once", canary.version, found.reasons[0])
            extended = True
            deadline = clock() + limits.duration_s
            continue
        reasons = [*found.reasons, "still inconclusive after one extension: rolling back"]
        return replace(found, decision="rollback", reasons=reasons), champion, canary, extended, "extension"


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
    """Watch the canary ``version`` of ``model`` and decide; record and return the verdict.

    ``since_ms`` starts the evidence window (default: when the canary was deployed, from its
    ``canary_deploy`` record): a step of a progressive rollout passes the step's start so each step is
    judged on its own traffic. A shadow challenger is analysed by the same call (its records carry its
    version)."""
    limits = limits or CanaryLimits()
    champion_version = registry.get_alias(model, "champion")
    if since_ms is None:
        deployed = registry.get(model, version).records.get("canary_deploy") or {}
        since_ms = int(deployed.get("started_ms") or (clock() - limits.duration_s) * 1000)
    start = since_ms

    def observe() -> tuple[VariantStats, VariantStats]:
        records, labels = collect(settings, model, start)
        return (
            summarize(records, labels, champion_version, limits.task),
            summarize(records, labels, version, limits.task),
        )

    found, champion, canary, extended, stopped_by = watch(observe, limits, clock=clock, sleep=sleep)
    verdict = Verdict(
        found.decision,
        model,
        version,
        champion_version,
        found.reasons,
        canary,
        champion,
        extended,
        since_ms,
        int(clock() * 1000),
        asdict(limits),
        limits.rule,
        stopped_by,
        found.checks,
    )
    registry.record(model, version, "canary_analysis", verdict.to_dict())
    log.info("canary %s %s: %s (%s)", model, version, found.decision, "; ".join(found.reasons))
    return verdict
