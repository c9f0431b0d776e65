"""Multiclass CBPE from the full probability vector (NannyML's method).

The inference log of a multiclass model carries ``probabilities`` — every class's probability in
``classes_`` order — next to the predicted class's ``probability``. From it:

* **fit** (:func:`fit_class_calibrations`): one isotonic calibration per class on the labelled holdout,
  one-vs-rest (``p_c`` against ``label == c``);
* **estimate** (:func:`cbpe_multiclass`): each class's probabilities calibrated, each row renormalised
  to sum to 1 (calibrating the classes one by one breaks the sum), then the expected accuracy (the mean
  calibrated probability of the predicted class), macro F1 (per class the expected TP / FP / FN from the
  calibrated probabilities), macro one-vs-rest ROC AUC (per class the expected AUC of the model's own
  score against the calibrated probability, binned as
  :func:`~monitors.performance._stats.binned_expected_auc`, averaged) and log loss (each row's expected
  loss of the model's probabilities under the calibrated ones).

Everything is read from :class:`MulticlassSums`, sums over the rows that two windows' add up to their
union's, so a sharded check merges them.

Bands and standard errors follow the binary code (:func:`~monitors.performance.cbpe.cbpe_binary`): each
label an independent draw — here a categorical one — from its calibrated probabilities, normal
approximations. A macro ROC AUC's standard error is the mean of the per-class Hanley & McNeil errors: the
per-class AUCs of one window are correlated, and the mean of their errors bounds the error of their mean
whatever the correlation (it is exact when they move together), so the band is, if anything, too wide.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from monitors.performance._stats import (
    EPS,
    PROBABILITIES,
    Calibration,
    Estimate,
    binned_auc,
    binned_counts,
    hanley_mcneil_se,
    isotonic,
    normal_bands,
    predicted_index,
    probability_matrix,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MulticlassSums",
    "calibrated",
    "cbpe_multiclass",
    "cbpe_multiclass_sums",
    "fit_class_calibrations",
    "multiclass_sums",
]


def fit_class_calibrations(proba: np.ndarray, labels: np.ndarray, classes: list[Any]) -> list[Calibration]:
    """One isotonic calibration per class (``proba[:, c]`` → P(label is ``classes[c]``)); ``labels`` as
    text, compared with ``str(class)``."""
    return [isotonic(proba[:, c], (labels == str(cls)).astype(np.float64)) for c, cls in enumerate(classes)]


@dataclass
class MulticlassSums:
    """Sums over the rows of a window that multiclass CBPE needs (``k`` classes); ``merge`` adds two."""

    n: float
    q_pred: float  # Σ calibrated probability of the predicted class
    q_pred_var: float  # Σ q_pred (1 - q_pred)
    n_pred: np.ndarray  # (k,) rows predicted as each class
    tp: np.ndarray  # (k,) Σ q_pred by predicted class
    sum_q: np.ndarray  # (k,) Σ q per class
    qq: np.ndarray  # (k, k) Σ_r q_r q_rᵀ
    mq: np.ndarray  # (k, k) [p, c]: Σ over rows predicted p of q_rc q_rp
    mean_log: float  # Σ_r Σ_c q_rc log s_rc
    log_var: float  # Σ_r (Σ_c q_rc log² s_rc − (Σ_c q_rc log s_rc)²)
    auc_pos: np.ndarray  # (k, bins) Σ q_c per bin of the model's score s_c
    auc_rows: np.ndarray  # (k, bins) rows per bin of s_c

    @classmethod
    def of(cls, score: np.ndarray, q: np.ndarray, pred: np.ndarray) -> MulticlassSums:
        n, k = q.shape
        rows = np.arange(n)
        qp = q[rows, pred]
        logp = np.log(np.clip(score, EPS, 1.0))
        row_mean = (q * logp).sum(axis=1)
        mq = np.zeros((k, k))
        np.add.at(mq, pred, q * qp[:, None])
        bins = [binned_counts(score[:, c], q[:, c]) for c in range(k)]
        return cls(
            n=float(n),
            q_pred=float(qp.sum()),
            q_pred_var=float(np.sum(qp * (1 - qp))),
            n_pred=np.bincount(pred, minlength=k).astype(np.float64),
            tp=np.bincount(pred, weights=qp, minlength=k),
            sum_q=q.sum(axis=0),
            qq=q.T @ q,
            mq=mq,
            mean_log=float(row_mean.sum()),
            log_var=float(np.sum((q * logp**2).sum(axis=1) - row_mean**2)),
            auc_pos=np.stack([b[0] for b in bins]),
            auc_rows=np.stack([b[1] for b in bins]),
        )

    def merge(self, other: MulticlassSums) -> MulticlassSums:
        return MulticlassSums(**{k: getattr(self, k) + getattr(other, k) for k in self.__dataclass_fields__})


def cbpe_multiclass_sums(sums: MulticlassSums) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Expected accuracy, macro F1, macro one-vs-rest ROC AUC and log loss, and their 95 % bands.

    F1's band is the delta method over the categorical labels: macro F1 is linearised in each row's
    one-hot label, whose variance is ``Σ_c g_c² q_c − (Σ_c g_c q_c)²`` for the row's gradient ``g``; with
    ``g_c = a_c + [c predicted] b_c`` both sums over the rows expand into the per-class sums kept."""
    n, k = sums.n, sums.sum_q.size
    tp, n_pred, sum_q = sums.tp, sums.n_pred, sums.sum_q
    fn = sum_q - tp
    d = n_pred + sum_q  # 2 TP + FP + FN
    live = d > 0
    safe = np.where(live, d, 1.0)
    f1 = np.where(live, 2 * tp / safe, 0.0)  # a class nobody predicts or expects: 0, as sklearn's
    acc = sums.q_pred / n
    metrics = {"accuracy": acc, "f1": float(f1.mean())}
    sd = {"accuracy": float(np.sqrt(sums.q_pred_var)) / n}
    d_tp = np.where(live, 2 * (n_pred + fn) / safe**2, 0.0) / k  # ∂ macro F1 / ∂ TP_c
    a = np.where(live, -2 * tp / safe**2, 0.0) / k  # ∂ macro F1 / ∂ FN_c
    b = d_tp - a
    first = float(a**2 @ sum_q + ((a + b) ** 2 - a**2) @ tp)
    second = float(a @ sums.qq @ a + 2 * b @ (sums.mq @ a) + (b**2) @ np.diag(sums.mq))
    sd["f1"] = float(np.sqrt(max(first - second, 0.0)))
    metrics["log_loss"] = float(-sums.mean_log / n)
    sd["log_loss"] = float(np.sqrt(max(sums.log_var, 0.0))) / n
    aucs = [binned_auc(sums.auc_pos[c], sums.auc_rows[c]) for c in range(k)]
    errors = [hanley_mcneil_se(au, s, n - s) for au, s in zip(aucs, sum_q, strict=True)]
    if all(np.isfinite(aucs)) and all(np.isfinite(errors)):
        # a class expected less than once in the window has no error (Hanley & McNeil need one member):
        # the AUC is left out rather than reported without a band and judged on its point value
        metrics["roc_auc"] = float(np.mean(aucs))
        sd["roc_auc"] = float(np.mean(errors))
    return metrics, normal_bands(metrics, sd)


