"""The registered model artifact: the user's fitted model plus what serving needs to use it the same way.

A :class:`ModelArtifact` is what ``train`` writes, ``evaluate`` scores and registers, and the model server
loads. It applies the model's optional ``preprocess`` function to the raw feature columns before
``predict`` / ``predict_proba``, so the server runs exactly what the gate evaluated. It quacks like a
scikit-learn estimator (``feature_names_in_``, ``classes_`` for classifiers), which is all the server
relies on; the user's estimator itself can be anything with ``predict`` (scikit-learn, XGBoost, LightGBM,
CatBoost, a custom class).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ModelArtifact"]


@dataclass
class ModelArtifact:
    """The user's ``estimator`` and how to feed it.

    Attributes:
        model: the model name.
        task: ``classification`` or ``regression``.
        target: the label column (never an input).
        features: the raw input columns, in order (what a request must carry).
        estimator: the user's fitted model.
        preprocess: ``module:function`` applied to the raw features first, or empty.
        classes: the class labels of a classifier, in ``predict_proba``'s column order.
    """

    model: str
    task: str
    target: str
    features: list[str]
    estimator: Any
    preprocess: str = ""
    classes: list[Any] | None = None
    _pre: Callable[..., Any] | None = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_pre"] = None  # resolved again by reference after loading
        return state

    # --- the scikit-learn face the server uses -------------------------------------------------------
    @property
    def feature_names_in_(self) -> list[str]:
        return list(self.features)

    @property
    def classes_(self) -> Any:
        import numpy as np

        return None if self.classes is None else np.asarray(self.classes, dtype=object)

    def transform(self, x: pd.DataFrame) -> pd.DataFrame:
        """The raw feature columns, preprocessed as at training time."""
        x = x[self.features]
        if not self.preprocess:
            return x
        if self._pre is None:
            from driftloop.usercode import load_callable

            self._pre = load_callable(self.model, "preprocess", self.preprocess)
        return self._pre(x)

    def predict(self, x: pd.DataFrame) -> Any:
        return self.estimator.predict(self.transform(x))

    def predict_proba(self, x: pd.DataFrame) -> Any:
        if self.task != "classification":
            raise AttributeError(f"{self.model} is a {self.task} model: it has no predict_proba")
        return self.estimator.predict_proba(self.transform(x))
