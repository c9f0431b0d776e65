"""Per-column drift tests: Evidently's rules and implementations, with fast paths where speed needs one.

Selection mirrors ``evidently.legacy.calculations.stattests.registry._get_default_stattest`` (0.7.x):

* reference ≤ 1000 rows: numerical with > 5 distinct values (reference ∪ current) → ``ks`` (p ≤ 0.05 is
  drift); numerical with ≤ 5 or categorical → ``chisquare`` when > 2 distinct values, else ``z``
  (p < 0.05 is drift). These run Evidently's own functions (the reference is small, so they are cheap).
* reference > 1000 rows: numerical with > 5 distinct values → ``wasserstein`` (normed by the reference's
  std, score ≥ 0.1 is drift); otherwise ``jensenshannon`` (score ≥ 0.1 is drift).

Fast paths (proved equal to Evidently to 1e-9 relative in ``tests/unit/test_monitor_stattests.py``):

* ``wasserstein``: the reference is stored sorted, so only the current window is sorted; both CDFs are
  read off the merge of the two sorted arrays, walked in fixed-size chunks (each chunk's split found by a
  binary search along the merge path), so the extra memory is one sorted copy of the window column plus
  O(chunk) instead of O(4 × (reference + window)) as in ``scipy.stats.wasserstein_distance``.
* ``jensenshannon``: computed from category counts (reference counts are in the profile), or for a
  numerical column from Sturges histograms whose reference side is counted on the sorted reference.

Any other stattest named in a monitor definition runs Evidently's registered implementation on the
reference rebuilt from the profile (every Evidently stattest depends only on the two samples' values, not
their order).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from driftloop.errors import ConfigError

__all__ = [
    "StatResult",
    "choose_stattest",
    "default_threshold",
    "jensenshannon_counts",
    "jensenshannon_numeric_sorted",
    "verdict",
    "wasserstein_norm_sorted",
]

# Evidently's defaults (StatTest.default_threshold) for the tests the automatic choice can pick.
_DEFAULT_THRESHOLDS = {"wasserstein": 0.1, "jensenshannon": 0.1, "ks": 0.05, "chisquare": 0.05, "z": 0.05}
# True when a *larger* score means drift (distances); False for p-values.
_DISTANCE = {"wasserstein": True, "jensenshannon": True, "ks": False, "chisquare": False, "z": False}
SMALL_REFERENCE_ROWS = 1000  # Evidently: ``reference_data.shape[0] <= 1000``
_CHUNK = 1 << 17  # merged values per chunk: ~26 bytes of temporaries each (~3.4 MB per worker); smaller
# chunks mean many more short numpy calls, each a GIL hand-off between the workers, which is slow on a
# loaded machine (1 << 15 was 3x slower than 1 << 18 at 1M rows with 2 busy cores)


@dataclass(frozen=True)
class StatResult:
    test: str
    score: float
    threshold: float
    drifted: bool


def choose_stattest(kind: str, reference_rows: int, n_values: int) -> str:
    """Evidently's automatic stattest (``n_values``: distinct non-NaN values of ref ∪ current)."""
    if reference_rows <= SMALL_REFERENCE_ROWS:
        if kind == "numerical" and n_values > 5:
            return "ks"
        return "chisquare" if n_values > 2 else "z"
    if kind == "numerical" and n_values > 5:
        return "wasserstein"
    return "jensenshannon"


def default_threshold(test: str) -> float:
    """The threshold Evidently uses for ``test`` when none is configured."""
    if test in _DEFAULT_THRESHOLDS:
        return _DEFAULT_THRESHOLDS[test]
    from evidently.legacy.calculations.stattests import get_registered_stattest
    from evidently.legacy.core import ColumnType

    for kind in (ColumnType.Numerical, ColumnType.Categorical):
        try:
            return float(get_registered_stattest(test, kind).default_threshold)
        except ValueError:
            continue
    raise ConfigError(f"unknown stattest {test!r}", "use a name from Evidently's stattest registry")


def verdict(test: str, score: float, threshold: float) -> StatResult:
    if _DISTANCE[test]:
        drifted = score >= threshold
    elif test == "ks":
        drifted = score <= threshold
    else:  # chisquare, z compare strictly
        drifted = score < threshold
    return StatResult(test, float(score), float(threshold), bool(drifted))