def cbpe_multiclass(
    score: np.ndarray, q: np.ndarray, pred: np.ndarray
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """:func:`cbpe_multiclass_sums` of the model's class probabilities ``score`` (n × k), the calibrated
    and renormalised ones ``q`` and the predicted class indices ``pred``."""
    return cbpe_multiclass_sums(MulticlassSums.of(score, q, pred))


def calibrated(calibrations: list[Calibration], proba: np.ndarray) -> np.ndarray:
    """Each class's column through its calibration, each row renormalised to sum to 1 (uniform when every
    calibrated probability of a row is 0, as NannyML does)."""
    q = np.column_stack(
        [np.interp(proba[:, c], np.asarray(x), np.asarray(y)) for c, (x, y) in enumerate(calibrations)]
    )
    total = q.sum(axis=1, keepdims=True)
    return np.divide(q, total, out=np.full_like(q, 1.0 / q.shape[1]), where=total > 0)


def multiclass_sums(
    classes: list[Any], calibrations: list[Calibration], window: pd.DataFrame, prediction: str
) -> tuple[MulticlassSums | None, int, int]:
    """The window's :class:`MulticlassSums` over its rows with a prediction, a usable ``probabilities``
    vector and a prediction among ``classes`` (None: no such row), the number of such rows and the
    number left out."""
    rows = window[window[prediction].notna().to_numpy()]
    score, ok = probability_matrix(rows[PROBABILITIES], len(classes))
    pred = predicted_index(rows[prediction].to_numpy(), classes)
    ok &= pred >= 0
    n = int(ok.sum())
    if n == 0:
        return None, 0, len(rows)
    if n < len(rows):
        score, pred = score[ok], pred[ok]
    return MulticlassSums.of(score, calibrated(calibrations, score), pred), n, len(rows) - n


def estimate_multiclass(
    classes: list[Any], calibrations: list[Calibration], window: pd.DataFrame, prediction: str
) -> Estimate:
    """Multiclass CBPE on the window's ``prediction`` and ``probabilities`` columns. Rows with a
    prediction but no usable vector (or a prediction that is none of the ``classes``) are left out and
    counted in ``dropped``; ``rows`` is 0 when none remains (the caller falls back to accuracy)."""
    sums, n, dropped = multiclass_sums(classes, calibrations, window, prediction)
    if sums is None:
        return Estimate({}, {}, 0, dropped)
    metrics, band = cbpe_multiclass_sums(sums)
    return Estimate(metrics, band, n, dropped)
