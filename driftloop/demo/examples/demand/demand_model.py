"""The built-in demand example: daily units sold per store, a regression (``models.demand``).

``make_demand`` generates the data in the repository (no downloads): units depend on price, promotion,
temperature, weekday and store size; ``drifted=True`` is a price war — prices fall, promotions double,
and customers react more strongly to price, so the old model under-predicts and its error grows.

``train`` follows driftloop's trainer contract with a custom estimator class the core has never seen
(:class:`DemandRegressor`), and ``preprocess`` derives features at training and at serving time alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

TARGET = "units"


def make_demand(n: int, seed: int = 0, drifted: bool = False) -> pd.DataFrame:
    """``n`` labelled store-days (features + ``units``)."""
    rng = np.random.default_rng(seed)
    price = rng.normal(7.0 if drifted else 10.0, 1.5, n).clip(1.0, None)
    promo = (rng.random(n) < (0.5 if drifted else 0.2)).astype(int)
    temperature = rng.normal(18.0, 7.0, n)
    weekday = rng.integers(0, 7, n)
    store_size = rng.choice(["small", "medium", "large"], n, p=[0.4, 0.4, 0.2])
    size = pd.Series(store_size).map({"small": 1.0, "medium": 1.8, "large": 3.0}).to_numpy()
    elasticity = 4.5 if drifted else 2.5
    units = (
        size * (60.0 - elasticity * price + 12.0 * promo + 0.6 * temperature + 6.0 * (weekday >= 5))
        + rng.normal(0.0, 4.0, n)
    ).clip(0.0, None)
    return pd.DataFrame(
        {
            "price": price.round(2),
            "promo": promo,
            "temperature": temperature.round(1),
            "weekday": weekday,
            "store_size": store_size,
            TARGET: units.round(1),
        }
    )


def preprocess(features: pd.DataFrame) -> pd.DataFrame:
    """Derived inputs: a weekend flag and the store size as a number (applied at serving time too)."""
    out = features.copy()
    out["weekend"] = (out["weekday"] >= 5).astype(int)
    out["size"] = out["store_size"].map({"small": 1.0, "medium": 1.8, "large": 3.0}).fillna(1.8)
    return out.drop(columns=["store_size", "weekday"])


class DemandRegressor:
    """Gradient boosting on the derived inputs; any object with ``predict`` qualifies as a model."""

    def __init__(self, max_iter: int = 200, seed: int = 0) -> None:
        self.max_iter = max_iter
        self.seed = seed
        self._model: Any = None

    def fit(self, x: pd.DataFrame, y: pd.Series) -> DemandRegressor:
        from sklearn.ensemble import HistGradientBoostingRegressor

        self._model = HistGradientBoostingRegressor(max_iter=self.max_iter, random_state=self.seed)
        self._model.fit(x, y)
        return self

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        return np.asarray(self._model.predict(x)).clip(0.0, None)


def train(data: pd.DataFrame, target: str, params: dict[str, Any]) -> DemandRegressor:
    """Fit :class:`DemandRegressor` on ``data`` (already preprocessed: derived features + ``target``)."""
    model = DemandRegressor(max_iter=int(params.get("max_iter", 200)), seed=int(params.get("seed", 0)))
    return model.fit(data.drop(columns=[target]), data[target])
