"""Performance without labels: CBPE for classifiers, DLE for regressors, fitted on the holdout.

**CBPE** (confidence-based performance estimation): a classifier's scores are calibrated on the labelled
holdout (isotonic regression of the outcome on the score), so a calibrated score is the probability that
the row's label is positive. Given those probabilities, the *expected* confusion matrix of an unlabelled
window follows, and from it the expected accuracy, F1, ROC AUC (expected TPR/FPR at every score
threshold) and log loss of a binary model. A multiclass model gets one calibration per class
(one-vs-rest) and, from the ``probabilities`` the inference log carries for it, the expected accuracy,
macro F1, macro one-vs-rest ROC AUC and log loss (:mod:`monitors.estimator_multiclass`); a window without them
(an older log) or an estimator fitted before them gets the expected accuracy only, from the calibrated
probability of the predicted class.

**DLE** (direct loss estimation): two gradient-boosted regressors learn, on the holdout, the absolute and
the squared error of the model from its inputs and its prediction; their mean on a window estimates the
MAE and the RMSE.

The confidence band is that of the *realised* metric given the estimate: each label an independent draw
from its calibrated probability (classifiers), each error from its estimated mean and variance
(regressors), in a normal approximation. It says how far the labels could move the metric, not how wrong
the calibration itself is.

The estimator is fitted by the ``evaluate`` step, sealed with the model-signing key and registered as
:data:`ESTIMATOR_FILE` next to the model; the monitor loads it with the champion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from driftloop.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ESTIMATOR_FILE",
    "Estimate",
    "PerformanceEstimator",
    "binary_estimator",
    "binned_expected_auc",
    "cbpe_binary",
    "expected_auc",
    "fit_estimator",
]

ESTIMATOR_FILE = "performance_estimator.joblib"
_AUC_BINS = 1 << 16
_Z = 1.959964  # the two-sided 95 % normal quantile
_EPS = 1e-15


@dataclass(frozen=True)
class Estimate:
    """Estimated metrics of one window and their 95 % band (``metric -> [low, high]``)."""

    metrics: dict[str, float]
    band: dict[str, list[float]]
    rows: int
    #: multiclass rows without a usable probability vector: left out of the estimate, or — when they are
    #: most of the window — the reason it is the accuracy-only one
    dropped: int = 0


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
    return _roc_area(np.cumsum(q)[last], np.cumsum(1.0 - q)[last])


def binned_expected_auc(score: np.ndarray, p: np.ndarray) -> float:
    """:func:`expected_auc` without sorting: scores (probabilities, in [0, 1]) fall into
    :data:`_AUC_BINS` equal bins and rows sharing a bin count as tied — an error below 1e-4 (only
    pairs closer than 1/65536 move), in O(n) instead of a sort."""
    idx = (score * _AUC_BINS).astype(np.int64)
    np.clip(idx, 0, _AUC_BINS - 1, out=idx)
    pos = np.bincount(idx, weights=p, minlength=_AUC_BINS)
    rows = np.bincount(idx, minlength=_AUC_BINS)
    tp = np.cumsum(pos[::-1])
    return _roc_area(tp, np.cumsum(rows[::-1]) - tp)


def _roc_area(tp: np.ndarray, fp: np.ndarray) -> float:
    """The trapezoid area under the expected ROC curve from cumulative expected TP / FP counts."""
    pos, neg = tp[-1], fp[-1]
    if pos <= 0 or neg <= 0:
        return float("nan")
    tpr = np.r_[0.0, tp / pos]
    fpr = np.r_[0.0, fp / neg]
    return float(np.trapezoid(tpr, fpr))


def cbpe_binary(
    score: np.ndarray, p: np.ndarray, predicted_pos: np.ndarray, roc_auc: float | None = None
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Expected accuracy, F1, ROC AUC and log loss of a binary model, and their 95 % bands, from its
    positive-class ``score``, the calibrated probabilities ``p`` and the predicted labels
    (``predicted_pos``: True = positive); ``roc_auc`` when the caller computed it already.

    The bands are those of the realised metrics when each label is an independent draw from its
    calibrated probability, in normal approximations: per-row variances for accuracy and log loss, the
    delta method for F1, Hanley & McNeil's standard error for ROC AUC with the expected class counts.
    Everything is a handful of vectorised passes (sums and dot products, no boolean gathers)."""
    n = p.size
    pp = predicted_pos.astype(np.float64)
    n_pos_pred = float(pp.sum())
    sum_p = float(p.sum())
    tp = float(p @ pp)  # expected true positives: the predicted positives' probabilities
    fn = sum_p - tp
    fp = n_pos_pred - tp
    s = np.clip(score, _EPS, 1 - _EPS)
    log_s, log_1s = np.log(s), np.log1p(-s)
    var = p * (1.0 - p)  # the variance of each row's label
    v_tp = float(var @ pp)
    v_fn = float(var.sum()) - v_tp
    metrics = {
        "roc_auc": expected_auc(score, p) if roc_auc is None else roc_auc,
        "accuracy": (tp + (n - n_pos_pred) - fn) / n,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else float("nan"),
        "log_loss": -(float(p @ log_s) + float(log_1s.sum()) - float(p @ log_1s)) / n,
    }
    gap = log_s - log_1s
    sd = {
        "accuracy": float(np.sqrt(v_tp + v_fn)) / n,
        "log_loss": float(np.sqrt(var @ (gap * gap))) / n,
    }
    d = n_pos_pred + tp + fn
    if d > 0:
        sd["f1"] = float(np.sqrt((2 * (n_pos_pred + fn) / d**2) ** 2 * v_tp + (2 * tp / d**2) ** 2 * v_fn))
    auc = metrics["roc_auc"]
    if np.isfinite(auc):
        from monitors.performance import hanley_mcneil_se

        sd["roc_auc"] = hanley_mcneil_se(auc, sum_p, n - sum_p)
    bands = {
        k: [metrics[k] - _Z * v, metrics[k] + _Z * v]
        for k, v in sd.items()
        if np.isfinite(metrics[k]) and np.isfinite(v)
    }
    return metrics, bands


