"""Per-segment drift: the drift check run within each value of the segment columns (``region``, ...).

A shift confined to one segment (a new partner in one region) is diluted in the whole window — its
columns move a little, below the thresholds — but within the segment it is plain drift. Each segment
value with at least ``min_segment_rows`` window rows is checked against the *same* segment of the
reference: the rows of the profile's joint sample that hold the value (the sorted per-column arrays of
the profile are not joint, so they cannot be split by segment). Column kinds are the profile's, so a
segment never infers another kind than the whole.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from driftloop.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

    from driftloop.monitorspec import MonitorDefinition
    from monitors.profile import ReferenceProfile

__all__ = ["SegmentCheck", "SegmentResult", "check_segments", "segment_definition", "segment_profile"]

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


class SegmentVerdict(Protocol):
    """What a segment's check answers (a :class:`monitors.check.CheckResult` does)."""

    dataset_drift: bool
    drift_share: float

    @property
    def drifted_columns(self) -> list[str]: ...


#: Runs the drift check of one segment: its reference profile and definition, the segment column and
#: value (the caller knows where the segment's window rows are).
SegmentCheck = Callable[["ReferenceProfile", "MonitorDefinition", str, Any], SegmentVerdict]


def segment_definition(
    profile: ReferenceProfile, definition: MonitorDefinition, column: str
) -> MonitorDefinition:
    """The definition a segment of ``column`` is checked with: the profile's features but ``column``,
    no target, prediction, segments or multivariate test, ``min_segment_rows`` as its minimum."""
    from driftloop.monitorspec import ColumnSpec

    features = tuple(
        ColumnSpec(name=n, kind=c.kind)
        for n, c in profile.columns.items()
        if c.role == "feature" and n != column
    )
    return definition.model_copy(
        update={
            "features": features,
            "target": None,
            "prediction": None,
            "min_rows": definition.min_segment_rows,
            "segments": (),
            "multivariate_threshold": None,
        }
    )


def segment_profile(
    profile: ReferenceProfile, sample: pd.DataFrame, definition: MonitorDefinition, column: str, value: Any
) -> ReferenceProfile | str:
    """The reference profile of segment ``column == value`` from the profile's joint ``sample``, or the
    note saying why it cannot be checked (too few reference rows, odd data)."""
    from monitors.profile import build_profile

    ref_rows = sample[sample[column] == value]
    if len(ref_rows) < _MIN_REFERENCE_ROWS:
        return f"segment {column}={value!r}: {len(ref_rows)} reference rows, too few to compare"
    try:
        return build_profile(ref_rows, definition, model_version=profile.model_version)
    except DataError as exc:  # one segment's odd data must not stop the others
        return f"segment {column}={value!r}: not checked ({exc.message})"


def check_segments(
    profile: ReferenceProfile,
    definition: MonitorDefinition,
    counts: Mapping[str, Mapping[Any, int] | None],
    check: SegmentCheck,
) -> tuple[list[SegmentResult], list[str]]:
    """Drift per segment value, and one-line notes about what could not be checked (a segment column
    missing from either side, a value the reference sample hardly has).

    ``counts``: per segment column, the window's rows per value (None: the window lacks the column);
    ``check`` runs the drift check of one segment's window rows — the caller's, whether it holds the rows
    in memory or merged summaries of them."""
    results: list[SegmentResult] = []
    notes: list[str] = []
    sample = profile.sample
    if not definition.segments:
        return results, notes
    if sample is None:
        return results, ["segments not checked: the reference profile carries no joint sample"]
    for column in definition.segments:
        values = counts.get(column)
        if values is None or column not in sample.columns:
            side = "window" if values is None else "reference sample"
            notes.append(f"segment column {column!r} is missing from the {side}: not checked")
            continue
        sub_def = segment_definition(profile, definition, column)
        for value, rows in sorted(values.items(), key=lambda kv: (-kv[1], str(kv[0]))):
            if rows < definition.min_segment_rows:
                continue
            sub_profile = segment_profile(profile, sample, sub_def, column, value)
            if isinstance(sub_profile, str):
                notes.append(sub_profile)
                continue
            res = check(sub_profile, sub_def, column, value)
            results.append(
                SegmentResult(
                    column,
                    value.item() if hasattr(value, "item") else value,
                    int(rows),
                    sub_profile.rows,
                    res.dataset_drift,
                    round(res.drift_share, 6),
                    res.drifted_columns,
                )
            )
    return results, notes
