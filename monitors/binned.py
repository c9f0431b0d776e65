"""Drift statistics from a merged :class:`~monitors.summary.NumericSummary` — exact where the bins decide
them, bracketed with a guaranteed bound where they do not.

On the reference's bins the current window's CDF ``F_c`` is known exactly at every edge (rows below it,
rows equal to it), and its integral over every bin exactly (rows × right edge − the bin's sum). The
reference CDF ``F_r`` is known everywhere (the profile keeps the sorted reference). So:

* **Wasserstein** ``∫|F_r − F_c|``: below the reference's minimum ``F_r = 0`` and from its maximum
  ``F_r = 1``, so those parts are exact; in a bin where ``F_r − F_c`` cannot change sign (the ranges of
  the two CDFs over the bin do not overlap) the bin's part is exactly ``|∫F_r − ∫F_c|``; in a bin where it
  can, it lies between that and ``∫max(|F_r − lo|, |F_r − hi|)`` (``lo``/``hi``: ``F_c`` at the bin's
  ends). The score is the bracket's middle and the bound its half-width — zero for drift large enough that
  the CDFs never cross inside a bin, about ``range / bins`` for two near-equal distributions.
* **Kolmogorov–Smirnov** ``sup|F_r − F_c|``: exact when every distinct reference value is an edge (what
  Evidently's automatic choice runs it on: references of ≤ 1000 rows), else bracketed by the bin corners;
  the p-value is scipy's asymptotic one (``kstwo``), as ``ks_2samp`` uses for windows over 10,000 rows.
* **Chi-square, Z, Jensen–Shannon** from counts (categories, or the distinct values of a low-cardinality
  numerical column): Evidently's formulas, exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Bracket", "chisquare_counts", "ks_bracket", "wasserstein_bracket", "z_counts"]


@dataclass(frozen=True)
class Bracket:
    """A statistic known to lie in ``[low, high]``."""

    low: float
    high: float

    @property
    def mid(self) -> float:
        return (self.low + self.high) / 2

    @property
    def bound(self) -> float:
        return (self.high - self.low) / 2


def _current_cdf(counts: np.ndarray, at_edge: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Per bin ``1..E``: ``F_c`` at the bin's left edge and just before its right edge (index 0 unused)."""
    below = np.r_[0, np.cumsum(counts)[:-1]]  # rows below each bin's left edge
    lo = (below + at_edge) / m
    hi = (below + counts) / m
    return lo, hi


