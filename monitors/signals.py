"""One monitor run: the univariate drift check plus the signals around it — measured and estimated
performance, multivariate drift, per-segment drift — in one :class:`~monitors.check.CheckResult`.

Which fired signal asks for a retrain is the definition's ``triggers`` (default: dataset drift or a
measured performance drop); the result's ``reason`` is the first of them, and its event carries
``data.retrain`` / ``data.reason`` for the Sensor.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from monitors.check import CheckResult, WindowInfo, run_check

if TYPE_CHECKING:
    import pandas as pd

    from driftloop.monitorspec import MonitorDefinition
    from monitors.performance import PerformanceEstimator
    from monitors.profile import ReferenceProfile
    from monitors.segments import SegmentCheck

__all__ = [
    "LOG_FIELDS",
    "PerformanceContext",
    "labels_digest",
    "multivariate_sample",
    "run_monitor",
    "segment_counts",
    "split_log_fields",
]

#: Inference-log fields a window read with ``log_fields=True`` carries besides the features: what the
#: performance check joins on (``request_id``) and scores (``prediction``, ``probability``, a multiclass
#: model's ``probabilities``).
LOG_FIELDS = ("request_id", "prediction", "probability", "probabilities")
#: Window rows the multivariate test samples (the domain classifier's ``max_rows``).
MULTIVARIATE_ROWS = 5000


@dataclass
class PerformanceContext:
    """What a performance check knows about the model: its task, primary metric, holdout metrics (the
    reference) and, when registered, its performance estimator."""

    task: str
    primary_metric: str
    reference: dict[str, float]
    estimator: PerformanceEstimator | None = None
    classes: list[Any] | None = None
    notes: list[str] = field(default_factory=list)


def split_log_fields(window: pd.DataFrame, definition: MonitorDefinition) -> pd.DataFrame:
    """The window without the inference-log fields, keeping a monitored prediction column."""
    drop = [c for c in LOG_FIELDS if c in window.columns and c != definition.prediction]
    return window.drop(columns=drop) if drop else window


def labels_digest(labels: pd.DataFrame | None) -> str | None:
    if labels is None:
        return None
    import pandas as pd

    hashed = pd.util.hash_pandas_object(labels.astype(str), index=False).to_numpy()
    return hashlib.blake2b(hashed.tobytes(), digest_size=12).hexdigest()


def multivariate_sample(window: pd.DataFrame, rows: int = MULTIVARIATE_ROWS) -> pd.DataFrame:
    """The window rows the multivariate test compares (:mod:`monitors.sample`: the same rows a sharded
    check keeps)."""
    from monitors.sample import sample_positions

    return window.iloc[sample_positions(len(window), rows)]


def segment_counts(window: pd.DataFrame, definition: MonitorDefinition) -> dict[str, Any]:
    """Per segment column, the window's rows per value (None: the window lacks the column)."""
    return {
        c: (window[c].value_counts(dropna=True).to_dict() if c in window.columns else None)
        for c in definition.segments
    }


def _window_check(window: pd.DataFrame) -> SegmentCheck:
    """The segment check on rows held in memory: the drift check of the segment's rows."""

    def check(
        sub_profile: ReferenceProfile, sub_def: MonitorDefinition, column: str, value: Any
    ) -> CheckResult:
        return run_check(sub_profile, window[window[column] == value], sub_def, workers=1)

    return check


def run_monitor(
    profile: ReferenceProfile,
    window: pd.DataFrame,
    definition: MonitorDefinition | None = None,
    *,
    info: WindowInfo | None = None,
    performance: PerformanceContext | None = None,
    labels: pd.DataFrame | None = None,
) -> CheckResult:
    """Every check of ``window`` (which may carry :data:`LOG_FIELDS`) against ``profile``. Performance is
    checked when ``performance`` is given; multivariate drift when the definition's threshold is set;
    segments when it names them. Never raises for bad labels or a missing segment column: they end up in
    the result's notes and counts."""
    from monitors.multivariate import domain_classifier
    from monitors.performance import check_performance
    from monitors.segments import check_segments

    definition = definition or profile.definition
    features_only = split_log_fields(window, definition)
    result = run_check(profile, features_only, definition, window=info)
    result.triggers = tuple(definition.triggers)
    if result.status == "quality":
        return result
    sample = profile.sample
    feature_names = [n for n, c in profile.columns.items() if c.role == "feature"]
    if definition.multivariate_threshold is not None and sample is not None:
        result.multivariate = domain_classifier(
            sample, multivariate_sample(features_only), feature_names, definition.multivariate_threshold
        )
    if definition.segments:
        result.segments, notes = check_segments(
            profile, definition, segment_counts(features_only, definition), _window_check(features_only)
        )
        result.notes.extend(notes)
    if performance is not None:
        result.performance = check_performance(
            window,
            definition,
            reference=performance.reference,
            task=performance.task,
            primary_metric=performance.primary_metric,
            labels=labels,
            estimator=performance.estimator,
            classes=performance.classes,
        )
        result.notes.extend(performance.notes)
        result.labels_digest = labels_digest(labels)
    return result
