"""Always-valid (anytime) confidence sequences for the canary analysis: pure functions, no I/O.

Why a confidence *sequence*: the canary analysis looks at the data at every poll and stops at the first
clear answer. A fixed-horizon z-test re-run at each look is wrong far more often than its nominal level
(every look is another chance for noise to cross the line). A confidence sequence is a sequence of
intervals that contains the true difference at *all* times at once with probability ≥ 1 - alpha, so any
peeking schedule, any data-dependent stop and the one-time extension of the window keep the error rate
of each rule at or below alpha.

Which one: the one-sided **normal-mixture boundary** (Robbins' method of mixtures; Howard, Ramdas,
McAuliffe & Sekhon, *Time-uniform, nonparametric, nonasymptotic confidence sequences*, Ann. Statist.
2021, §3), applied to the central-limit form of a difference of means as in the *asymptotic confidence
sequences* of Waudby-Smith, Arbour, Sinha, Kennedy & Ramdas (Ann. Statist. 2024) and the mSPRT of
Johari, Pekelis & Walsh (*Always valid inference*, 2017/2022) — the construction A/B-testing platforms use.
Chosen over a group-sequential design (alpha spending) because the number of looks is not fixed: the
poll interval, the traffic and the label delay vary and the window may be extended once; the mixture
needs no look schedule. Chosen over exact Bernoulli mixtures because one construction then covers
accuracy, mean absolute error, error rates and the latency share alike (unpooled variances: the canary
and the champion serve different requests with possibly different variances).

The construction: with ``z = (estimate - limit) / se`` and the effective sample size ``n``
(``n_c·n_h/(n_c+n_h)`` for two samples), ``S = z·sqrt(n)`` behaves like a sum of ``n`` unit-variance
increments; mixing the exponential supermartingale ``exp(λS - λ²n/2)`` over ``λ ≥ 0`` with a half-normal
density of variance ``ρ`` gives the e-process

    M = 2 / sqrt(1 + r) · exp(z²·r / (2(1 + r))) · Φ(z·sqrt(r / (1 + r))),   r = ρ·n,

and Ville's inequality gives ``P(sup M ≥ 1/alpha) ≤ alpha`` under ``estimate ≤ limit``. ``M`` grows with
``z``, so the test is the boundary ``z ≥ z*(r, alpha)``, i.e. ``estimate - z*·se > limit``: the lower end
of the one-sided confidence sequence is above the limit. The mixture variance only tunes *when* the
boundary is tightest (``tightest_at`` effective samples; Howard et al. eq. (3.5) gives the ``ρ``); the
guarantee holds whatever its value. Validity is asymptotic (central limit theorem with estimated
variances, as in Waudby-Smith et al.); proportions use a variance regularised by half a success and half a
failure so that zero observed errors do not collapse the interval; callers should not test below a few
dozen observations per side (the analysis waits for ``min_labels`` / ``min_requests``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "Interval",
    "boundary",
    "difference_of_means",
    "difference_of_proportions",
    "log_e_value",
    "mixture_ratio",
    "proportion",
]


def mixture_ratio(n: float, tightest_at: float, alpha: float) -> float:
    """``r = ρ·n`` for the mixture variance that makes the boundary tightest near ``tightest_at``
    effective samples (Howard et al. 2021, eq. (3.5): ``ρ·m = 2 log(1/α) + log(1 + 2 log(1/α))``)."""
    c = 2 * math.log(1 / alpha)
    return (c + math.log1p(c)) * n / tightest_at


def _log_phi(x: float) -> float:
    """log Φ(x), finite far into the lower tail."""
    if x > -20:
        return math.log(0.5 * math.erfc(-x / math.sqrt(2)))
    # Mills ratio: Φ(x) ≈ φ(x)/|x| for x → -∞
    return -0.5 * x * x - math.log(-x) - 0.5 * math.log(2 * math.pi)


def log_e_value(z: float, r: float) -> float:
    """log of the one-sided normal-mixture e-process ``M`` at standardized statistic ``z`` (see the
    module docstring); evidence against ``estimate ≤ limit`` grows with ``z``."""
    k = math.sqrt(r / (1 + r))
    return math.log(2) - 0.5 * math.log1p(r) + z * z * r / (2 * (1 + r)) + _log_phi(z * k)


def boundary(r: float, alpha: float) -> float:
    """The ``z*`` with ``log_e_value(z*, r) = log(1/alpha)``: cross it and the limit is rejected."""
    target = math.log(1 / alpha)
    k = math.sqrt(r / (1 + r))
    # Start at the closed-form two-sided boundary at level 2α, which lies just below z*; Newton converges
    # monotonically from there because log M is increasing and convex in z on that side.
    z = math.sqrt((1 + r) / r * (2 * math.log(1 / (2 * alpha)) + math.log1p(r)))
    for _ in range(50):
        f = log_e_value(z, r) - target
        x = z * k
        mills = math.exp(-0.5 * x * x - _log_phi(x)) / math.sqrt(2 * math.pi)  # φ(x)/Φ(x)
        step = f / (z * r / (1 + r) + k * mills)
        z -= step
        if abs(step) < 1e-10:
            break
    return z


@dataclass(frozen=True)
class Interval:
    """A one-sided-at-each-end confidence sequence for a difference (or a share) at one look.

    ``lower`` and ``upper`` each hold at every look with probability ≥ 1 - alpha (the pair is a
    two-sided sequence at 1 - 2·alpha)."""

    estimate: float
    se: float
    n: float  # effective sample size
    z_star: float
    alpha: float

    @property
    def lower(self) -> float:
        return self.estimate - self.z_star * self.se

    @property
    def upper(self) -> float:
        return self.estimate + self.z_star * self.se

    def above(self, limit: float) -> bool:
        """Anytime-valid evidence that the true value exceeds ``limit``."""
        return self.lower > limit

    def below(self, limit: float) -> bool:
        """Anytime-valid evidence that the true value is under ``limit``."""
        return self.upper < limit

    def to_dict(self) -> dict[str, float]:
        return {
            "estimate": self.estimate,
            "se": self.se,
            "lower": self.lower,
            "upper": self.upper,
            "n_effective": self.n,
            "z_boundary": self.z_star,
            "alpha": self.alpha,
        }


def _interval(estimate: float, var: float, n: float, alpha: float, tightest_at: float) -> Interval:
    se = math.sqrt(max(var, 0.0))
    return Interval(estimate, se, n, boundary(mixture_ratio(n, tightest_at, alpha), alpha), alpha)


def _smoothed(successes: float, n: float) -> float:
    """A proportion's variance p(1-p) with half a success and half a failure added (never 0)."""
    p = (successes + 0.5) / (n + 1)
    return p * (1 - p)


