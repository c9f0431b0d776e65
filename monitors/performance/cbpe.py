"""CBPE for a binary classifier: the expected confusion matrix of an unlabelled window from calibrated
scores, and the bands of the realised metrics.

A classifier's scores are calibrated on the labelled holdout (isotonic regression of the outcome on the
score, :func:`~monitors.performance._stats.isotonic`), so a calibrated score is the probability that the
row's label is positive. Given those probabilities, the *expected* confusion matrix of an unlabelled
window follows, and from it the expected accuracy, F1, ROC AUC (expected TPR/FPR at every score
threshold) and log loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from monitors.performance._stats import (
    EPS,
    binned_auc,
    binned_counts,
    expected_auc,
    hanley_mcneil_se,
    normal_bands,
)

__all__ = ["BinarySums", "cbpe_binary", "cbpe_binary_sums"]


@dataclass
class BinarySums:
    """The sums binary CBPE reads from a window (mergeable: add two windows' sums for their union)."""

    n: float
    n_pos_pred: float
    sum_p: float
    tp: float
    p_log_s: float
    log_1s: float
    p_log_1s: float
    v_tp: float
    v_all: float
    v_gap2: float
    auc_pos: np.ndarray  # per score bin: summed calibrated probabilities
    auc_rows: np.ndarray  # per score bin: rows

    @classmethod
    def of(cls, score: np.ndarray, p: np.ndarray, predicted_pos: np.ndarray) -> BinarySums:
        """The sums of one batch: positive-class ``score``, calibrated ``p``, predicted labels."""
        pp = predicted_pos.astype(np.float64)
        s = np.clip(score, EPS, 1 - EPS)
        log_s, log_1s = np.log(s), np.log1p(-s)
        var = p * (1.0 - p)  # the variance of each row's label
        gap = log_s - log_1s
        pos, rows = binned_counts(score, p)
        return cls(
            n=float(p.size),
            n_pos_pred=float(pp.sum()),
            sum_p=float(p.sum()),
            tp=float(p @ pp),
            p_log_s=float(p @ log_s),
            log_1s=float(log_1s.sum()),
            p_log_1s=float(p @ log_1s),
            v_tp=float(var @ pp),
            v_all=float(var.sum()),
            v_gap2=float(var @ (gap * gap)),
            auc_pos=pos,
            auc_rows=rows,
        )

    def merge(self, other: BinarySums) -> BinarySums:
        fields = {k: getattr(self, k) + getattr(other, k) for k in self.__dataclass_fields__}
        return BinarySums(**fields)


def cbpe_binary_sums(
    sums: BinarySums, roc_auc: float | None = None
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Binary CBPE's metrics and bands from a window's :class:`BinarySums` (``roc_auc``: when the caller
    computed it exactly; else the binned expected AUC of the sums)."""
    n, n_pos_pred, sum_p, tp = sums.n, sums.n_pos_pred, sums.sum_p, sums.tp
    fn = sum_p - tp
    fp = n_pos_pred - tp
    metrics = {
        "roc_auc": binned_auc(sums.auc_pos, sums.auc_rows) if roc_auc is None else roc_auc,
        "accuracy": (tp + (n - n_pos_pred) - fn) / n,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else float("nan"),
        "log_loss": -(sums.p_log_s + sums.log_1s - sums.p_log_1s) / n,
    }
    v_tp, v_fn = sums.v_tp, sums.v_all - sums.v_tp
    sd = {
        "accuracy": float(np.sqrt(v_tp + v_fn)) / n,
        "log_loss": float(np.sqrt(sums.v_gap2)) / n,
    }
    d = n_pos_pred + tp + fn
    if d > 0:
        sd["f1"] = float(np.sqrt((2 * (n_pos_pred + fn) / d**2) ** 2 * v_tp + (2 * tp / d**2) ** 2 * v_fn))
    auc = metrics["roc_auc"]
    if np.isfinite(auc):
        sd["roc_auc"] = hanley_mcneil_se(auc, sum_p, n - sum_p)
    return metrics, normal_bands(metrics, sd)


def cbpe_binary(
    score: np.ndarray, p: np.ndarray, predicted_pos: np.ndarray, roc_auc: float | None = None
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Expected accuracy, F1, ROC AUC and log loss of a binary model, and their 95 % bands, from its
    positive-class ``score``, the calibrated probabilities ``p`` and the predicted labels
    (``predicted_pos``: True = positive); ``roc_auc`` when the caller computed it already (else the
    exact expected AUC, from a sort).

    The bands are those of the realised metrics when each label is an independent draw from its
    calibrated probability, in normal approximations: per-row variances for accuracy and log loss, the
    delta method for F1, Hanley & McNeil's standard error for ROC AUC with the expected class counts.
    Everything is a handful of vectorised passes (sums and dot products, no boolean gathers)."""
    sums = BinarySums.of(score, p, predicted_pos)
    return cbpe_binary_sums(sums, expected_auc(score, p) if roc_auc is None else roc_auc)
