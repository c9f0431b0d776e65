"""Multiclass CBPE and multiclass metrics from the full probability vector (NannyML's method).

The inference log of a multiclass model carries ``probabilities`` — every class's probability in
``classes_`` order — next to the predicted class's ``probability``. From it:

* **fit** (:func:`fit_class_calibrations`): one isotonic calibration per class on the labelled holdout,
  one-vs-rest (``p_c`` against ``label == c``);
* **estimate** (:func:`cbpe_multiclass`): each class's probabilities calibrated, each row renormalised
  to sum to 1 (calibrating the classes one by one breaks the sum), then the expected accuracy (the mean
  calibrated probability of the predicted class), macro F1 (per class the expected TP / FP / FN from the
  calibrated probabilities), macro one-vs-rest ROC AUC (per class the expected AUC of the model's own
  score against the calibrated probability, :func:`~monitors.estimator.binned_expected_auc`, averaged)
  and log loss (each row's expected loss of the model's probabilities under the calibrated ones);
* **measure** (:func:`measure_multiclass`): with labels, the macro one-vs-rest ROC AUC and the log loss.

Bands and standard errors follow the binary code (:func:`~monitors.estimator.cbpe_binary`): each label
an independent draw — here a categorical one — from its calibrated probabilities, normal approximations.
A macro ROC AUC's standard error is the mean of the per-class Hanley & McNeil errors: the per-class AUCs
of one window are correlated, and the mean of their errors bounds the error of their mean whatever the
correlation (it is exact when they move together), so the band is, if anything, too wide.
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any

import numpy as np

from monitors.estimator import (
    _EPS,
    _Z,
    Estimate,
    PerformanceEstimator,
    _isotonic,
    binned_expected_auc,
    is_class,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "PROBABILITIES",
    "calibrated",
    "cbpe_multiclass",
    "estimate_multiclass",
    "fit_class_calibrations",
    "measure_multiclass",
    "multiclass_estimator",
    "predicted_index",
    "probability_matrix",
]

#: The inference-log field (and window column) with a multiclass model's class probabilities.
PROBABILITIES = "probabilities"

Calibration = tuple[list[float], list[float]]


def multiclass_estimator(
    proba: np.ndarray, labels: Any, classes: list[Any], primary_metric: str = "accuracy"
) -> PerformanceEstimator:
    """A multiclass classifier's CBPE estimator from labelled reference rows: its class probabilities
    (``n × k``, ``classes`` order) and labels. Also calibrates the predicted class's probability, what a
    window without ``probabilities`` (an older log) is estimated from."""
    text = np.asarray([str(v) for v in labels])
    top = proba.argmax(axis=1)
    correct = np.asarray([str(c) for c in classes])[top] == text
    calibration = _isotonic(proba[np.arange(len(top)), top], correct.astype(np.float64))
    per_class = fit_class_calibrations(proba, text, classes)
    return PerformanceEstimator(
        "classification", primary_metric, list(classes), calibration, class_calibration=per_class
    )


def fit_class_calibrations(proba: np.ndarray, labels: np.ndarray, classes: list[Any]) -> list[Calibration]:
    """One isotonic calibration per class (``proba[:, c]`` → P(label is ``classes[c]``)); ``labels`` as
    text, compared with ``str(class)``."""
    return [_isotonic(proba[:, c], (labels == str(cls)).astype(np.float64)) for c, cls in enumerate(classes)]


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


def cbpe_multiclass(
    score: np.ndarray, q: np.ndarray, pred: np.ndarray
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Expected accuracy, macro F1, macro one-vs-rest ROC AUC and log loss, and their 95 % bands, from the
    model's class probabilities ``score`` (n × k), the calibrated and renormalised ones ``q`` and the
    predicted class indices ``pred``.

    F1's band is the delta method over the categorical labels: macro F1 is linearised in each row's
    one-hot label, whose variance is ``Σ_c g_c² q_c − (Σ_c g_c q_c)²`` for the row's gradient ``g``."""
    from monitors.performance import hanley_mcneil_se

    n, k = q.shape
    rows = np.arange(n)
    q_pred = q[rows, pred]
    onehot = np.zeros((n, k))
    onehot[rows, pred] = 1.0
    n_pred = np.bincount(pred, minlength=k).astype(np.float64)
    tp = np.bincount(pred, weights=q_pred, minlength=k)  # expected true positives per class
    sum_q = q.sum(axis=0)  # expected members per class
    fn = sum_q - tp
    d = n_pred + sum_q  # 2 TP + FP + FN
    live = d > 0
    safe = np.where(live, d, 1.0)
    f1 = np.where(live, 2 * tp / safe, 0.0)  # a class nobody predicts or expects: 0, as sklearn's
    acc = float(q_pred.mean())
    metrics = {"accuracy": acc, "f1": float(f1.mean())}
    sd = {"accuracy": float(np.sqrt(np.sum(q_pred * (1 - q_pred)))) / n}
    d_tp = np.where(live, 2 * (n_pred + fn) / safe**2, 0.0) / k  # ∂ macro F1 / ∂ TP_c
    d_fn = np.where(live, -2 * tp / safe**2, 0.0) / k  # ∂ macro F1 / ∂ FN_c
    g = d_fn + onehot * (d_tp - d_fn)  # a row's label in class c moves TP_c if predicted c, else FN_c
    gq = g * q
    sd["f1"] = float(np.sqrt(max(float(np.sum(g * gq) - np.sum(gq.sum(axis=1) ** 2)), 0.0)))
    # log loss: each row's expected loss of the model's own probabilities under the calibrated ones
    logp = np.log(np.clip(score, _EPS, 1.0))
    mean_log = (q * logp).sum(axis=1)
    metrics["log_loss"] = float(-mean_log.mean())
    sd["log_loss"] = float(np.sqrt(max(float(np.sum((q * logp**2).sum(axis=1) - mean_log**2)), 0.0))) / n
    aucs = [binned_expected_auc(score[:, c], q[:, c]) for c in range(k)]
    errors = [hanley_mcneil_se(a, s, n - s) for a, s in zip(aucs, sum_q, strict=True)]
    if all(np.isfinite(aucs)) and all(np.isfinite(errors)):
        # a class expected less than once in the window has no error (Hanley & McNeil need one member):
        # the AUC is left out rather than reported without a band and judged on its point value
        metrics["roc_auc"] = float(np.mean(aucs))
        sd["roc_auc"] = float(np.mean(errors))
    bands = {
        m: [metrics[m] - _Z * v, metrics[m] + _Z * v]
        for m, v in sd.items()
        if np.isfinite(metrics[m]) and np.isfinite(v)
    }
    return metrics, bands