@dataclass
class _Encoder:
    """Raw feature columns → a float matrix for the error models: numbers as they are, categories as
    codes of the holdout's categories (unseen → NaN, which the boosted trees route on their own)."""

    columns: list[str]
    categories: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def fit(cls, frame: pd.DataFrame) -> _Encoder:
        import pandas as pd

        cats = {}
        for c in frame.columns:
            if not pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]):
                cats[str(c)] = sorted({str(v) for v in frame[c].dropna().unique()})
        return cls([str(c) for c in frame.columns], cats)

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        import pandas as pd

        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise DataError(f"the window lacks columns {missing} the error model needs", "log every feature")
        out = np.empty((len(frame), len(self.columns)), dtype=np.float64)
        for j, c in enumerate(self.columns):
            if c in self.categories:
                codes = pd.Categorical(frame[c].astype(str), categories=self.categories[c]).codes
                out[:, j] = np.where(codes < 0, np.nan, codes)
            else:
                out[:, j] = pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=np.float64)
        return out

    def categorical_mask(self) -> list[bool]:
        return [c in self.categories for c in self.columns]


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
    calibration: tuple[list[float], list[float]] | None = None
    class_calibration: list[tuple[list[float], list[float]]] | None = None
    encoder: _Encoder | None = None
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
        if prediction not in window.columns or not window[prediction].notna().any():
            raise DataError("the window has no predictions to estimate performance from", "log predictions")
        if self.task == "regression":
            return self._dle(window[window[prediction].notna()], prediction)
        dropped = 0
        if not self.binary and self.class_calibration and "probabilities" in window.columns:
            from monitors.estimator_multiclass import estimate_multiclass

            est = estimate_multiclass(self.classes or [], self.class_calibration, window, prediction)
            if est.rows > est.dropped:
                return est
            # most rows without a usable vector (a window from before the server logged them): the
            # accuracy-only path below, over every row
            dropped = est.dropped
        if "probability" not in window.columns:
            raise DataError(
                "CBPE needs the predicted class's probability and the window has none",
                "serve the model with predict_proba so the inference log carries `probability`",
            )
        pred = window[prediction].to_numpy()
        proba = window["probability"].to_numpy(dtype=np.float64, na_value=np.nan)
        ok = np.isfinite(proba) & window[prediction].notna().to_numpy()
        if not ok.any():
            raise DataError(
                "CBPE needs the predicted class's probability and the window has none",
                "serve the model with predict_proba so the inference log carries `probability`",
            )
        if not ok.all():
            pred, proba = pred[ok], proba[ok]
        if not self.binary:
            correct = self.calibrate(proba)
            acc = float(np.mean(correct))
            sd = float(np.sqrt(np.sum(correct * (1 - correct)))) / correct.size
            band = {"accuracy": [acc - _Z * sd, acc + _Z * sd]}
            return Estimate({"accuracy": acc}, band, proba.size, dropped)
        assert self.classes is not None
        predicted_pos = is_class(pred, self.classes[-1])
        score = np.where(predicted_pos, proba, 1.0 - proba)
        p = self.calibrate(score)
        metrics, band = cbpe_binary(score, p, predicted_pos, roc_auc=binned_expected_auc(score, p))
        return Estimate(metrics, band, proba.size)

    def _dle(self, rows: pd.DataFrame, prediction: str) -> Estimate:
        assert self.encoder is not None
        x = np.column_stack(
            [self.encoder.matrix(rows), rows[prediction].to_numpy(dtype=np.float64, na_value=np.nan)]
        )
        m = np.clip(self.abs_model.predict(x), 0.0, None)
        sq = np.clip(self.sq_model.predict(x), 0.0, None)
        n = len(rows)
        mae, mse = float(m.mean()), float(sq.mean())
        half = _Z * float(np.sqrt(np.clip(sq - m**2, 0.0, None).sum())) / n
        rmse = float(np.sqrt(mse))
        # the RMSE band: the MSE's standard error, through the square root (delta method)
        half_rmse = _Z * float(np.std(sq)) / np.sqrt(n) / (2 * rmse) if rmse > 0 else 0.0
        return Estimate(
            {"mae": mae, "rmse": rmse},
            {"mae": [mae - half, mae + half], "rmse": [max(rmse - half_rmse, 0.0), rmse + half_rmse]},
            n,
        )