def _reference_cdf(ref_sorted: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per bin ``1..E``: ``F_r`` at the bin's left edge and just before its right edge."""
    n = ref_sorted.size
    at_left = np.r_[0.0, np.searchsorted(ref_sorted, edges, side="right") / n]
    before_right = np.r_[0.0, np.searchsorted(ref_sorted, edges[1:], side="left") / n, 1.0]
    return at_left, before_right


def wasserstein_bracket(
    ref_sorted: np.ndarray, edges: np.ndarray, counts: np.ndarray, sums: np.ndarray, at_edge: np.ndarray
) -> Bracket:
    """``∫|F_r − F_c| dx`` (not normed) bracketed from the current window's bins (see module doc)."""
    m, e = int(counts.sum()), edges.size
    n = ref_sorted.size
    exact = (counts[0] * edges[0] - sums[0]) / m + (sums[e] - counts[e] * edges[-1]) / m
    if e < 2:
        return Bracket(exact, exact)
    lo, hi = _current_cdf(counts, at_edge, m)
    r_lo, r_hi = _reference_cdf(ref_sorted, edges)
    inner = np.arange(1, e)  # bins [e_{j-1}, e_j)
    width = edges[1:] - edges[:-1]
    int_c = width * (lo[inner] - at_edge[inner] / m) + (counts[inner] * edges[1:] - sums[inner]) / m
    # the reference CDF's steps: segment k is [v_k, v_k+1) with F_r = (k + 1) / n, inside one bin
    seg_len = np.diff(ref_sorted)
    keep = seg_len > 0
    seg_len, seg_f = seg_len[keep], (np.arange(1, n, dtype=np.float64) / n)[keep]
    seg_bin = np.searchsorted(edges, ref_sorted[:-1][keep], side="right")
    int_r = np.bincount(seg_bin, weights=seg_len * seg_f, minlength=e + 1)[inner]
    part = np.abs(int_r - int_c)
    crossing = ~((r_lo[inner] >= hi[inner]) | (r_hi[inner] <= lo[inner]))
    worst = np.maximum(np.abs(seg_f - lo[seg_bin]), np.abs(seg_f - hi[seg_bin]))
    upper = np.bincount(seg_bin, weights=seg_len * worst, minlength=e + 1)[inner]
    low = exact + float(part.sum())
    high = exact + float(np.where(crossing, np.maximum(upper, part), part).sum())
    return Bracket(low, high)


def ks_bracket(ref_sorted: np.ndarray, edges: np.ndarray, counts: np.ndarray, at_edge: np.ndarray) -> Bracket:
    """``sup|F_r − F_c|`` bracketed from the bins (exact when ``F_r`` is constant within every bin)."""
    m, e = int(counts.sum()), edges.size
    lo, hi = _current_cdf(counts, at_edge, m)
    r_lo, r_hi = _reference_cdf(ref_sorted, edges)
    outer = max(counts[0] / m, 1.0 - lo[e])  # below the minimum F_r = 0, from the maximum F_r = 1
    inner = np.arange(1, e)
    known = np.maximum(
        np.abs(r_lo[inner] - lo[inner]),
        np.where(r_lo[inner] == r_hi[inner], np.abs(r_lo[inner] - hi[inner]), 0.0),
    )
    corners = np.maximum.reduce(
        [np.abs(r_lo[inner] - hi[inner]), np.abs(r_hi[inner] - lo[inner]), np.abs(r_lo[inner] - lo[inner])]
    )
    constant = r_lo[inner] == r_hi[inner]
    low = max(outer, float(known.max(initial=0.0)))
    high = max(outer, float(np.where(constant, known, corners).max(initial=0.0)))
    return Bracket(low, high)


def ks_pvalue(d: float, n: int, m: int) -> float:
    """``scipy.stats.ks_2samp``'s two-sided asymptotic p-value for statistic ``d`` (its mode when the
    larger sample has over 10,000 values)."""
    from scipy.stats import kstwo

    big, small = sorted([float(n), float(m)], reverse=True)
    en = big * small / (big + small)
    return float(np.clip(kstwo.sf(d, np.round(en)), 0.0, 1.0))


def chisquare_counts(ref: dict[Any, int], ref_rows: int, cur: dict[Any, int], cur_rows: int) -> float:
    """Evidently's chi-square p-value from the two sides' value counts."""
    from scipy.stats import chisquare

    keys = list(set(ref) | set(cur))
    k_norm = cur_rows / ref_rows
    f_exp = [ref.get(k, 0) * k_norm for k in keys]
    f_obs = [cur.get(k, 0) for k in keys]
    return float(chisquare(f_obs, f_exp)[1])


def z_counts(ref: dict[Any, int], ref_rows: int, cur: dict[Any, int], cur_rows: int) -> float:
    """Evidently's two-proportion Z-test p-value (the share of the first sorted value on each side)."""
    from scipy.stats import norm

    if len(ref) == 1 and len(cur) == 1 and next(iter(ref)) == next(iter(cur)):
        return 1.0
    first = sorted(set(ref) | set(cur))[0]
    p1 = (ref_rows - ref.get(first, 0)) / ref_rows
    p2 = (cur_rows - cur.get(first, 0)) / cur_rows
    pooled = (p1 * ref_rows + p2 * cur_rows) / (ref_rows + cur_rows)
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / ref_rows + 1.0 / cur_rows))
    return float(2 * (1 - norm.cdf(np.abs(z))))
