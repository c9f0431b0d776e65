"""Multivariate drift: can a classifier tell reference rows from current rows?

Per-column tests see each marginal alone, so a change in how columns move *together* (a correlation that
flips sign, a rule linking two columns that stops holding) passes every one of them. A domain classifier
sees rows: gradient-boosted trees are trained to label a row "current" vs "reference", and their
cross-validated ROC AUC is the score — about 0.5 when the two samples come from one distribution, towards
1 as they part. Drift when the score reaches the threshold (0.6 by default: a margin over the sampling
noise of a few thousand rows).

Both sides are bounded (the reference is the profile's joint sample; the window is sampled down to the
same size), so the test costs the same on any window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["METHOD", "MultivariateResult", "domain_classifier"]

METHOD = "domain_classifier_roc_auc"
_FOLDS = 3
_MIN_ROWS = 50
_MAX_CATEGORIES = 250


@dataclass(frozen=True)
class MultivariateResult:
    method: str
    score: float
    threshold: float
    drifted: bool
    rows: dict[str, int]
    columns: list[str]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _encode(ref: pd.DataFrame, cur: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, list[bool]]:
    """Both sides stacked into one float matrix; categories coded over their union."""
    import pandas as pd

    both = pd.concat([ref[columns], cur[columns]], ignore_index=True)
    out = np.empty((len(both), len(columns)), dtype=np.float64)
    mask = []
    for j, c in enumerate(columns):
        col = both[c]
        numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        if numeric:
            out[:, j] = col.to_numpy(dtype=np.float64, na_value=np.nan)
            mask.append(False)
            continue
        cat = pd.Categorical(col.astype(str).where(col.notna()))
        out[:, j] = np.where(cat.codes < 0, np.nan, cat.codes)
        # the trees take at most 255 categories; beyond that the codes are split as numbers
        mask.append(len(cat.categories) <= _MAX_CATEGORIES)
    out[~np.isfinite(out)] = np.nan
    return out, mask


def domain_classifier(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: list[str],
    threshold: float,
    *,
    max_rows: int = 5000,
    seed: int = 0,
) -> MultivariateResult | None:
    """The domain-classifier test on ``columns`` (None when either side has fewer than 50 rows or no
    column is shared)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    columns = [c for c in columns if c in reference.columns and c in current.columns]
    if not columns:
        return None
    n = min(len(reference), len(current), max_rows)
    if n < _MIN_ROWS:
        return None
    ref = reference.sample(n=n, random_state=seed) if len(reference) > n else reference
    cur = current.sample(n=n, random_state=seed) if len(current) > n else current
    x, mask = _encode(ref, cur, columns)
    y = np.r_[np.zeros(len(ref)), np.ones(len(cur))]
    scores = np.empty(len(y))
    folds = StratifiedKFold(n_splits=_FOLDS, shuffle=True, random_state=seed)
    for train, test in folds.split(x, y):
        clf = HistGradientBoostingClassifier(
            max_iter=60, learning_rate=0.1, max_leaf_nodes=15, categorical_features=mask, random_state=seed
        )
        clf.fit(x[train], y[train])
        scores[test] = clf.predict_proba(x[test])[:, 1]
    auc = float(roc_auc_score(y, scores))
    return MultivariateResult(
        METHOD,
        round(auc, 6),
        threshold,
        auc >= threshold,
        {"reference": len(ref), "current": len(cur)},
        columns,
    )