def _isotonic(x: np.ndarray, y: np.ndarray) -> tuple[list[float], list[float]]:
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(x, y)
    return [float(v) for v in iso.X_thresholds_], [float(v) for v in iso.y_thresholds_]


def binary_estimator(
    score: np.ndarray, positive: np.ndarray, classes: list[Any], primary_metric: str = "roc_auc"
) -> PerformanceEstimator:
    """A binary classifier's CBPE estimator from labelled reference rows: its positive-class ``score``
    and whether each row's label is the positive class (``classes[-1]``)."""
    calibration = _isotonic(np.asarray(score, dtype=np.float64), np.asarray(positive, dtype=np.float64))
    return PerformanceEstimator(
        "classification", primary_metric, classes=list(classes), calibration=calibration
    )


def fit_estimator(
    model: Any, holdout: pd.DataFrame, target: str, task: str, primary_metric: str
) -> PerformanceEstimator:
    """Fit the estimator of ``model`` (a :class:`~driftloop.artifact.ModelArtifact` or anything with
    ``predict``/``predict_proba``/``classes_``) on the labelled ``holdout``."""
    x, y = holdout.drop(columns=[target]), holdout[target]
    if task == "regression":
        from sklearn.ensemble import HistGradientBoostingRegressor

        pred = np.asarray(model.predict(x), dtype=np.float64)
        encoder = _Encoder.fit(x)
        feats = np.column_stack([encoder.matrix(x), pred])
        err = np.abs(y.to_numpy(dtype=np.float64) - pred)
        mask = [*encoder.categorical_mask(), False]

        def booster(target_values: np.ndarray) -> Any:
            return HistGradientBoostingRegressor(
                max_iter=150, learning_rate=0.08, categorical_features=mask, random_state=0
            ).fit(feats, target_values)

        return PerformanceEstimator(
            task, primary_metric, encoder=encoder, abs_model=booster(err), sq_model=booster(err**2)
        )
    proba = np.asarray(model.predict_proba(x), dtype=np.float64)
    found = getattr(model, "classes_", None)
    classes = [c.item() if hasattr(c, "item") else c for c in (found if found is not None else [])]
    if len(classes) != proba.shape[1]:
        raise DataError("the classifier's classes_ do not match its predict_proba columns")
    if len(classes) == 2:
        labels = np.asarray([str(v) for v in y])
        return binary_estimator(proba[:, 1], labels == str(classes[1]), classes, primary_metric)
    from monitors.estimator_multiclass import multiclass_estimator

    return multiclass_estimator(proba, y.to_numpy(), classes, primary_metric)
