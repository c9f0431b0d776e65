"""train: fit a scikit-learn Pipeline (its preprocessing included) on the train snapshot.

The pipeline carries its own preprocessing — numeric columns imputed and scaled, categorical columns
imputed and one-hot encoded (unknown categories ignored at predict time) — so the registered file is
all that serving needs. Seeds are fixed: the same snapshot and parameters give the same model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftloop.errors import DataError
from workflows.steps.context import read_table, step_settings

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

__all__ = ["ALGORITHMS", "build_pipeline", "feature_columns", "fit", "parse_hyperparameters", "train"]

ALGORITHMS = ("hgb", "logreg")


def feature_columns(df: pd.DataFrame, target: str) -> tuple[list[str], list[str]]:
    """(numeric, categorical) feature names; datetimes are not features."""
    import pandas as pd

    numeric, categorical = [], []
    for name in df.columns:
        if name == target:
            continue
        dtype = df[name].dtype
        if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
            if not pd.api.types.is_datetime64_any_dtype(dtype):
                categorical.append(str(name))
        else:
            numeric.append(str(name))
    return numeric, categorical


def parse_hyperparameters(text: str | dict[str, Any] | None) -> dict[str, Any]:
    """``'{"max_iter": 50}'`` -> dict; anything else is a DataError naming the parameter."""
    if isinstance(text, dict):
        return dict(text)
    if not text or not str(text).strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise DataError(
            f"hyperparameters {text!r} is not JSON", 'pass a JSON object, e.g. {"max_iter": 50}'
        ) from None
    if not isinstance(value, dict):
        raise DataError(f"hyperparameters {text!r} is not a JSON object", 'pass e.g. {"max_iter": 50}')
    return value


def build_pipeline(
    numeric: list[str],
    categorical: list[str],
    algorithm: str = "hgb",
    hyperparameters: dict[str, Any] | None = None,
    seed: int = 0,
) -> Pipeline:
    """The unfitted pipeline: ColumnTransformer (scale + one-hot) -> classifier."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric_steps = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    categorical_steps = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
    )
    prep = ColumnTransformer(
        [("numeric", numeric_steps, numeric), ("categorical", categorical_steps, categorical)],
        remainder="drop",
    )
    if algorithm == "hgb":
        clf: Any = HistGradientBoostingClassifier(random_state=seed)
    elif algorithm == "logreg":
        clf = LogisticRegression(max_iter=1000, random_state=seed)
    else:
        raise DataError(f"unknown algorithm {algorithm!r}", f"use one of {', '.join(ALGORITHMS)}")
    params = hyperparameters or {}
    unknown = sorted(set(params) - set(clf.get_params()))
    if unknown:
        raise DataError(
            f"{type(clf).__name__} has no hyperparameter {unknown[0]!r}",
            f"valid names: {', '.join(sorted(clf.get_params()))}",
        )
    clf.set_params(**params)
    return Pipeline([("prep", prep), ("model", clf)])


def fit(
    train_df: pd.DataFrame,
    target: str,
    algorithm: str = "hgb",
    hyperparameters: dict[str, Any] | None = None,
    seed: int = 0,
) -> Pipeline:
    """Fit :func:`build_pipeline` on ``train_df``."""
    numeric, categorical = feature_columns(train_df, target)
    pipeline = build_pipeline(numeric, categorical, algorithm, hyperparameters, seed)
    pipeline.fit(train_df.drop(columns=[target]), train_df[target])
    return pipeline


def train(
    model: str,
    train_uri: str,
    model_path: Path,
    target: str = "default",
    algorithm: str = "hgb",
    hyperparameters: str = "",
    seed: int = 0,
) -> dict[str, Any]:
    """Fit on the train snapshot and write the pipeline (joblib) to ``model_path``."""
    import joblib

    settings = step_settings()
    df = read_table(settings, train_uri)
    pipeline = fit(df, target, algorithm, parse_hyperparameters(hyperparameters), seed)
    model_path = Path(model_path)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, model_path)
    return {"model": model, "algorithm": algorithm, "rows": len(df), "model_bytes": model_path.stat().st_size}
