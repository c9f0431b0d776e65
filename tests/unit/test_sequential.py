"""The anytime-valid confidence sequences and the canary watch built on them (seeded simulations, no
services): the error rate holds under peeking, drops are caught, equal canaries promote."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy.optimize import brentq

from tests.benchmarks.bench_canary import SCENARIOS, Scenario, default_limits, run_one, streams
from workflows.deploy import sequential as seq

ALPHA = 0.05


@pytest.mark.parametrize("alpha", [0.2, 0.05, 0.01])
@pytest.mark.parametrize("r", [0.01, 0.5, 8.0, 1e4])
def test_boundary_is_where_the_e_value_reaches_one_over_alpha(alpha: float, r: float) -> None:
    exact = brentq(lambda z: seq.log_e_value(z, r) - math.log(1 / alpha), 0, 1e3)
    assert seq.boundary(r, alpha) == pytest.approx(exact, abs=1e-8)
    # always wider than the fixed-horizon one-sided critical value: the price of peeking
    assert seq.boundary(r, alpha) > {0.2: 0.84, 0.05: 1.64, 0.01: 2.33}[alpha]


def test_confidence_sequence_holds_at_every_look_where_a_repeated_z_test_does_not() -> None:
    rng = np.random.default_rng(1)
    paths, looks = 2000, 300
    a = rng.normal(0, 1, (paths, looks)).cumsum(axis=1)  # two equal arms, one observation per look each
    b = rng.normal(0, 1, (paths, looks)).cumsum(axis=1)
    n = np.arange(1, looks + 1)
    z = (a - b) / n / np.sqrt(2 / n)  # the standardized difference of means at each look
    z_star = np.array([seq.boundary(seq.mixture_ratio(k / 2, 50, ALPHA), ALPHA) for k in n])
    crossed = (z[:, 9:] > z_star[9:]).any(axis=1).mean()
    naive = (z[:, 9:] > 1.645).any(axis=1).mean()
    tolerance = 3 * math.sqrt(ALPHA * (1 - ALPHA) / paths)
    assert crossed <= ALPHA + tolerance
    assert naive > 3 * ALPHA  # re-running the fixed-horizon test at every look is wrong far more often


def test_interval_of_proportions_never_collapses() -> None:
    cs = seq.difference_of_proportions(0, 200, 0, 800, alpha=ALPHA, tightest_at=250)
    assert cs.estimate == 0 and cs.se > 0 and cs.lower < 0 < cs.upper
    assert not cs.above(0.01)
    share = seq.proportion(40, 100, alpha=ALPHA, tightest_at=250)
    assert share.above(0.05) and not share.below(0.05) and share.to_dict()["n_effective"] == 100
    with pytest.raises(ValueError):
        seq.proportion(0, 0, alpha=ALPHA, tightest_at=250)


def _rollbacks(
    sc: Scenario, canaries: int, seed: int, rule: str = "sequential"
) -> list[tuple[str, float, str]]:
    limits = default_limits(sc.task, rule)
    return [run_one(streams(sc, limits, seed + i), limits) for i in range(canaries)]


def test_equal_canaries_watched_at_every_poll_are_rarely_rolled_back() -> None:
    """400 equal classifier canaries, each judged at every 2 s poll for 300 s (the real watch loop)."""
    rows = _rollbacks(SCENARIOS["cls_equal"], 400, seed=10_000)
    false_rollback = sum(d == "rollback" for d, _, _ in rows) / len(rows)
    assert false_rollback <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / len(rows))
    promoted = [(t, how) for d, t, how in rows if d == "promote"]
    assert len(promoted) >= 0.9 * len(rows)
    # with a zero margin "not worse" means "better": shown for an equal canary only by chance (≤ alpha)
    early = [t for t, how in promoted if how == "evidence"]
    assert len(early) <= (ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / len(rows))) * len(rows)
    assert all(t == pytest.approx(300.0) for t, how in promoted if how == "deadline")


def test_clear_accuracy_drop_is_rolled_back_early() -> None:
    rows = _rollbacks(replace(SCENARIOS["cls_drop"], canary=0.60), 20, seed=20_000)
    caught = [t for d, t, how in rows if d == "rollback" and how == "evidence"]
    assert len(caught) >= 19 and float(np.median(caught)) < 150


def test_regressor_rolled_back_when_worse_promoted_early_when_better() -> None:
    worse = _rollbacks(replace(SCENARIOS["reg_worse"], canary=8.0), 20, seed=30_000)
    assert sum(d == "rollback" for d, _, _ in worse) >= 19
    better = _rollbacks(replace(SCENARIOS["reg_equal"], canary=3.0), 20, seed=40_000)
    assert all(d == "promote" for d, _, _ in better)
    assert all(how == "evidence" and t < 300 for _, t, how in better)  # shown not worse before the deadline


def test_too_little_traffic_is_extended_once_then_rolled_back() -> None:
    # 0.3 req/s: about 36 canary requests in the whole 600 s, min_requests is 100
    ((decision, seconds, how),) = _rollbacks(replace(SCENARIOS["cls_equal"], rate=0.3), 1, seed=50_000)
    assert (decision, how) == ("rollback", "extension") and seconds == pytest.approx(600.0)


def test_the_fixed_rule_stays_callable_as_the_baseline() -> None:
    rows = _rollbacks(SCENARIOS["cls_equal"], 30, seed=60_000, rule="fixed")
    # the old rule promotes as soon as min_labels labels are in on each side, long before the deadline
    assert all(how == "evidence" and t < 120 for d, t, how in rows if d == "promote")