def calibrated(calibrations: list[Calibration], proba: np.ndarray) -> np.ndarray:
    """Each class's column through its calibration, each row renormalised to sum to 1 (uniform when every
    calibrated probability of a row is 0, as NannyML does)."""
    q = np.column_stack(
        [np.interp(proba[:, c], np.asarray(x), np.asarray(y)) for c, (x, y) in enumerate(calibrations)]
    )
    total = q.sum(axis=1, keepdims=True)
    return np.divide(q, total, out=np.full_like(q, 1.0 / q.shape[1]), where=total > 0)


def estimate_multiclass(
    classes: list[Any], calibrations: list[Calibration], window: pd.DataFrame, prediction: str
) -> Estimate:
    """Multiclass CBPE on the window's ``prediction`` and ``probabilities`` columns. Rows with a
    prediction but no usable vector (or a prediction that is none of the ``classes``) are left out and
    counted in ``dropped``; ``rows`` is 0 when none remains (the caller falls back to accuracy)."""
    rows = window[window[prediction].notna().to_numpy()]
    score, ok = probability_matrix(rows[PROBABILITIES], len(classes))
    pred = predicted_index(rows[prediction].to_numpy(), classes)
    ok &= pred >= 0
    n = int(ok.sum())
    if n == 0:
        return Estimate({}, {}, 0, len(rows))
    if n < len(rows):
        score, pred = score[ok], pred[ok]
    metrics, band = cbpe_multiclass(score, calibrated(calibrations, score), pred)
    return Estimate(metrics, band, n, len(rows) - n)


def measure_multiclass(
    t: np.ndarray, names: list[str], proba: np.ndarray
) -> tuple[dict[str, float], dict[str, float]]:
    """A multiclass model's measured macro one-vs-rest ROC AUC (only when every class has a label in the
    window: a class's AUC needs positives) and log loss, with standard errors, from the labels ``t`` and
    the class probabilities ``proba`` (columns in ``names`` order; labels and names as text).

    Standard errors: the log loss's is that of a mean of per-row losses; the ROC AUC's the mean of the
    per-class Hanley & McNeil errors (see the module docstring). A label that is none of the classes
    counts as given probability 0 — its loss is that of the clipped ``1e-15``."""
    from sklearn.metrics import roc_auc_score

    from monitors.performance import hanley_mcneil_se

    n = max(t.size, 1)
    out: dict[str, float] = {}
    se: dict[str, float] = {}
    idx = np.full(t.size, -1, dtype=np.int64)
    for c, name in enumerate(names):
        idx[t == name] = c
    counts = np.bincount(idx[idx >= 0], minlength=len(names))
    if t.size and (counts > 0).all() and (counts < t.size).all():
        per_class = [float(roc_auc_score(idx == c, proba[:, c])) for c in range(len(names))]
        try:
            order = np.argsort(names)  # sklearn wants the labels sorted, the columns to match
            auc = float(
                roc_auc_score(
                    t, proba[:, order], multi_class="ovr", average="macro", labels=[names[i] for i in order]
                )
            )
        except ValueError:  # rows that do not sum to 1: sklearn refuses; its macro OvR is this mean
            auc = float(np.mean(per_class))
        out["roc_auc"] = auc
        errors = [hanley_mcneil_se(a, m, t.size - m) for a, m in zip(per_class, counts, strict=True)]
        se["roc_auc"] = float(np.mean(errors))
    p_true = np.where(idx >= 0, proba[np.arange(t.size), np.maximum(idx, 0)], 0.0)
    losses = -np.log(np.clip(p_true, _EPS, 1.0))
    out["log_loss"] = float(losses.mean()) if t.size else float("nan")
    se["log_loss"] = float(losses.std()) / np.sqrt(n)
    return out, se
