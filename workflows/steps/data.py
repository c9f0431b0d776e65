"""validate-data and preprocess: check the training table, then snapshot a deterministic split.

The snapshots are written to the driftloop bucket at ``snapshots/<model>/<workflow name>/{train,holdout}
.parquet`` and passed on as URIs, not as Argo artifacts: the registry's lineage points at them for as long
as the model version exists, which outlives the run's artifacts (artifact GC, the repository's own
retention), and a later step or a person can read them without knowing Argo's artifact keys.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from driftloop.errors import DataError
from workflows.steps.context import default_dataset_uri, read_table, step_settings, write_table

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["check_frame", "preprocess", "split", "validate_data"]


def check_frame(df: pd.DataFrame, target: str, min_rows: int = 100) -> dict[str, Any]:
    """A report of ``df`` as training data; raises :class:`DataError` when it cannot be trained on."""
    if target not in df.columns:
        raise DataError(
            f"the data set has no target column {target!r} (columns: {', '.join(map(str, df.columns))})",
            "pass the label column as the `target` parameter",
        )
    labelled = df[df[target].notna()]
    if len(labelled) < min_rows:
        raise DataError(
            f"the data set has {len(labelled)} labelled rows, fewer than min_rows={min_rows}",
            "collect more data or lower min_rows",
        )
    classes = labelled[target].value_counts()
    if len(classes) < 2:
        raise DataError(f"the target {target!r} has a single class", "training needs at least two classes")
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
        "class_counts": {str(k): int(v) for k, v in classes.items()},
        "missing_share": {str(c): round(float(df[c].isna().mean()), 6) for c in features},
    }


def split(
    df: pd.DataFrame, target: str, holdout_share: float = 0.2, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A stratified, seeded train / holdout split (the same input always gives the same split)."""
    from sklearn.model_selection import train_test_split

    if not 0.0 < holdout_share < 1.0:
        raise DataError(f"holdout_share={holdout_share} is not within (0, 1)", "use e.g. 0.2")
    train, holdout = train_test_split(
        df, test_size=holdout_share, random_state=seed, stratify=df[target], shuffle=True
    )
    return train.reset_index(drop=True), holdout.reset_index(drop=True)


def validate_data(
    model: str, dataset_uri: str = "", target: str = "default", min_rows: int = 100
) -> dict[str, Any]:
    """Check the run's training table; returns the resolved URI and a report (raises DataError)."""
    settings = step_settings()
    uri = dataset_uri or default_dataset_uri(settings, model)
    report = check_frame(read_table(settings, uri), target, min_rows)
    return {"dataset_uri": uri, **report}


def preprocess(
    model: str,
    dataset_uri: str,
    workflow_name: str,
    target: str = "default",
    holdout_share: float = 0.2,
    seed: int = 0,
) -> dict[str, Any]:
    """Drop unlabelled and duplicate rows, split, and snapshot both parts; returns their URIs."""
    settings = step_settings()
    uri = dataset_uri or default_dataset_uri(settings, model)
    df = read_table(settings, uri)
    before = len(df)
    df = df[df[target].notna()].drop_duplicates().reset_index(drop=True)
    train, holdout = split(df, target, holdout_share, seed)
    base = f"s3://{settings.s3.bucket}/snapshots/{model}/{workflow_name or 'local'}"
    return {
        "source_uri": uri,
        "train_uri": write_table(settings, f"{base}/train.parquet", train),
        "holdout_uri": write_table(settings, f"{base}/holdout.parquet", holdout),
        "dropped_rows": before - len(df),
        "train_rows": len(train),
        "holdout_rows": len(holdout),
    }
