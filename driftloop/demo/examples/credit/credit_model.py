"""The built-in credit example's trainer: a scikit-learn Pipeline (its preprocessing included).

An ordinary user of driftloop's trainer contract — ``train(data, target, params) -> model`` — loaded from
this directory by ``models.credit.trainer: credit_model:train``. The pipeline imputes and scales numeric
columns, imputes and one-hot encodes categorical ones (unknown categories ignored at predict time), then
fits ``params["algorithm"]`` (``hgb``: HistGradientBoosting, ``logreg``: LogisticRegression) with
``params["hyperparameters"]``. Seeds are fixed: the same data and parameters give the same model.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

ALGORITHMS = ("hgb", "logreg")


def feature_columns(df: pd.DataFrame, target: str) -> tuple[list[str], list[str]]:
    """(numeric, categorical) feature names; datetimes are not features."""
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


def build_pipeline(
    numeric: list[str],
    categorical: list[str],
    algorithm: str = "hgb",
    hyperparameters: dict[str, Any] | None = None,
    seed: int = 0,
) -> Any:
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
        raise ValueError(f"unknown algorithm {algorithm!r}: use one of {', '.join(ALGORITHMS)}")
    params = hyperparameters or {}
    unknown = sorted(set(params) - set(clf.get_params()))
    if unknown:
        raise ValueError(f"{type(clf).__name__} has no hyperparameter {unknown[0]!r}")
    clf.set_params(**params)
    return Pipeline([("prep", prep), ("model", clf)])


def train(data: pd.DataFrame, target: str, params: dict[str, Any]) -> Any:
    """Fit the pipeline on ``data`` (features + ``target``)."""
    numeric, categorical = feature_columns(data, target)
    pipeline = build_pipeline(
        numeric,
        categorical,
        str(params.get("algorithm", "hgb")),
        dict(params.get("hyperparameters") or {}),
        int(params.get("seed", 0)),
    )
    pipeline.fit(data.drop(columns=[target]), data[target])
    return pipeline