def difference_of_means(
    mean_a: float,
    var_a: float,
    n_a: int,
    mean_b: float,
    var_b: float,
    n_b: int,
    *,
    alpha: float,
    tightest_at: float,
) -> Interval:
    """Confidence sequence for ``mean_a - mean_b`` (unpooled: Welch's variance)."""
    if n_a < 1 or n_b < 1:
        raise ValueError("both samples need at least one observation")
    n = n_a * n_b / (n_a + n_b)
    return _interval(mean_a - mean_b, var_a / n_a + var_b / n_b, n, alpha, tightest_at)


def difference_of_proportions(
    x_a: int, n_a: int, x_b: int, n_b: int, *, alpha: float, tightest_at: float
) -> Interval:
    """Confidence sequence for ``x_a/n_a - x_b/n_b`` (unpooled, smoothed variances)."""
    if n_a < 1 or n_b < 1:
        raise ValueError("both samples need at least one observation")
    n = n_a * n_b / (n_a + n_b)
    var = _smoothed(x_a, n_a) / n_a + _smoothed(x_b, n_b) / n_b
    return _interval(x_a / n_a - x_b / n_b, var, n, alpha, tightest_at)


def proportion(x: int, n: int, *, alpha: float, tightest_at: float) -> Interval:
    """Confidence sequence for the share ``x/n`` of one sample."""
    if n < 1:
        raise ValueError("the sample needs at least one observation")
    return _interval(x / n, _smoothed(x, n) / n, n, alpha, tightest_at)
