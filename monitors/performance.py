"""Measured and estimated performance of a window, compared with the holdout's.

Labels (``{request_id, label}``, the feedback topic's records) are joined to the window's predictions by
request id, so a label that arrives late still counts for the window of its prediction. Bad labels never
reach a metric: a missing / NaN label is dropped, a label for a request id the window does not hold is
ignored, and of two labels for one id the last one counts. Each is counted in ``label_stats``.

A window whose joined labels number fewer than ``min_labels`` gets no measured performance (and so can
never report a measured drop); the estimate (:mod:`monitors.estimator`) needs no labels at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from driftloop.errors import DataError
from driftloop.modelspec import LOWER_IS_BETTER

if TYPE_CHECKING:
    import pandas as pd

    from monitors.definition import MonitorDefinition
    from monitors.estimator import PerformanceEstimator

__all__ = [
    "RELATIVE_METRICS",
    "LabelStats",
    "PerformanceResult",
    "check_performance",
    "drop",
    "hanley_mcneil_se",
    "join_labels",
    "measure",
    "optimistic",
]

REQUEST_ID = "request_id"
LABEL = "label"


@dataclass(frozen=True)
class LabelStats:
    """What happened to the labels offered for a window."""

    joined: int = 0
    unknown: int = 0  # a request id the window does not hold
    duplicates: int = 0  # a second (or later) label for one request id; the last one counts
    missing: int = 0  # no label value, NaN or ±inf

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class PerformanceResult:
    """Measured (``actual``), estimated and reference metrics of one window, and whether either fell."""

    metric: str
    threshold: float
    reference: dict[str, float]
    actual: dict[str, float] | None = None
    estimated: dict[str, float] | None = None
    estimated_band: dict[str, list[float]] | None = None
    actual_band: dict[str, list[float]] | None = None  # one-sided 95 %: value ± 1.645 standard errors
    labels: int = 0
    label_stats: LabelStats = field(default_factory=LabelStats)
    degraded: bool = False
    estimated_degraded: bool = False
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "threshold": self.threshold,
            "lower_is_better": self.metric in LOWER_IS_BETTER,
            "actual": self.actual,
            "estimated": self.estimated,
            "estimated_band": self.estimated_band,
            "actual_band": self.actual_band,
            "reference": self.reference,
            "labels": self.labels,
            "label_stats": self.label_stats.to_dict(),
            "degraded": self.degraded,
            "estimated_degraded": self.estimated_degraded,
            "notes": list(self.notes),
        }


def _finite_label(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, float | np.floating):
        return math.isfinite(float(value))
    return not (isinstance(value, str) and not value.strip())


def join_labels(window: pd.DataFrame, labels: pd.DataFrame) -> tuple[pd.DataFrame, LabelStats]:
    """``window``'s rows that have a label, with a ``label`` column; ``labels`` holds ``request_id`` and
    ``label`` (in arrival order: a later label for the same id replaces an earlier one)."""
    import pandas as pd

    if REQUEST_ID not in window.columns:
        raise DataError("the window has no request_id column to join labels on", "log request ids")
    for col in (REQUEST_ID, LABEL):
        if col not in labels.columns:
            raise DataError(f"the labels have no {col!r} column", "send {request_id, label} records")
    ok = labels[LABEL].map(_finite_label).astype(bool)
    clean = labels.loc[ok, [REQUEST_ID, LABEL]].astype({REQUEST_ID: str})
    deduped = clean.drop_duplicates(REQUEST_ID, keep="last")
    ids = window[REQUEST_ID].astype(str)
    known = deduped[REQUEST_ID].isin(set(ids))
    left = window.assign(**{REQUEST_ID: ids}).drop_duplicates(REQUEST_ID, keep="first")
    left = left.drop(columns=[LABEL], errors="ignore")
    joined = left.merge(deduped[known], on=REQUEST_ID, how="inner", validate="one_to_one")
    stats = LabelStats(
        joined=len(joined),
        unknown=int((~known).sum()),
        duplicates=len(clean) - len(deduped),
        missing=int((~ok).sum()),
    )
    return pd.DataFrame(joined), stats


def measure(
    task: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    probability: np.ndarray | None,
    classes: list[Any] | None,
    probabilities: np.ndarray | None = None,
) -> tuple[dict[str, float], dict[str, float]]:
    """The task's metrics from labels and predictions, and each one's standard error (``probability``:
    the predicted class's, as the inference log has it — a binary model's ROC AUC and log loss need it;
    ``probabilities``: a multiclass model's class probabilities, ``(n, k)`` in ``classes`` order — its
    macro one-vs-rest ROC AUC and log loss need them for every row, and are left out without them; the
    ROC AUC also when a class has no label in the window)."""
    from sklearn import metrics as skm

    if task == "regression":
        t = np.asarray(y_true, dtype=np.float64)
        p = np.asarray(y_pred, dtype=np.float64)
        ok = np.isfinite(p)
        t, p = t[ok], p[ok]
        n = max(t.size, 1)
        err = np.abs(t - p)
        mae, mse = float(err.mean()), float(np.mean(err**2))
        rmse = float(np.sqrt(mse))
        out = {"mae": mae, "rmse": rmse}
        se = {
            "mae": float(err.std()) / np.sqrt(n),
            "rmse": float((err**2).std()) / np.sqrt(n) / (2 * rmse or 1),
        }
        if t.size > 1 and np.var(t) > 0:
            out["r2"] = float(skm.r2_score(t, p))
            se["r2"] = float((err**2).std()) / np.sqrt(n) / float(np.var(t))
        return out, se
    t = np.asarray([_label_text(v) for v in y_true])
    p = np.asarray([_label_text(v) for v in y_pred])
    n = max(t.size, 1)
    acc = float(np.mean(t == p))
    out = {"accuracy": acc}
    se = {"accuracy": float(np.sqrt(acc * (1 - acc) / n))}
    names = [_label_text(c) for c in classes] if classes else sorted(set(t) | set(p))
    if len(names) == 2:
        pos = names[-1]
        f1 = float(skm.f1_score(t == pos, p == pos, zero_division=0.0))
        out["f1"] = f1
        involved = max(int(np.sum((t == pos) | (p == pos))), 1)  # the rows F1 is a proportion over
        se["f1"] = float(np.sqrt(f1 * (1 - f1) / involved))
        if probability is not None and np.isfinite(probability).all():
            from monitors.estimator import positive_scores

            score = positive_scores(p, probability, pos)
            n1 = int(np.sum(t == pos))
            if 0 < n1 < t.size:
                auc = float(skm.roc_auc_score(t == pos, score))
                out["roc_auc"] = auc
                se["roc_auc"] = hanley_mcneil_se(auc, n1, t.size - n1)
            s = np.clip(score, 1e-15, 1 - 1e-15)
            losses = -np.where(t == pos, np.log(s), np.log(1 - s))
            out["log_loss"] = float(losses.mean())
            se["log_loss"] = float(losses.std()) / np.sqrt(n)
    else:
        out["f1"] = float(skm.f1_score(t, p, average="macro", labels=names, zero_division=0.0))
        se["f1"] = float(np.sqrt(out["f1"] * (1 - out["f1"]) / n))
        if (
            probabilities is not None
            and probabilities.shape == (t.size, len(names))
            and np.isfinite(probabilities).all()
        ):
            from monitors.estimator_multiclass import measure_multiclass

            more, more_se = measure_multiclass(t, names, probabilities)
            out.update(more)
            se.update(more_se)
    return out, se


def hanley_mcneil_se(auc: float, n1: float, n0: float) -> float:
    """The standard error of a ROC AUC over ``n1`` positives and ``n0`` negatives (Hanley & McNeil,
    1982)."""
    if n1 < 1 or n0 < 1:
        return float("nan")
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    se2 = (auc * (1 - auc) + (n1 - 1) * (q1 - auc**2) + (n0 - 1) * (q2 - auc**2)) / (n1 * n0)
    return float(np.sqrt(max(se2, 0.0)))


def _label_text(value: Any) -> str:
    """A class label as text, the same whether it came through JSON as ``1``, ``1.0`` or ``"1"``."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        value = int(value)
    elif isinstance(value, np.generic):
        value = value.item()
    return str(value)


