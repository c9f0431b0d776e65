"""The statistics the performance modules share: normal quantiles, isotonic calibration, ROC areas,
standard errors, label and probability-vector parsing.

Private to :mod:`monitors.performance`: measured performance, CBPE, multiclass CBPE and DLE import from
here and never from each other's internals, so the package's imports run one way.
"""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

Z = 1.959964  # the two-sided 95 % normal quantile
Z_ONE_SIDED = 1.644854  # the one-sided 95 % normal quantile
EPS = 1e-15
AUC_BINS = 1 << 16
#: The inference-log field (and window column) with a multiclass model's class probabilities.
PROBABILITIES = "probabilities"

Calibration = tuple[list[float], list[float]]


def normal_bands(metrics: dict[str, float], sd: dict[str, float]) -> dict[str, list[float]]:
    """The 95 % band ``[m - Z sd, m + Z sd]`` of each metric with a finite value and standard error."""
    return {
        k: [metrics[k] - Z * v, metrics[k] + Z * v]
        for k, v in sd.items()
        if np.isfinite(metrics[k]) and np.isfinite(v)
    }


@dataclass(frozen=True)
class Estimate:
    """Estimated metrics of one window and their 95 % band (``metric -> [low, high]``)."""

    metrics: dict[str, float]
    band: dict[str, list[float]]
    rows: int
    #: multiclass rows without a usable probability vector: left out of the estimate, or — when they are
    #: most of the window — the reason it is the accuracy-only one
    dropped: int = 0


def isotonic(x: np.ndarray, y: np.ndarray) -> Calibration:
    """An isotonic map of ``y`` on ``x`` in [0, 1], as its ``(x, y)`` knots (interpolated linearly)."""
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(x, y)
    return [float(v) for v in iso.X_thresholds_], [float(v) for v in iso.y_thresholds_]


def hanley_mcneil_se(auc: float, n1: float, n0: float) -> float:
    """The standard error of a ROC AUC over ``n1`` positives and ``n0`` negatives (Hanley & McNeil,
    1982)."""
    if n1 < 1 or n0 < 1:
        return float("nan")
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    se2 = (auc * (1 - auc) + (n1 - 1) * (q1 - auc**2) + (n0 - 1) * (q2 - auc**2)) / (n1 * n0)
    return float(np.sqrt(max(se2, 0.0)))


def is_class(values: Any, cls: Any) -> np.ndarray:
    """``values == cls`` element-wise, tolerant of a label that went through JSON (``1`` vs ``"1"``)."""
    arr = np.asarray(values)
    if arr.dtype.kind in "biuf" and isinstance(cls, bool | int | float | np.number):
        return np.asarray(arr == cls, dtype=bool)
    return np.asarray(arr.astype(str) == str(cls), dtype=bool)


def positive_scores(prediction: Any, probability: Any, positive: Any) -> np.ndarray:
    """A binary model's positive-class probability from the predicted class and *its* probability (what
    the inference log records): ``p`` when the prediction is the positive class, else ``1 - p``."""
    p = np.asarray(probability, dtype=np.float64)
    return np.where(is_class(prediction, positive), p, 1.0 - p)


