"""Data-quality checks run before any drift test.

A window with an ``error`` problem is never tested for drift: comparing a broken window with the reference
would report "drift" that is really a broken pipeline, and would trigger a pointless retrain. The check
then yields a ``io.driftloop.data.quality`` event instead. ``warning`` problems are reported alongside
the drift result.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from monitors.profile import ColumnProfile, ReferenceProfile, dtype_family

if TYPE_CHECKING:
    import pandas as pd

    from driftloop.monitorspec import MonitorDefinition

__all__ = ["QualityProblem", "check_columns", "check_schema", "check_schema_of", "compatible"]

Severity = Literal["error", "warning"]

# Which dtype families of a window can feed a reference column of a given family.
_COMPATIBLE = {
    "float": {"float", "int"},
    "int": {"int", "float"},  # a missing value turns an int column into float
    "bool": {"bool", "int", "float"},
    "string": {"string"},
    "datetime": {"datetime"},
}


@dataclass(frozen=True)
class QualityProblem:
    """One problem of the current window. ``code`` is stable and machine-readable."""

    code: str
    message: str
    severity: Severity = "error"
    column: str | None = None
    value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def check_schema(
    current: pd.DataFrame, profile: ReferenceProfile, names: list[str], definition: MonitorDefinition
) -> list[QualityProblem]:
    """Window-level checks: size, missing and extra columns, dtype families."""
    families = {str(c): dtype_family(current[c]) if c in names else "other" for c in current.columns}
    empty = {str(c) for c in current.columns if c in names and current[c].isna().all()}
    return check_schema_of(len(current), families, empty, profile, names, definition)


def check_schema_of(
    rows: int,
    families: dict[str, str],
    all_missing: set[str],
    profile: ReferenceProfile,
    names: list[str],
    definition: MonitorDefinition,
) -> list[QualityProblem]:
    """:func:`check_schema` from what a window is made of: its rows, each column's dtype family (those of
    unmonitored columns do not matter), the columns without any value (a sharded check knows these, not
    the rows)."""
    problems: list[QualityProblem] = []
    if rows == 0:
        return [QualityProblem("empty_window", "the current window has no rows", value=0)]
    if rows < definition.min_rows:
        problems.append(
            QualityProblem(
                "too_few_rows",
                f"the current window has {rows} rows, fewer than min_rows={definition.min_rows}",
                value=rows,
            )
        )
    present = set(families)
    # Target and prediction are checked when the window has them (an inference-log window never has
    # the target: labels arrive later); a missing feature is an error.
    optional = {definition.target, definition.prediction}
    missing = [n for n in names if n not in present and n not in optional]
    if missing:
        problems.append(QualityProblem("missing_columns", f"columns missing from the window: {missing}"))
    # With an explicit feature list the window may carry other columns (they are simply not monitored);
    # with inferred features the reference's columns *are* the schema, so anything else is a mismatch.
    allowed = set(profile.columns) | set(definition.ignore_columns)
    extra = sorted(present - allowed) if definition.features is None else []
    if extra:
        problems.append(
            QualityProblem(
                "extra_columns",
                f"columns the reference does not have: {extra} (list them in ignore_columns)",
            )
        )
    for name in names:
        if name not in present:
            continue
        ref = profile.columns[name]
        family = families[name]
        if family not in _COMPATIBLE.get(ref.family, {ref.family}) and name not in all_missing:
            problems.append(
                QualityProblem(
                    "dtype_mismatch",
                    f"column {name!r} is {family} in the window but {ref.family} in the reference",
                    column=name,
                )
            )
    return problems


def compatible(reference_family: str, family: str) -> bool:
    """Whether a window column of dtype ``family`` can feed a reference column of ``reference_family``."""
    return family in _COMPATIBLE.get(reference_family, {reference_family})


def check_columns(
    name: str,
    ref: ColumnProfile,
    missing: int,
    rows: int,
    cur_counts: dict[Any, int] | None,
    definition: MonitorDefinition,
) -> list[QualityProblem]:
    """Column-level checks on numbers the drift task computes anyway (no second pass over the data)."""
    problems: list[QualityProblem] = []
    if rows and missing == rows:
        return [
            QualityProblem(
                "all_missing", f"column {name!r} has no values in the window", column=name, value=1.0
            )
        ]
    share = missing / rows if rows else 0.0
    if share > definition.max_missing_share:
        problems.append(
            QualityProblem(
                "missing_values",
                f"column {name!r} misses {share:.1%} of its values "
                f"(max_missing_share={definition.max_missing_share})",
                column=name,
                value=round(share, 6),
            )
        )
    elif share > 0 and ref.missing == 0:
        problems.append(
            QualityProblem(
                "missing_values",
                f"column {name!r} misses {share:.1%} of its values; the reference had none",
                severity="warning",
                column=name,
                value=round(share, 6),
            )
        )
    if cur_counts is not None:
        if len(cur_counts) > definition.max_categories:
            problems.append(
                QualityProblem(
                    "too_many_categories",
                    f"categorical column {name!r} has {len(cur_counts)} distinct values "
                    f"(max_categories={definition.max_categories})",
                    column=name,
                    value=len(cur_counts),
                )
            )
            return problems
        unseen = sum(v for k, v in cur_counts.items() if k not in ref.counts)
        present = rows - missing
        if unseen:
            ushare = unseen / present
            severe = ushare > definition.max_unseen_share
            problems.append(
                QualityProblem(
                    "unseen_categories",
                    f"{ushare:.1%} of column {name!r} are categories the reference lacks",
                    severity="error" if severe else "warning",
                    column=name,
                    value=round(float(ushare), 6),
                )
            )
    return problems


def count_missing(values: np.ndarray) -> int:
    return int(values.size - np.count_nonzero(np.isfinite(values)))
