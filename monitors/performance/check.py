"""A window's performance check: measured on labels and estimated without them, each compared with the
holdout's.

A window whose joined labels number fewer than ``min_labels`` gets no measured performance (and so can
never report a measured drop); the estimate (:mod:`monitors.performance.estimator`) needs no labels.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from driftloop.errors import DataError
from driftloop.modelspec import LOWER_IS_BETTER
from monitors.performance._stats import Z_ONE_SIDED, Estimate, finite_label, probability_matrix
from monitors.performance.measured import LABEL, LabelStats, drop, join_labels, measure, optimistic

if TYPE_CHECKING:
    import pandas as pd

    from driftloop.monitorspec import MonitorDefinition
    from monitors.performance.estimator import PerformanceEstimator

__all__ = [
    "PerformanceResult",
    "check_performance",
    "judge",
    "labelled_rows",
    "record_estimate",
    "record_measured",
    "start",
]


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
    result = start(definition, reference, primary_metric)
    classes = classes or (estimator.classes if estimator is not None else None)
    joined = _labelled(window, definition, labels, prediction, result)
    if joined is not None:

        def metrics() -> tuple[dict[str, float], dict[str, float]]:
            assert joined is not None
            prob = joined["probability"].to_numpy(dtype=np.float64) if "probability" in joined else None
            return measure(
                task,
                joined[LABEL].to_numpy(),
                joined[prediction].to_numpy(),
                prob,
                classes,
                class_probabilities(joined, classes),
            )

        record_measured(result, definition, len(joined), metrics)
    record_estimate(result, estimator, lambda: estimator.estimate(window, prediction) if estimator else None)
    return judge(result, definition)


def start(
    definition: MonitorDefinition, reference: dict[str, float], primary_metric: str
) -> PerformanceResult:
    """An empty result for the watched metric (the definition's, else the model's primary)."""
    metric = definition.performance_metric or primary_metric
    result = PerformanceResult(metric, definition.performance_drop, dict(reference))
    if metric not in reference:
        result.notes.append(f"the reference has no {metric!r}: the registered holdout metrics lack it")
    return result


def record_measured(
    result: PerformanceResult,
    definition: MonitorDefinition,
    labelled: int,
    metrics: Callable[[], tuple[dict[str, float], dict[str, float]]],
) -> None:
    """The measured metrics (``metrics()``: values and standard errors) when ``labelled`` predictions
    reach ``min_labels``, with their one-sided 95 % bands; else a note."""
    result.labels = labelled
    if not labelled:
        result.notes.append("no labelled predictions in the window")
    elif labelled < definition.min_labels:
        result.notes.append(f"{labelled} labelled predictions, fewer than min_labels={definition.min_labels}")
    else:
        result.actual, se = metrics()
        result.actual_band = {
            m: [v - Z_ONE_SIDED * se[m], v + Z_ONE_SIDED * se[m]]
            for m, v in result.actual.items()
            if m in se and math.isfinite(se[m])
        }


def record_estimate(
    result: PerformanceResult, estimator: PerformanceEstimator | None, estimate: Callable[[], Estimate | None]
) -> None:
    """The estimate (``estimate()``) and its band, or a note saying why there is none."""
    if estimator is None:
        result.notes.append("no estimate: the model has no registered performance estimator")
        return
    try:
        est = estimate()
    except DataError as exc:
        result.notes.append(f"no estimate: {exc.message}")
        return
    assert est is not None
    result.estimated, result.estimated_band = est.metrics, est.band
    if est.dropped:
        kept = "left out of the estimate" if "f1" in est.metrics else "accuracy estimated only"
        result.notes.append(f"{est.dropped} predictions without usable `probabilities`: {kept}")


def judge(result: PerformanceResult, definition: MonitorDefinition) -> PerformanceResult:
    """Set ``degraded`` / ``estimated_degraded``: the watched metric worse than the holdout by more than
    ``performance_drop`` even at the better end of its interval."""
    ref = result.reference.get(result.metric)
    if ref is None or not math.isfinite(ref):
        return result
    pairs = (
        (result.actual, result.actual_band, "degraded"),
        (result.estimated, result.estimated_band, "estimated_degraded"),
    )
    for values, bands, attr in pairs:
        value = (values or {}).get(result.metric)
        if value is None or not math.isfinite(value):
            continue
        # beyond the threshold with confidence: even the better end of the value's interval is
        # worse than the holdout by more than performance_drop (a small window's noise is no drop)
        band = (bands or {}).get(result.metric)
        best = optimistic(result.metric, (band[0], band[1])) if band else value
        setattr(result, attr, drop(result.metric, ref, best) > definition.performance_drop)
    return result


def class_probabilities(joined: pd.DataFrame, classes: list[Any] | None) -> np.ndarray | None:
    """A multiclass window's ``probabilities`` as an ``(n, k)`` matrix, or None unless every row has a
    usable vector (then :func:`measure` leaves the metrics that need them out)."""
    if "probabilities" not in joined or not classes or len(classes) < 3:
        return None
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
    rows, stats = labelled_rows(window, definition, labels, prediction)
    if prediction not in window.columns and labels is not None:
        result.notes.append("no measured performance: the window has no predictions")
    if stats is not None:
        result.label_stats = stats
    return rows


def labelled_rows(
    window: pd.DataFrame, definition: MonitorDefinition, labels: pd.DataFrame | None, prediction: str
) -> tuple[pd.DataFrame | None, LabelStats | None]:
    """The window's rows that have a label and a prediction (``label`` column) and what happened to the
    labels; (None, None) when there is nothing to measure with (no predictions, no labels, no target)."""
    if prediction not in window.columns:
        return None, None
    if labels is not None:
        joined, stats = join_labels(window, labels)
        return joined[joined[prediction].notna()], stats
    target = definition.target
    if target and target in window.columns:
        rows = window[window[target].map(finite_label).astype(bool) & window[prediction].notna()]
        out = rows.rename(columns={target: LABEL})
        return out, LabelStats(joined=len(out), missing=len(window) - len(rows))
    return None, None