def expected_auc(score: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC of the expected ROC curve: at each distinct score threshold (high to low) the expected
    true positives are the summed calibrated probabilities above it, the false positives their
    complements."""
    order = np.argsort(-score, kind="stable")
    s, q = score[order], p[order]
    last = np.r_[s[1:] != s[:-1], True]  # the end of each run of tied scores
    return roc_area(np.cumsum(q)[last], np.cumsum(1.0 - q)[last])


def score_bins(score: np.ndarray) -> np.ndarray:
    """Each score's bin among :data:`AUC_BINS` equal bins of [0, 1]."""
    idx = (score * AUC_BINS).astype(np.int64)
    np.clip(idx, 0, AUC_BINS - 1, out=idx)
    return idx


def binned_counts(score: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per score bin: the summed ``weight`` (expected or actual positives) and the number of rows."""
    idx = score_bins(score)
    return (
        np.bincount(idx, weights=weight, minlength=AUC_BINS),
        np.bincount(idx, minlength=AUC_BINS).astype(np.float64),
    )


def binned_auc(pos: np.ndarray, rows: np.ndarray) -> float:
    """The ROC area from per-bin positives and rows (rows sharing a bin count as tied)."""
    tp = np.cumsum(pos[::-1])
    return roc_area(tp, np.cumsum(rows[::-1]) - tp)


def binned_expected_auc(score: np.ndarray, p: np.ndarray) -> float:
    """:func:`expected_auc` without sorting: scores (probabilities, in [0, 1]) fall into
    :data:`AUC_BINS` equal bins and rows sharing a bin count as tied — an error below 1e-4 (only
    pairs closer than 1/65536 move), in O(n) instead of a sort."""
    return binned_auc(*binned_counts(score, p))


def roc_area(tp: np.ndarray, fp: np.ndarray) -> float:
    """The trapezoid area under the expected ROC curve from cumulative expected TP / FP counts."""
    pos, neg = tp[-1], fp[-1]
    if pos <= 0 or neg <= 0:
        return float("nan")
    tpr = np.r_[0.0, tp / pos]
    fpr = np.r_[0.0, fp / neg]
    return float(np.trapezoid(tpr, fpr))


def label_text(value: Any) -> str:
    """A class label as text, the same whether it came through JSON as ``1``, ``1.0`` or ``"1"``."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        value = int(value)
    elif isinstance(value, np.generic):
        value = value.item()
    return str(value)


def finite_label(value: Any) -> bool:
    """A usable label: present, not NaN / ±inf, not blank text."""
    if value is None:
        return False
    if isinstance(value, float | np.floating):
        return math.isfinite(float(value))
    return not (isinstance(value, str) and not value.strip())


def _as_vector(value: Any) -> Any:
    """One row's probability vector as a list, or None (a CSV window holds it as JSON text)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, list | tuple | np.ndarray) else None


def probability_matrix(values: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``probabilities`` column as an ``(n, k)`` float matrix and the mask of its usable rows: a
    vector of ``k`` finite numbers in [0, 1] (other rows — missing, of another length, non-finite — are
    NaN and masked out)."""
    col = list(values)
    n = len(col)
    try:  # the common case: every row a list of k numbers, one conversion
        m = np.asarray(col, dtype=np.float64)
    except (ValueError, TypeError):
        m = np.empty(0)
    if m.shape != (n, k):
        m = np.full((n, k), np.nan)
        for i, value in enumerate(col):
            vec = _as_vector(value)
            if vec is not None and len(vec) == k:
                with contextlib.suppress(ValueError, TypeError):  # not numbers: the row stays NaN
                    m[i] = np.asarray(vec, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        ok = np.all(np.isfinite(m) & (m >= 0.0) & (m <= 1.0), axis=1)
    return m, ok


def predicted_index(prediction: Any, classes: list[Any]) -> np.ndarray:
    """Each row's predicted class as an index into ``classes`` (-1: not one of them)."""
    idx = np.full(len(prediction), -1, dtype=np.int64)
    for c, cls in enumerate(classes):
        idx[is_class(prediction, cls)] = c
    return idx


@dataclass
class Moments:
    """Count, mean and sum of squared deviations of a sample, merged exactly as two halves' would be
    (Chan et al.'s pairwise update: no cancellation, unlike summing squares)."""

    n: float = 0.0
    mean: float = 0.0
    m2: float = 0.0

    @classmethod
    def of(cls, values: np.ndarray) -> Moments:
        if values.size == 0:
            return cls()
        mean = float(values.mean())
        return cls(float(values.size), mean, float(np.sum((values - mean) ** 2)))

    def merge(self, other: Moments) -> Moments:
        if other.n == 0:
            return Moments(self.n, self.mean, self.m2)
        if self.n == 0:
            return Moments(other.n, other.mean, other.m2)
        n = self.n + other.n
        delta = other.mean - self.mean
        mean = self.mean + delta * other.n / n
        return Moments(n, mean, self.m2 + other.m2 + delta * delta * self.n * other.n / n)

    @property
    def std(self) -> float:
        """The population standard deviation (numpy's ``std``)."""
        return float(np.sqrt(self.m2 / self.n)) if self.n else float("nan")

    @property
    def total(self) -> float:
        return self.mean * self.n
