"""Mergeable summaries of a window's columns: what a shard keeps of its rows, and what a merge adds up.

Per numerical column, on the reference profile's bins (:func:`reference_edges`: every distinct reference
value when there are at most 4096, else 4096 reference quantiles) — the bins below the reference's minimum
and from its maximum up are bins too:

* the rows per bin, the sum of their values, and how many equal the bin's left edge — from these the
  current window's CDF is known exactly at every edge and its integral exactly over every bin, which is
  what :mod:`monitors.binned` needs for Wasserstein and Kolmogorov–Smirnov with a guaranteed bound, and
  chi-square / Jensen–Shannon / PSI exactly on the bins;
* the values themselves while the column holds at most :data:`EXACT_CAP` of them (a small window is
  checked exactly as in one process), and the distinct values with their counts while there are at most
  :data:`DISTINCT_CAP` (what the low-cardinality tests need);
* missing values and the content digest (:mod:`monitors.digest`).

Per categorical column: the category counts (past ``max_categories`` only the fact that there are too
many), missing values, the digest. ``merge`` of two summaries is associative and commutative (tested:
``tests/unit/test_monitor_shards.py``), so shards may be merged in any grouping and order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from monitors.codec import register
from monitors.digest import Digest, counts_digest, numeric_digest

if TYPE_CHECKING:
    import pandas as pd

    from monitors.profile import ColumnProfile

__all__ = [
    "DISTINCT_CAP",
    "EXACT_CAP",
    "MAX_EDGES",
    "CategoricalSummary",
    "NumericSummary",
    "reference_edges",
]

MAX_EDGES = 4096
EXACT_CAP = 20_000
DISTINCT_CAP = 1024


def reference_edges(ref: ColumnProfile) -> np.ndarray:
    """The bin edges of a numerical reference column (sorted, distinct, its minimum and maximum
    included): every distinct value, or :data:`MAX_EDGES` quantiles of a column with more."""
    values = ref.values
    assert values is not None
    unique = ref.unique_values()
    if unique.size <= MAX_EDGES:
        return np.asarray(unique, dtype=np.float64)
    picks = (np.arange(MAX_EDGES, dtype=np.int64) * values.size) // MAX_EDGES
    return np.unique(np.r_[values[picks], values[-1]])


def _add_counts(a: dict[Any, int] | None, b: dict[Any, int] | None, cap: int) -> dict[Any, int] | None:
    """Two value-count maps added (None: more than ``cap`` distinct values, which stays so)."""
    if a is None or b is None:
        return None
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + v
    return out if len(out) <= cap else None


@dataclass
class NumericSummary:
    """One numerical column of (part of) a window; bins ``0..E`` for ``E`` edges (see module doc)."""

    rows: int  # finite values
    missing: int
    counts: np.ndarray  # int64 (E + 1,)
    sums: np.ndarray  # float64 (E + 1,)
    at_edge: np.ndarray  # int64 (E + 1,): values equal to the bin's left edge (bin 0 has none)
    exact: np.ndarray | None  # the finite values while at most EXACT_CAP
    distinct: dict[float, int] | None  # value -> count while at most DISTINCT_CAP distinct values
    digest: Digest = field(default_factory=Digest)

    @classmethod
    def empty(cls, edges: np.ndarray, track_distinct: bool) -> NumericSummary:
        """An empty summary on ``edges``; ``track_distinct``: keep the distinct values (a reference
        with few of them: its tests need the current's)."""
        e = edges.size + 1
        distinct: dict[float, int] | None = {} if track_distinct else None
        return cls(0, 0, np.zeros(e, np.int64), np.zeros(e), np.zeros(e, np.int64), np.empty(0), distinct)

    def add(self, values: np.ndarray, edges: np.ndarray) -> None:
        """Count a batch of the column's values (float64; NaN / ±inf are missing)."""
        finite = values[np.isfinite(values)]
        missing = int(values.size - finite.size)
        idx = np.searchsorted(edges, finite, side="right")
        size = edges.size + 1
        self.counts += np.bincount(idx, minlength=size)
        self.sums += np.bincount(idx, weights=finite, minlength=size)
        inside = idx > 0
        on_edge = np.zeros(finite.size, dtype=bool)
        on_edge[inside] = edges[idx[inside] - 1] == finite[inside]
        self.at_edge += np.bincount(idx[on_edge], minlength=size)
        self.rows += int(finite.size)
        self.missing += missing
        self.digest = self.digest + numeric_digest(finite, missing)
        if self.exact is not None:
            self.exact = np.concatenate([self.exact, finite]) if self.rows <= EXACT_CAP else None
        if self.distinct is not None:
            keys, n = np.unique(finite, return_counts=True)
            batch = dict(zip(keys.tolist(), n.tolist(), strict=True))
            self.distinct = _add_counts(self.distinct, batch, DISTINCT_CAP)

    def merge(self, other: NumericSummary) -> NumericSummary:
        exact = None
        if self.exact is not None and other.exact is not None and self.rows + other.rows <= EXACT_CAP:
            exact = np.concatenate([self.exact, other.exact])
        return NumericSummary(
            self.rows + other.rows,
            self.missing + other.missing,
            self.counts + other.counts,
            self.sums + other.sums,
            self.at_edge + other.at_edge,
            exact,
            _add_counts(self.distinct, other.distinct, DISTINCT_CAP),
            self.digest + other.digest,
        )


@dataclass
class CategoricalSummary:
    """One categorical column of (part of) a window."""

    rows: int  # non-missing values
    missing: int
    counts: dict[Any, int] | None  # None: more than ``cap`` distinct values
    cap: int
    distinct_seen: int = 0  # the most distinct values one part had (a lower bound once counts is None)
    digest: Digest = field(default_factory=Digest)

    @classmethod
    def empty(cls, cap: int) -> CategoricalSummary:
        return cls(0, 0, {}, cap)

    def add(self, series: pd.Series, family: str) -> None:
        """Count a batch of the column (``family``: the reference's dtype family; ±inf is missing in a
        float column, as in the single-process check)."""
        from monitors.profile import json_key

        clean = series.replace([-np.inf, np.inf], np.nan).dropna() if family == "float" else series.dropna()
        counts = clean.value_counts(sort=False)
        missing = int(series.size - clean.size)
        self.rows += int(clean.size)
        self.missing += missing
        self.digest = self.digest + counts_digest(counts, missing)
        self.distinct_seen = max(self.distinct_seen, len(counts))
        batch = {json_key(k): int(v) for k, v in counts.items()} if len(counts) <= self.cap else None
        self.counts = _add_counts(self.counts, batch, self.cap)

    def merge(self, other: CategoricalSummary) -> CategoricalSummary:
        counts = _add_counts(self.counts, other.counts, self.cap)
        seen = max(self.distinct_seen, other.distinct_seen, len(counts or ()))
        return CategoricalSummary(
            self.rows + other.rows,
            self.missing + other.missing,
            counts,
            self.cap,
            seen,
            self.digest + other.digest,
        )


register(Digest, NumericSummary, CategoricalSummary)
