"""Performance without labels: the estimator a model version registers (CBPE for classifiers, DLE for
regressors, fitted on the holdout), and its estimate of a window.

The confidence band is that of the *realised* metric given the estimate: each label an independent draw
from its calibrated probability (classifiers), each error from its estimated mean and variance
(regressors), in a normal approximation. It says how far the labels could move the metric, not how wrong
the calibration itself is.

An estimate is two steps: :meth:`PerformanceEstimator.sums` reduces rows to :class:`EstimateSums` (sums
that two parts of a window add up to the whole's), :meth:`PerformanceEstimator.finish` turns them into the
metrics. One process does both on its window; a sharded check sums each shard and finishes the merge.

The estimator is fitted by the ``evaluate`` step, sealed with the registry's Ed25519 signing key and
registered as :data:`ESTIMATOR_FILE` next to the model; the monitor checks the seal with the verify key and
loads it with the champion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from driftloop.errors import DataError
from monitors.performance._stats import PROBABILITIES, Calibration, Estimate, Z, is_class, isotonic
from monitors.performance.cbpe import BinarySums, cbpe_binary_sums
from monitors.performance.cbpe_multiclass import (
    MulticlassSums,
    cbpe_multiclass_sums,
    fit_class_calibrations,
    multiclass_sums,
)
from monitors.performance.dle import DleSums, Encoder, dle_estimate, dle_sums, fit_error_models

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ESTIMATOR_FILE",
    "EstimateSums",
    "PerformanceEstimator",
    "binary_estimator",
    "fit_estimator",
    "multiclass_estimator",
]

ESTIMATOR_FILE = "performance_estimator.joblib"

_NO_PROBABILITY = (
    "CBPE needs the predicted class's probability and the window has none",
    "serve the model with predict_proba so the inference log carries `probability`",
)


def _add(a: Any, b: Any) -> Any:
    if a is None:
        return b
    return a if b is None else a.merge(b)


@dataclass
class AccuracySums:
    """A multiclass window without probability vectors: the calibrated probabilities of being correct."""

    n: float = 0.0
    correct: float = 0.0
    var: float = 0.0

    def merge(self, other: AccuracySums) -> AccuracySums:
        return AccuracySums(self.n + other.n, self.correct + other.correct, self.var + other.var)


@dataclass
class EstimateSums:
    """What an estimate reads from a window; ``merge`` combines two parts of a window (commutative)."""

    predicted: int = 0  # rows with a prediction
    probability_column: bool = False
    probabilities_column: bool = False
    usable: int = 0  # rows with a prediction and a finite ``probability``
    binary: BinarySums | None = None
    accuracy: AccuracySums | None = None
    multiclass: MulticlassSums | None = None
    multiclass_rows: int = 0
    multiclass_dropped: int = 0
    dle: DleSums | None = None

    def merge(self, other: EstimateSums) -> EstimateSums:
        return EstimateSums(
            self.predicted + other.predicted,
            self.probability_column or other.probability_column,
            self.probabilities_column or other.probabilities_column,
            self.usable + other.usable,
            _add(self.binary, other.binary),
            _add(self.accuracy, other.accuracy),
            _add(self.multiclass, other.multiclass),
            self.multiclass_rows + other.multiclass_rows,
            self.multiclass_dropped + other.multiclass_dropped,
            _add(self.dle, other.dle),
        )


@dataclass
class PerformanceEstimator:
    """What a monitor needs to estimate a model's performance on unlabelled rows.

    Attributes:
        task: ``classification`` or ``regression``.
        primary_metric: the model's primary metric (the one watched for a drop by default).
        classes: a classifier's classes in ``predict_proba`` order (the positive one last, when binary).
        calibration: the isotonic map, ``(x, y)`` knots interpolated linearly: positive-class score →
            P(positive) for a binary model, predicted-class probability → P(correct) for a multiclass one.
        class_calibration: a multiclass model's isotonic map per class, in ``classes`` order: class
            probability → P(label is that class). None in an estimator pickled before it existed (the
            class attribute's default then answers): that one estimates accuracy only.
        encoder / abs_model / sq_model: a regressor's error models (DLE).
    """

    task: str
    primary_metric: str
    classes: list[Any] | None = None
    calibration: Calibration | None = None
    class_calibration: list[Calibration] | None = None
    encoder: Encoder | None = None
    abs_model: Any = None
    sq_model: Any = None

    @property
    def binary(self) -> bool:
        return self.classes is not None and len(self.classes) == 2

    def calibrate(self, score: np.ndarray) -> np.ndarray:
        assert self.calibration is not None
        x, y = self.calibration
        return np.interp(score, np.asarray(x), np.asarray(y))

    def estimate(self, window: pd.DataFrame, prediction: str = "prediction") -> Estimate:
        """Estimate on ``window``: for a classifier its ``prediction`` and ``probability`` columns (the
        inference log's fields) — and for a multiclass one its ``probabilities`` when it has them — for
        a regressor its features and ``prediction``. Raises DataError naming what the window lacks."""
        return self.finish(self.sums(window, prediction))

    def sums(self, window: pd.DataFrame, prediction: str = "prediction") -> EstimateSums:
        """The sums of ``window`` (a whole window or one part of it) that :meth:`finish` reads."""
        out = EstimateSums()
        if prediction not in window.columns:
            return out
        has_pred = window[prediction].notna().to_numpy()
        out.predicted = int(has_pred.sum())
        if not out.predicted:
            return out
        if self.task == "regression":
            assert self.encoder is not None
            out.dle = dle_sums(self.encoder, self.abs_model, self.sq_model, window[has_pred], prediction)
            return out
        if not self.binary and self.class_calibration and PROBABILITIES in window.columns:
            out.probabilities_column = True
            out.multiclass, out.multiclass_rows, out.multiclass_dropped = multiclass_sums(
                self.classes or [], self.class_calibration, window, prediction
            )
        elif not self.binary and self.class_calibration:
            out.multiclass_dropped = out.predicted  # no vector at all: every row is left out
        if "probability" not in window.columns:
            return out
        out.probability_column = True
        pred = window[prediction].to_numpy()
        proba = window["probability"].to_numpy(dtype=np.float64, na_value=np.nan)
        ok = np.isfinite(proba) & has_pred
        out.usable = int(ok.sum())
        if not out.usable:
            return out
        if not ok.all():
            pred, proba = pred[ok], proba[ok]
        if not self.binary:
            correct = self.calibrate(proba)
            out.accuracy = AccuracySums(
                float(correct.size), float(correct.sum()), float(np.sum(correct * (1 - correct)))
            )
            return out
        assert self.classes is not None
        predicted_pos = is_class(pred, self.classes[-1])
        score = np.where(predicted_pos, proba, 1.0 - proba)
        out.binary = BinarySums.of(score, self.calibrate(score), predicted_pos)
        return out

    def finish(self, sums: EstimateSums) -> Estimate:
        """The estimate from a window's merged :class:`EstimateSums` (DataError: nothing to estimate)."""
        if not sums.predicted:
            raise DataError("the window has no predictions to estimate performance from", "log predictions")
        if self.task == "regression":
            assert sums.dle is not None
            return dle_estimate(sums.dle)
        dropped = 0
        if sums.probabilities_column:
            if sums.multiclass is not None and sums.multiclass_rows > sums.multiclass_dropped:
                metrics, band = cbpe_multiclass_sums(sums.multiclass)
                return Estimate(metrics, band, sums.multiclass_rows, sums.multiclass_dropped)
            # most rows without a usable vector (a window from before the server logged them): the
            # accuracy-only path below, over every row
            dropped = sums.multiclass_dropped
        if not sums.probability_column or not sums.usable:
            raise DataError(*_NO_PROBABILITY)
        if not self.binary:
            acc_sums = sums.accuracy
            assert acc_sums is not None
            acc = acc_sums.correct / acc_sums.n
            sd = float(np.sqrt(acc_sums.var)) / acc_sums.n
            band = {"accuracy": [acc - Z * sd, acc + Z * sd]}
            return Estimate({"accuracy": acc}, band, sums.usable, dropped)
        assert sums.binary is not None
        metrics, band = cbpe_binary_sums(sums.binary)
        return Estimate(metrics, band, sums.usable)


def binary_estimator(
    score: np.ndarray, positive: np.ndarray, classes: list[Any], primary_metric: str = "roc_auc"
) -> PerformanceEstimator:
    """A binary classifier's CBPE estimator from labelled reference rows: its positive-class ``score``
    and whether each row's label is the positive class (``classes[-1]``)."""
    calibration = isotonic(np.asarray(score, dtype=np.float64), np.asarray(positive, dtype=np.float64))
    return PerformanceEstimator(
        "classification", primary_metric, classes=list(classes), calibration=calibration
    )


def multiclass_estimator(
    proba: np.ndarray, labels: Any, classes: list[Any], primary_metric: str = "accuracy"
) -> PerformanceEstimator:
    """A multiclass classifier's CBPE estimator from labelled reference rows: its class probabilities
    (``n × k``, ``classes`` order) and labels. Also calibrates the predicted class's probability, what a
    window without ``probabilities`` (an older log) is estimated from."""
    text = np.asarray([str(v) for v in labels])
    top = proba.argmax(axis=1)
    correct = np.asarray([str(c) for c in classes])[top] == text
    calibration = isotonic(proba[np.arange(len(top)), top], correct.astype(np.float64))
    per_class = fit_class_calibrations(proba, text, classes)
    return PerformanceEstimator(
        "classification", primary_metric, list(classes), calibration, class_calibration=per_class
    )


def fit_estimator(
    model: Any, holdout: pd.DataFrame, target: str, task: str, primary_metric: str
) -> PerformanceEstimator:
    """Fit the estimator of ``model`` (a :class:`~driftloop.artifact.ModelArtifact` or anything with
    ``predict``/``predict_proba``/``classes_``) on the labelled ``holdout``."""
    x, y = holdout.drop(columns=[target]), holdout[target]
    if task == "regression":
        pred = np.asarray(model.predict(x), dtype=np.float64)
        encoder, abs_model, sq_model = fit_error_models(x, pred, y.to_numpy(dtype=np.float64) - pred)
        return PerformanceEstimator(
            task, primary_metric, encoder=encoder, abs_model=abs_model, sq_model=sq_model
        )
    proba = np.asarray(model.predict_proba(x), dtype=np.float64)
    found = getattr(model, "classes_", None)
    classes = [c.item() if hasattr(c, "item") else c for c in (found if found is not None else [])]
    if len(classes) != proba.shape[1]:
        raise DataError("the classifier's classes_ do not match its predict_proba columns")
    if len(classes) == 2:
        labels = np.asarray([str(v) for v in y])
        return binary_estimator(proba[:, 1], labels == str(classes[1]), classes, primary_metric)
    return multiclass_estimator(proba, y.to_numpy(), classes, primary_metric)
