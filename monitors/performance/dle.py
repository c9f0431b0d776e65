"""DLE (direct loss estimation) for a regressor: two gradient-boosted regressors learn, on the holdout,
the absolute and the squared error of the model from its inputs and its prediction; their mean on a
window estimates the MAE and the RMSE.

The band is that of the *realised* metric given the estimate: each error an independent draw from its
estimated mean and variance, in a normal approximation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from driftloop.errors import DataError
from monitors.performance._stats import Estimate, Moments, Z

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DleSums", "Encoder", "dle_estimate", "dle_sums", "fit_error_models"]


@dataclass
class Encoder:
    """Raw feature columns → a float matrix for the error models: numbers as they are, categories as
    codes of the holdout's categories (unseen → NaN, which the boosted trees route on their own)."""

    columns: list[str]
    categories: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def fit(cls, frame: pd.DataFrame) -> Encoder:
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


def fit_error_models(x: pd.DataFrame, prediction: np.ndarray, error: np.ndarray) -> tuple[Encoder, Any, Any]:
    """The encoder and the boosted models of ``|error|`` and ``error²`` on the holdout."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    encoder = Encoder.fit(x)
    feats = np.column_stack([encoder.matrix(x), prediction])
    mask = [*encoder.categorical_mask(), False]

    def booster(target_values: np.ndarray) -> Any:
        return HistGradientBoostingRegressor(
            max_iter=150, learning_rate=0.08, categorical_features=mask, random_state=0
        ).fit(feats, target_values)

    err = np.abs(error)
    return encoder, booster(err), booster(err**2)


@dataclass
class DleSums:
    """What DLE reads from a window, mergeable: the estimated absolute errors' total, the squared errors'
    moments, and the summed per-row variances of the absolute error."""

    abs_total: float = 0.0
    sq: Moments = field(default_factory=Moments)
    var_total: float = 0.0

    def merge(self, other: DleSums) -> DleSums:
        return DleSums(
            self.abs_total + other.abs_total, self.sq.merge(other.sq), self.var_total + other.var_total
        )


def dle_sums(encoder: Encoder, abs_model: Any, sq_model: Any, rows: pd.DataFrame, prediction: str) -> DleSums:
    """The error models run on ``rows`` (which have a prediction), reduced to :class:`DleSums`."""
    x = np.column_stack([encoder.matrix(rows), rows[prediction].to_numpy(dtype=np.float64, na_value=np.nan)])
    m = np.clip(abs_model.predict(x), 0.0, None)
    sq = np.clip(sq_model.predict(x), 0.0, None)
    return DleSums(float(m.sum()), Moments.of(sq), float(np.clip(sq - m**2, 0.0, None).sum()))


def dle_estimate(sums: DleSums) -> Estimate:
    """MAE and RMSE and their 95 % bands from a window's :class:`DleSums`."""
    n = int(sums.sq.n)
    mae, mse = sums.abs_total / n, sums.sq.mean
    half = Z * float(np.sqrt(sums.var_total)) / n
    rmse = float(np.sqrt(mse))
    # the RMSE band: the MSE's standard error, through the square root (delta method)
    half_rmse = Z * sums.sq.std / np.sqrt(n) / (2 * rmse) if rmse > 0 else 0.0
    return Estimate(
        {"mae": mae, "rmse": rmse},
        {"mae": [mae - half, mae + half], "rmse": [max(rmse - half_rmse, 0.0), rmse + half_rmse]},
        n,
    )
