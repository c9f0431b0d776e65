"""The check of a window from its merged :class:`~monitors.shard.WindowSummary`: the same result, event and
verdicts as :func:`monitors.signals.run_monitor` on the rows, computed from what the shards kept.

Per column: a window small enough to have kept its values is tested exactly as in one process; otherwise
the test runs on the bins (:mod:`monitors.binned`) — chi-square, Z and Jensen–Shannon on counts are
exact, Wasserstein and Kolmogorov–Smirnov are bracketed with a guaranteed bound, and a column whose
bracket straddles its threshold is named in the notes. Stattests with no form on bins (Evidently's
others, a Jensen–Shannon on Sturges bins of a many-valued numerical column) need the values: a sharded
check of a large window refuses them with a one-line error.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from driftloop.errors import UsageError
from monitors.binned import chisquare_counts, ks_bracket, ks_pvalue, wasserstein_bracket, z_counts
from monitors.check import ColumnOutcome, WindowInfo, assemble, blocked, monitored_names, numerical_test
from monitors.quality import check_columns, check_schema_of
from monitors.stattests import (
    StatResult,
    choose_stattest,
    default_threshold,
    jensenshannon_counts,
    verdict,
)
from monitors.summary import CategoricalSummary, NumericSummary, reference_edges

if TYPE_CHECKING:
    from driftloop.monitorspec import MonitorDefinition
    from monitors.check import CheckResult
    from monitors.profile import ColumnProfile, ReferenceProfile
    from monitors.shard import WindowSummary

__all__ = ["SHARDABLE_TESTS", "check_summary"]

#: The stattests a large sharded window can run (on the bins or on counts).
SHARDABLE_TESTS = ("wasserstein", "ks", "chisquare", "z", "jensenshannon")


def check_summary(
    profile: ReferenceProfile,
    summary: WindowSummary,
    definition: MonitorDefinition | None = None,
    *,
    window: WindowInfo | None = None,
    notes: list[str] | None = None,
) -> CheckResult:
    """:func:`monitors.check.run_check` on the window ``summary`` describes; ``notes`` collects one line
    per column whose bracketed score straddles its threshold (its verdict is the bracket's middle's)."""
    started = time.perf_counter()
    definition = definition or profile.definition
    names = monitored_names(profile, definition)
    problems = check_schema_of(
        summary.rows, summary.families, summary.all_missing, profile, names, definition
    )
    outcomes: list[ColumnOutcome] = []
    for name in names:
        col = summary.columns.get(name)
        if col is None or blocked(problems, name) or not summary.rows:
            continue
        ref = profile.columns[name]
        if isinstance(col, NumericSummary):
            result, found = _numerical(name, col, ref, definition, notes)
        else:
            result, found = _categorical(name, col, ref, definition)
        outcomes.append(ColumnOutcome(name, col.digest.to_bytes(), result, found))
    return assemble(profile, definition, problems, outcomes, summary.rows, window or WindowInfo(), started)


def _test(
    name: str, kind: str, ref: ColumnProfile, definition: MonitorDefinition, n_values: int
) -> tuple[str, float, bool]:
    spec = definition.spec(name)
    test = spec.stattest or choose_stattest(kind, ref.rows, n_values)
    threshold = spec.threshold if spec.threshold is not None else default_threshold(test)
    return test, threshold, spec.stattest is None


def _numerical(
    name: str, col: NumericSummary, ref: ColumnProfile, definition: MonitorDefinition, notes: list[str] | None
) -> tuple[StatResult | None, list[Any]]:
    size = col.rows + col.missing
    if col.exact is not None:  # small: exactly the single-process test
        return numerical_test(name, np.sort(col.exact), col.missing, size, ref, definition)
    problems = check_columns(name, ref, col.missing, size, None, definition)
    if any(p.severity == "error" for p in problems):
        return None, problems
    assert ref.values is not None and ref.std is not None
    n_values = ref.nunique
    if n_values <= 5:
        n_values = (
            len(set(ref.unique_values().tolist()) | set(col.distinct or {}))
            if col.distinct is not None
            else 6
        )
    test, threshold, _ = _test(name, "numerical", ref, definition, n_values)
    edges = reference_edges(ref)
    if test in ("wasserstein", "ks"):
        if test == "wasserstein":
            bracket = wasserstein_bracket(ref.values, edges, col.counts, col.sums, col.at_edge)
            norm = max(float(ref.std), 0.001)
            score, low, high = bracket.mid / norm, bracket.low / norm, bracket.high / norm
            drifted_low, drifted_high = low >= threshold, high >= threshold
        else:
            bracket = ks_bracket(ref.values, edges, col.counts, col.at_edge)
            score = ks_pvalue(bracket.mid, ref.rows, col.rows)
            drifted_low, drifted_high = (
                ks_pvalue(bracket.low, ref.rows, col.rows) <= threshold,
                (ks_pvalue(bracket.high, ref.rows, col.rows) <= threshold),
            )
            low, high = (
                ks_pvalue(bracket.high, ref.rows, col.rows),
                ks_pvalue(bracket.low, ref.rows, col.rows),
            )
        result = verdict(test, score, threshold)
        if drifted_low != drifted_high and notes is not None:
            notes.append(f"column {name!r}: {test} score in [{low:.6g}, {high:.6g}] straddles its threshold")
        return result, problems
    if col.distinct is None or test not in SHARDABLE_TESTS or (test == "jensenshannon" and ref.nunique > 20):
        raise UsageError(
            f"column {name!r}: stattest {test!r} needs the window's values, which a sharded check of "
            f"{size} rows does not keep",
            f"use one of {', '.join(SHARDABLE_TESTS[:2])} for it, or check without --shards",
        )
    ref_keys, ref_n = np.unique(ref.values, return_counts=True)
    return _on_counts(
        test,
        threshold,
        dict(zip(ref_keys.tolist(), ref_n.tolist(), strict=True)),
        ref.rows,
        col.distinct,
        col.rows,
    ), problems


def _on_counts(
    test: str, threshold: float, ref: dict[Any, int], ref_rows: int, cur: dict[Any, int], cur_rows: int
) -> StatResult:
    if test == "jensenshannon":
        return jensenshannon_counts(ref, ref_rows, cur, cur_rows, threshold)
    if test == "chisquare":
        return verdict(test, chisquare_counts(ref, ref_rows, cur, cur_rows), threshold)
    if test == "z":
        return verdict(test, z_counts(ref, ref_rows, cur, cur_rows), threshold)
    raise UsageError(f"stattest {test!r} has no form on counts", f"use one of {', '.join(SHARDABLE_TESTS)}")


def _categorical(
    name: str, col: CategoricalSummary, ref: ColumnProfile, definition: MonitorDefinition
) -> tuple[StatResult | None, list[Any]]:
    size = col.rows + col.missing
    counts: dict[Any, int] = (
        col.counts
        if col.counts is not None
        else dict.fromkeys(range(max(col.distinct_seen, definition.max_categories + 1)), 1)
    )
    problems = check_columns(name, ref, col.missing, size, counts, definition)
    if any(p.severity == "error" for p in problems):
        return None, problems
    test, threshold, _ = _test(name, "categorical", ref, definition, len(set(ref.counts) | set(counts)))
    if test not in ("jensenshannon", "chisquare", "z"):
        raise UsageError(
            f"column {name!r}: stattest {test!r} needs the window's values, "
            "which a sharded check does not keep",
            "use jensenshannon, chisquare or z for it, or check without --shards",
        )
    return _on_counts(test, threshold, ref.counts, ref.rows, counts, col.rows), problems
