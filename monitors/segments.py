"""Per-segment drift: the drift check run within each value of the segment columns (``region``, ...).

A shift confined to one segment (a new partner in one region) is diluted in the whole window — its
columns move a little, below the thresholds — but within the segment it is plain drift. Each segment
value with at least ``min_segment_rows`` window rows is checked against the *same* segment of the
reference: the rows of the profile's joint sample that hold the value (the sorted per-column arrays of
the profile are not joint, so they cannot be split by segment). Column kinds are the profile's, so a
segment never infers another kind than the whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from driftloop.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

    from monitors.definition import MonitorDefinition
    from monitors.profile import ReferenceProfile

__all__ = ["SegmentResult", "check_segments"]

_MIN_REFERENCE_ROWS = 50


@dataclass(frozen=True)
class SegmentResult:
    column: str
    value: Any
    rows: int
    reference_rows: int
    dataset_drift: bool
    drift_share: float
    drifted_columns: list[str]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def check_segments(
    profile: ReferenceProfile, window: pd.DataFrame, definition: MonitorDefinition
) -> tuple[list[SegmentResult], list[str]]:
    """Drift per segment value, and one-line notes about what could not be checked (a segment column
    missing from either side, a value the reference sample hardly has)."""
    from monitors.check import run_check
    from monitors.definition import ColumnSpec
    from monitors.profile import build_profile

    results: list[SegmentResult] = []
    notes: list[str] = []
    sample = profile.sample
    if not definition.segments:
        return results, notes
    if sample is None:
        return results, ["segments not checked: the reference profile carries no joint sample"]
    for column in definition.segments:
        if column not in window.columns or column not in sample.columns:
            side = "window" if column not in window.columns else "reference sample"
            notes.append(f"segment column {column!r} is missing from the {side}: not checked")
            continue
        features = tuple(
            ColumnSpec(name=n, kind=c.kind)
            for n, c in profile.columns.items()
            if c.role == "feature" and n != column
        )
        sub_def = definition.model_copy(
            update={
                "features": features,
                "target": None,
                "prediction": None,
                "min_rows": definition.min_segment_rows,
                "segments": (),
                "multivariate_threshold": None,
            }
        )
        counts = window[column].value_counts(dropna=True)
        for value, rows in counts.items():
            if rows < definition.min_segment_rows:
                continue
            ref_rows = sample[sample[column] == value]
            if len(ref_rows) < _MIN_REFERENCE_ROWS:
                notes.append(
                    f"segment {column}={value!r}: {len(ref_rows)} reference rows, too few to compare"
                )
                continue
            cur_rows = window[window[column] == value]
            try:
                sub_profile = build_profile(ref_rows, sub_def, model_version=profile.model_version)
            except DataError as exc:  # one segment's odd data must not stop the others
                notes.append(f"segment {column}={value!r}: not checked ({exc.message})")
                continue
            res = run_check(sub_profile, cur_rows, sub_def, workers=1)
            results.append(
                SegmentResult(
                    column,
                    value.item() if hasattr(value, "item") else value,
                    int(rows),
                    len(ref_rows),
                    res.dataset_drift,
                    round(res.drift_share, 6),
                    res.drifted_columns,
                )
            )
    return results, notes
