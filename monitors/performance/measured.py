"""Measured performance: labels joined to a window's predictions, and the task's metrics on them.

Labels (``{request_id, label}``, the feedback topic's records) are joined to the window's predictions by
request id, so a label that arrives late still counts for the window of its prediction. Bad labels never
reach a metric: a missing / NaN label is dropped, a label for a request id the window does not hold is
ignored, and of two labels for one id the last one counts. Each is counted in ``label_stats``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from driftloop.errors import DataError
from driftloop.modelspec import LOWER_IS_BETTER
from monitors.performance._stats import (
    EPS,
    finite_label,
    hanley_mcneil_se,
    label_text,
    positive_scores,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "LABEL",
    "RELATIVE_METRICS",
    "REQUEST_ID",
    "LabelStats",
    "drop",
    "join_labels",
    "measure",
    "measure_multiclass",
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


def join_labels(window: pd.DataFrame, labels: pd.DataFrame) -> tuple[pd.DataFrame, LabelStats]:
    """``window``'s rows that have a label, with a ``label`` column; ``labels`` holds ``request_id`` and
    ``label`` (in arrival order: a later label for the same id replaces an earlier one)."""
    import pandas as pd

    if REQUEST_ID not in window.columns:
        raise DataError("the window has no request_id column to join labels on", "log request ids")
    for col in (REQUEST_ID, LABEL):
        if col not in labels.columns:
            raise DataError(f"the labels have no {col!r} column", "send {request_id, label} records")
    ok = labels[LABEL].map(finite_label).astype(bool)
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
    t = np.asarray([label_text(v) for v in y_true])
    p = np.asarray([label_text(v) for v in y_pred])
    n = max(t.size, 1)
    acc = float(np.mean(t == p))
    out = {"accuracy": acc}
    se = {"accuracy": float(np.sqrt(acc * (1 - acc) / n))}
    names = [label_text(c) for c in classes] if classes else sorted(set(t) | set(p))
    if len(names) == 2:
        pos = names[-1]
        f1 = float(skm.f1_score(t == pos, p == pos, zero_division=0.0))
        out["f1"] = f1
        involved = max(int(np.sum((t == pos) | (p == pos))), 1)  # the rows F1 is a proportion over
        se["f1"] = float(np.sqrt(f1 * (1 - f1) / involved))
        if probability is not None and np.isfinite(probability).all():
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
            more, more_se = measure_multiclass(t, names, probabilities)
            out.update(more)
            se.update(more_se)
    return out, se


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
    losses = -np.log(np.clip(p_true, EPS, 1.0))
    out["log_loss"] = float(losses.mean()) if t.size else float("nan")
    se["log_loss"] = float(losses.std()) / np.sqrt(n)
    return out, se


#: Error metrics without a fixed scale: their ``performance_drop`` is relative to the holdout value
#: (0.05 = 5 % worse); the others (roc_auc, accuracy, f1, r2) drop in absolute terms.
RELATIVE_METRICS = frozenset({"mae", "rmse", "log_loss"})


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
