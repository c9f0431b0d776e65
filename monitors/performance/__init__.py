"""Measured and estimated performance of a window, compared with the holdout's.

* :mod:`~monitors.performance.measured`: labels joined to predictions, the task's metrics on them;
* :mod:`~monitors.performance.cbpe` / :mod:`~monitors.performance.cbpe_multiclass`: a classifier's
  expected metrics from calibrated scores (no labels needed);
* :mod:`~monitors.performance.dle`: a regressor's expected MAE / RMSE from learned error models;
* :mod:`~monitors.performance.estimator`: the estimator a model version registers, which dispatches to
  the three above;
* :mod:`~monitors.performance.check`: both compared with the holdout metrics — the check's verdict.

All of them import the shared statistics one way from the private ``_stats`` module, never each other's
internals.
"""

from monitors.performance.check import PerformanceResult, check_performance
from monitors.performance.estimator import (
    ESTIMATOR_FILE,
    PerformanceEstimator,
    binary_estimator,
    fit_estimator,
    multiclass_estimator,
)
from monitors.performance.measured import LabelStats, drop, join_labels, measure, optimistic

__all__ = [
    "ESTIMATOR_FILE",
    "LabelStats",
    "PerformanceEstimator",
    "PerformanceResult",
    "binary_estimator",
    "check_performance",
    "drop",
    "fit_estimator",
    "join_labels",
    "measure",
    "multiclass_estimator",
    "optimistic",
]