#: Error metrics without a fixed scale: their ``performance_drop`` is relative to the holdout value
#: (0.05 = 5 % worse); the others (roc_auc, accuracy, f1, r2) drop in absolute terms.
RELATIVE_METRICS = frozenset({"mae", "rmse", "log_loss"})
_Z_ONE_SIDED = 1.644854  # the one-sided 95 % normal quantile


def drop(metric: str, reference: float, value: float) -> float:
    """How much worse ``value`` is than ``reference`` (positive = worse), following the metric: absolute
    for scores, relative to the reference for the error metrics (:data:`RELATIVE_METRICS`)."""
    worse = value - reference if metric in LOWER_IS_BETTER else reference - value
    if metric in RELATIVE_METRICS:
        return worse / abs(reference) if reference else float("inf") if worse > 0 else 0.0
    return worse


def optimistic(metric: str, low_high: tuple[float, float]) -> float:
    """The better end of an interval ``(low, high)`` of ``metric``."""
    return low_high[0] if metric in LOWER_IS_BETTER else low_high[1]


def check_performance(
    window: pd.DataFrame,
    definition: MonitorDefinition,
    *,
    reference: dict[str, float],
    task: str,
    primary_metric: str,
    labels: pd.DataFrame | None = None,
    estimator: PerformanceEstimator | None = None,
    classes: list[Any] | None = None,
    prediction: str = "prediction",
) -> PerformanceResult:
    """Measure ``window`` against ``labels`` (or its own target column when ``labels`` is None and the
    window carries one) and estimate it with ``estimator``; flag a drop of the watched metric beyond the
    definition's ``performance_drop`` (:func:`drop`) that holds at the better end of the value's
    interval — the measured value's one-sided 95 % bound, the estimate's 95 % band."""
    metric = definition.performance_metric or primary_metric
    result = PerformanceResult(metric, definition.performance_drop, dict(reference))
    if metric not in reference:
        result.notes.append(f"the reference has no {metric!r}: the registered holdout metrics lack it")
    classes = classes or (estimator.classes if estimator is not None else None)
    joined = _labelled(window, definition, labels, prediction, result)
    if joined is not None and len(joined):
        prob = joined["probability"].to_numpy(dtype=np.float64) if "probability" in joined else None
        result.labels = len(joined)
        if len(joined) >= definition.min_labels:
            result.actual, se = measure(
                task,
                joined[LABEL].to_numpy(),
                joined[prediction].to_numpy(),
                prob,
                classes,
                _class_probabilities(joined, classes),
            )
            result.actual_band = {
                m: [v - _Z_ONE_SIDED * se[m], v + _Z_ONE_SIDED * se[m]]
                for m, v in result.actual.items()
                if m in se and math.isfinite(se[m])
            }
        else:
            result.notes.append(
                f"{len(joined)} labelled predictions, fewer than min_labels={definition.min_labels}"
            )
    elif joined is not None:
        result.notes.append("no labelled predictions in the window")
    if estimator is not None:
        try:
            est = estimator.estimate(window, prediction)
            result.estimated, result.estimated_band = est.metrics, est.band
            if est.dropped:
                kept = "left out of the estimate" if "f1" in est.metrics else "accuracy estimated only"
                result.notes.append(f"{est.dropped} predictions without usable `probabilities`: {kept}")
        except DataError as exc:
            result.notes.append(f"no estimate: {exc.message}")
    else:
        result.notes.append("no estimate: the model has no registered performance estimator")
    ref = reference.get(metric)
    if ref is not None and math.isfinite(ref):
        pairs = (
            (result.actual, result.actual_band, "degraded"),
            (result.estimated, result.estimated_band, "estimated_degraded"),
        )
        for values, bands, attr in pairs:
            value = (values or {}).get(metric)
            if value is None or not math.isfinite(value):
                continue
            # beyond the threshold with confidence: even the better end of the value's interval is
            # worse than the holdout by more than performance_drop (a small window's noise is no drop)
            band = (bands or {}).get(metric)
            best = optimistic(metric, (band[0], band[1])) if band else value
            setattr(result, attr, drop(metric, ref, best) > definition.performance_drop)
    return result