def wasserstein_norm_sorted(
    ref_sorted: np.ndarray,
    ref_std: float,
    current: np.ndarray,
    threshold: float = 0.1,
    *,
    current_sorted: bool = False,
) -> StatResult:
    """Evidently's normed Wasserstein distance ``wasserstein_distance(ref, cur) / max(std(ref), 0.001)``.

    ``ref_sorted`` must be sorted and finite; ``current`` finite (any order, or sorted when
    ``current_sorted``: then it is used as is and no copy is made). The integral ``∫|F_ref - F_cur| dx``
    is evaluated over the merged sorted sample exactly as scipy does, but the merged sample is never
    built whole: it is walked in fixed-size chunks, each chunk's share of the two sorted arrays found by
    a binary search along the merge path (:func:`_merge_split`). Working memory is one sorted copy of the
    window column plus O(chunk), instead of O(4 × (reference + window)) in
    ``scipy.stats.wasserstein_distance``.
    """
    cur = current if current_sorted else np.sort(current)
    n, m = ref_sorted.size, cur.size
    total = n + m
    acc = 0.0
    j0 = 0
    for a in range(0, total - 1, _CHUNK):
        b = min(a + _CHUNK, total - 1)  # segments a..b-1 need merged values a..b
        j1 = _merge_split(ref_sorted, cur, b + 1)
        k0, k1 = a - j0, (b + 1) - j1
        seg_cur = cur[j0:j1]
        # Positions of the chunk's current values in the chunk's merged values. Ties go after the equal
        # reference values (as in _merge_split), which leaves every CDF value at a distinct x unchanged
        # (deltas between equal values are zero).
        local = np.searchsorted(ref_sorted[k0:k1], seg_cur, side="right")
        local += np.arange(j1 - j0, dtype=local.dtype)
        size = b + 1 - a
        is_cur = np.zeros(size, dtype=bool)
        is_cur[local] = True
        merged = np.empty(size, dtype=np.float64)
        merged[local] = seg_cur
        del local
        merged[~is_cur] = ref_sorted[k0:k1]
        # Number of current / reference values <= merged[i] for i in a..b-1. Counts and their products
        # with n, m are integers below 2**53, so this float arithmetic is exact until the final division.
        c_cur = np.cumsum(is_cur[:-1], dtype=np.float64)
        del is_cur
        c_cur += j0
        c_ref = np.arange(a + 1, b + 1, dtype=np.float64)
        c_ref -= c_cur
        c_ref *= m  # |c_ref/n - c_cur/m| * n * m
        c_cur *= n
        c_ref -= c_cur
        np.abs(c_ref, out=c_ref)
        del c_cur
        acc += float(np.dot(c_ref, np.diff(merged)))
        # The next chunk starts at merged value b (its first segment is b..b+1).
        j0 = j1 if b + 1 == total else _merge_split(ref_sorted, cur, b)
    distance = acc / n / m
    norm = max(float(ref_std), 0.001)
    return verdict("wasserstein", distance / norm, threshold)


def _merge_split(ref_sorted: np.ndarray, cur_sorted: np.ndarray, prefix: int) -> int:
    """How many current values are among the first ``prefix`` values of the merged sorted sample, where
    a current value goes after the reference values equal to it (``searchsorted(..., side="right")``).

    Binary search along the merge path: current value ``j`` is in the prefix iff fewer than
    ``prefix - j`` reference values are ``<=`` it, i.e. iff ``ref[prefix - j - 1] > cur[j]``.
    """
    n, m = ref_sorted.size, cur_sorted.size
    lo, hi = max(0, prefix - n), min(prefix, m)
    while lo < hi:
        j = (lo + hi) // 2
        if ref_sorted[prefix - j - 1] > cur_sorted[j]:  # 1 <= prefix - j <= n here
            lo = j + 1
        else:
            hi = j
    return lo


def jensenshannon_counts(
    ref_counts: dict[Any, int],
    ref_rows: int,
    cur_counts: dict[Any, int],
    cur_rows: int,
    threshold: float = 0.1,
) -> StatResult:
    """Evidently's Jensen-Shannon distance for categories (``get_binned_data`` without zero filling)."""
    from scipy.spatial import distance

    keys = list(set(ref_counts) | set(cur_counts))
    ref_p = np.array([ref_counts.get(k, 0) / ref_rows for k in keys])
    cur_p = np.array([cur_counts.get(k, 0) / cur_rows for k in keys])
    return verdict("jensenshannon", float(distance.jensenshannon(ref_p, cur_p)), threshold)


def sturges_edges(lo: float, hi: float, size: int) -> np.ndarray:
    """``np.histogram_bin_edges(x, bins="sturges")`` for an ``x`` of ``size`` values spanning ``[lo, hi]``."""
    return np.histogram_bin_edges(np.array([lo, hi]), bins=_sturges_bins(lo, hi, size))


def _sturges_bins(lo: float, hi: float, size: int) -> int:
    # numpy: width = ptp / (log2(n) + 1); n_bins = ceil(ptp / width) (1 when ptp == 0).
    ptp = hi - lo
    width = ptp / (np.log2(size) + 1.0)
    return int(np.ceil(ptp / width)) if width else 1


def jensenshannon_numeric_sorted(
    ref_sorted: np.ndarray, current: np.ndarray, threshold: float = 0.1
) -> StatResult:
    """Evidently's Jensen-Shannon distance for a numerical column with > 20 reference values:
    Sturges bins over reference ∪ current, counted on the sorted reference with ``searchsorted``."""
    from scipy.spatial import distance

    lo = min(float(ref_sorted[0]), float(current.min()))
    hi = max(float(ref_sorted[-1]), float(current.max()))
    edges = sturges_edges(lo, hi, ref_sorted.size + current.size)
    # np.histogram's bins are [e_i, e_i+1) except the last, which is closed.
    idx = np.searchsorted(ref_sorted, edges, side="left")
    idx[-1] = np.searchsorted(ref_sorted, edges[-1], side="right")
    ref_p = np.diff(idx) / ref_sorted.size
    cur_p = np.histogram(current, edges)[0] / current.size
    return verdict("jensenshannon", float(distance.jensenshannon(ref_p, cur_p)), threshold)


def evidently_stattest(
    test: str | None, kind: str, reference: Any, current: Any, threshold: float | None
) -> StatResult:
    """Run Evidently's own implementation (``test=None``: its automatic choice) on two pandas Series."""
    from evidently.legacy.calculations.stattests import get_stattest
    from evidently.legacy.core import ColumnType

    column_type = ColumnType.Numerical if kind == "numerical" else ColumnType.Categorical
    try:
        stattest = get_stattest(reference, current, column_type, test)
    except ValueError as exc:  # unknown name, or not applicable to this column kind
        raise ConfigError(
            f"column {reference.name!r}: {exc}", "pick a stattest Evidently registers for it"
        ) from None
    res = stattest(reference, current, column_type, threshold)
    return StatResult(stattest.name, float(res.drift_score), float(res.actual_threshold), bool(res.drifted))
