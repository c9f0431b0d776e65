"""validate-data and preprocess: check the training table, then snapshot a deterministic split.

The snapshots are written to the driftloop bucket at ``snapshots/<model>/<workflow name>/{train,holdout}
.parquet`` and passed on as URIs, not as Argo artifacts: the registry's lineage points at them for as long
as the model version exists, which outlives the run's artifacts (artifact GC, the repository's own
retention), and a later step or a person can read them without knowing Argo's artifact keys.

The snapshots hold the *raw* columns: the model's ``preprocess`` function is part of the registered
artifact (:class:`driftloop.artifact.ModelArtifact`) and runs inside it at training, evaluation and
serving alike. The preprocess step runs it once on the train split to fail early when it is broken.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from driftloop.errors import DataError
from workflows.steps.context import default_dataset_uri, read_table, write_table

if TYPE_CHECKING:
    import pandas as pd

    from driftloop.config import Settings

__all__ = ["check_frame", "preprocess", "run_preprocess", "split", "validate_data"]


def check_frame(df: pd.DataFrame, target: str, task: str, min_rows: int) -> dict[str, Any]:
    """A report of ``df`` as training data for ``task``; raises :class:`DataError` when it cannot be used."""
    import pandas as pd

    if target not in df.columns:
        raise DataError(
            f"the data set has no target column {target!r} (columns: {', '.join(map(str, df.columns))})",
            "set the model's `target` to the label column",
        )
    labelled = df[df[target].notna()]
    if len(labelled) < min_rows:
        raise DataError(
            f"the data set has {len(labelled)} labelled rows, fewer than min_rows={min_rows}",
            "collect more data or lower the model's min_rows",
        )
    report: dict[str, Any] = {}
    if task == "classification":
        classes = labelled[target].value_counts()
        if len(classes) < 2:
            raise DataError(
                f"the target {target!r} has a single class", "training needs at least two classes"
            )
        report["class_counts"] = {str(k): int(v) for k, v in classes.items()}
    else:
        if not pd.api.types.is_numeric_dtype(labelled[target]) or pd.api.types.is_bool_dtype(
            labelled[target]
        ):
            raise DataError(
                f"the target {target!r} of a regression is not numeric ({labelled[target].dtype})",
                "use a numeric label column, or task: classification",
            )
        y = labelled[target].astype(float)
        report["target"] = {
            "mean": float(y.mean()),
            "std": float(y.std()),
            "min": float(y.min()),
            "max": float(y.max()),
        }
    features = [c for c in df.columns if c != target]
    if not features:
        raise DataError("the data set has no feature columns", "add the model's input columns")
    empty = [c for c in features if df[c].isna().all()]
    if empty:
        raise DataError(f"feature columns entirely missing: {', '.join(map(str, empty))}", "fix the export")
    return {
        "rows": len(df),
        "labelled_rows": len(labelled),
        "columns": [str(c) for c in df.columns],
        "missing_share": {str(c): round(float(df[c].isna().mean()), 6) for c in features},
        **report,
    }


def split(
    df: pd.DataFrame, target: str, task: str, holdout_share: float = 0.2, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A seeded train / holdout split, stratified for classification (the same input, the same split)."""
    from sklearn.model_selection import train_test_split

    if not 0.0 < holdout_share < 1.0:
        raise DataError(f"holdout_share={holdout_share} is not within (0, 1)", "use e.g. 0.2")
    stratify = df[target] if task == "classification" else None
    train, holdout = train_test_split(
        df, test_size=holdout_share, random_state=seed, stratify=stratify, shuffle=True
    )
    return train.reset_index(drop=True), holdout.reset_index(drop=True)


def validate_data(
    settings: Settings,
    *,
    model: str,
    dataset_uri: str,
    target: str,
    task: str,
    min_rows: int,
    workflow_name: str = "",
) -> dict[str, Any]:
    """Check the run's training table; returns the resolved URI and a report (raises DataError)."""
    uri = dataset_uri or default_dataset_uri(settings, model)
    report = check_frame(read_table(settings, uri), target, task, min_rows)
    return {"dataset_uri": uri, **report}


def run_preprocess(model: str, preprocess: str, features: pd.DataFrame) -> pd.DataFrame:
    """The model's ``preprocess`` function on ``features``; a broken one is a one-line DataError."""
    import pandas as pd

    from driftloop.usercode import load_callable

    fn = load_callable(model, "preprocess", preprocess)
    try:
        out = fn(features.copy())
    except Exception as exc:  # the user's code: anything can happen
        raise DataError(
            f"preprocess {preprocess} raised {type(exc).__name__}: {exc}", "fix the preprocess function"
        ) from None
    if not isinstance(out, pd.DataFrame) or len(out) != len(features):
        raise DataError(
            f"preprocess {preprocess} must return a DataFrame with one row per input row "
            f"(got {type(out).__name__})",
            "return the transformed DataFrame",
        )
    return out


def preprocess(
    settings: Settings,
    *,
    model: str,
    dataset_uri: str,
    workflow_name: str,
    target: str,
    task: str,
    holdout_share: float,
    preprocess: str = "",
    seed: int = 0,
) -> dict[str, Any]:
    """Drop unlabelled and duplicate rows, split, snapshot both parts, and try the model's preprocess."""
    from driftloop.usercode import ensure_code_path

    ensure_code_path(settings.models.get(model))
    uri = dataset_uri or default_dataset_uri(settings, model)
    df = read_table(settings, uri)
    before = len(df)
    df = df[df[target].notna()].drop_duplicates().reset_index(drop=True)
    train, holdout = split(df, target, task, holdout_share, seed)
    columns: list[str] = [str(c) for c in train.columns if c != target]
    if preprocess:
        columns = [str(c) for c in run_preprocess(model, preprocess, train.drop(columns=[target])).columns]
    base = f"s3://{settings.s3.bucket}/snapshots/{model}/{workflow_name or 'local'}"
    return {
        "source_uri": uri,
        "train_uri": write_table(settings, f"{base}/train.parquet", train),
        "holdout_uri": write_table(settings, f"{base}/holdout.parquet", holdout),
        "dropped_rows": before - len(df),
        "train_rows": len(train),
        "holdout_rows": len(holdout),
        "model_inputs": columns,
    }