def _class_probabilities(joined: pd.DataFrame, classes: list[Any] | None) -> np.ndarray | None:
    """A multiclass window's ``probabilities`` as an ``(n, k)`` matrix, or None unless every row has a
    usable vector (then :func:`measure` leaves the metrics that need them out)."""
    if "probabilities" not in joined or not classes or len(classes) < 3:
        return None
    from monitors.estimator_multiclass import probability_matrix

    matrix, ok = probability_matrix(joined["probabilities"], len(classes))
    return matrix if ok.all() else None


def _labelled(
    window: pd.DataFrame,
    definition: MonitorDefinition,
    labels: pd.DataFrame | None,
    prediction: str,
    result: PerformanceResult,
) -> pd.DataFrame | None:
    """The window's labelled rows (``label`` column), or None when there is nothing to measure with."""
    if prediction not in window.columns:
        if labels is not None:
            result.notes.append("no measured performance: the window has no predictions")
        return None
    if labels is not None:
        joined, stats = join_labels(window, labels)
        result.label_stats = stats
        return joined[joined[prediction].notna()]
    target = definition.target
    if target and target in window.columns:
        rows = window[window[target].map(_finite_label).astype(bool) & window[prediction].notna()]
        out = rows.rename(columns={target: LABEL})
        result.label_stats = LabelStats(joined=len(out), missing=len(window) - len(rows))
        return out
    return None
