"""Canary decision rules: one look at the evidence, canary vs champion (pure: no I/O).

:func:`assess` applies ``limits.rule`` to both versions' :class:`~workflows.deploy.canary_stats.VariantStats`
(:func:`judge` returns just its decision and reasons); the watch loop
(:func:`workflows.deploy.analysis.watch`) calls it at every poll and applies the deadline.

With ``rule="sequential"`` (the default) each rule is an anytime-valid one-sided confidence sequence
(:mod:`workflows.deploy.sequential`), so looking at every poll and stopping at the first clear answer
keeps its error rate at its share of ``alpha = 1 - accuracy_confidence`` (labels 80 %, error rate 10 %,
latency 10 %: a canary within every limit — an equal one in particular — is rolled back with
probability ≤ alpha over the whole watch, extension included):

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
* otherwise the assessment is **inconclusive** while the canary has served fewer than ``min_requests``
  requests (or, with ``require_labels``, has fewer than ``min_labels`` labels per side), and a
  **promote** that is not yet settled once it has: the watch loop decides at the deadline.

``rule="fixed"`` keeps the previous rule for comparison (``tests/benchmarks/bench_canary.py``): a
fixed-horizon one-sided z-test (pooled) or Welch test re-run at every poll, the error rate and p95 by
their point estimates, and an early promote as soon as ``min_labels`` labels are in on each side.

Each assessment's ``checks`` hold every rule's statistic and bounds with the sample sizes per side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from workflows.deploy import sequential as seq
from workflows.deploy.canary_limits import CanaryLimits
from workflows.deploy.canary_stats import VariantStats

__all__ = ["Assessment", "Decision", "assess", "judge"]

Decision = Literal["promote", "rollback", "inconclusive"]
_EARLY_ERRORS = 10
#: How alpha is split between the rules (a union bound keeps the total at alpha).
_ALPHA_SHARE = {"labels": 0.8, "error_rate": 0.1, "latency": 0.1}
#: The latency rule compares the canary's p95: its share of requests above the ceiling vs 5 %.
_TAIL = 0.05


@dataclass
class Assessment:
    """One look at the evidence: the decision so far, why, each rule's statistic, and whether the
    evidence is enough to stop watching now (``settled``)."""

    decision: Decision
    reasons: list[str]
    checks: list[dict[str, Any]] = field(default_factory=list)
    settled: bool = False


def _pct(confidence: float) -> str:
    """``0.96`` -> ``96%``, ``0.9875`` -> ``98.75%``: a rollout step's share of alpha stays readable."""
    return f"{confidence * 100:.4g}%"


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
            f"{limit} (anytime {_pct(1 - alpha)} bound on the difference ≥ {cs.lower:.4g})"
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
            f"below by more than {limits.accuracy_margin} (anytime {_pct(1 - alpha)} bound on the difference "
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
                f"+{limits.max_error_rate_increase}; anytime {_pct(1 - alpha)} bound on the difference "
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
                f"requests slower; anytime {_pct(1 - alpha)} bound ≥ {cs.lower:.0%} > {_TAIL:.0%})"
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
                f"{_pct(limits.accuracy_confidence)} confidence)"
            )
        elif worse:
            bad.append(
                f"accuracy {canary.accuracy:.3f} vs champion {champion.accuracy:.3f} "
                f"on {canary.labeled}/{champion.labeled} labels (below by more than {limits.accuracy_margin} "
                f"at {_pct(limits.accuracy_confidence)} confidence)"
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
