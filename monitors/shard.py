"""One shard of a window reduced to a :class:`WindowSummary`, batch by batch, in bounded memory.

A :class:`Summarizer` is fed the shard's rows a batch at a time (each batch with its position in the
window) and keeps only: the per-column summaries (:mod:`monitors.summary`), the window's schema, the
rows per segment value and each checkable segment's own column summaries, a fixed-size sample for the
multivariate test (the rows with the smallest hashes of their window positions — the same rows whatever
the sharding, :mod:`monitors.sample`), the performance estimate's sums and the labelled predictions.
Its memory is one batch plus those summaries, whatever the shard's length.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from driftloop.errors import DataError
from monitors.codec import register
from monitors.performance.estimator import EstimateSums
from monitors.performance.measured import LabelStats
from monitors.profile import dtype_family, json_key
from monitors.sample import KEY, merge_sample, sample_keys
from monitors.summary import CategoricalSummary, NumericSummary, reference_edges

if TYPE_CHECKING:
    import pandas as pd

    from driftloop.monitorspec import MonitorDefinition
    from monitors.profile import ReferenceProfile
    from monitors.signals import PerformanceContext

__all__ = ["Summarizer", "WindowSummary"]

Column = NumericSummary | CategoricalSummary
#: The most values of one segment column counted (beyond: only the values that have a reference segment).
_SEGMENT_VALUES = 1000


def _merge_dicts(a: dict[Any, Any], b: dict[Any, Any]) -> dict[Any, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = out[k].merge(v) if k in out else v
    return out


def _merge_families(a: dict[str, str], b: dict[str, str]) -> dict[str, str]:
    out = dict(a)
    for k, v in b.items():
        mine = out.get(k)
        if mine is None or mine == v:
            out[k] = v
        elif {mine, v} == {"int", "float"}:  # a part with missing values reads an int column as float
            out[k] = "float"
        elif mine == "other":  # a part where the column held nothing
            out[k] = v
        elif v != "other":
            out[k] = "/".join(sorted({*mine.split("/"), v}))  # no family feeds both: a mismatch
    return out


@dataclass
class WindowSummary:
    """A window (or part of one) as a check sees it; ``merge`` is associative and commutative."""

    rows: int = 0
    families: dict[str, str] = field(default_factory=dict)
    all_missing: set[str] = field(default_factory=set)  # columns without a value so far
    log_fields: set[str] = field(default_factory=set)  # inference-log fields the window carries
    columns: dict[str, Column] = field(default_factory=dict)
    segment_rows: dict[str, dict[Any, int]] = field(default_factory=dict)  # column -> value -> rows
    segments: dict[tuple[str, Any], WindowSummary] = field(default_factory=dict)
    sample: pd.DataFrame | None = None  # with a ``_key`` column: the multivariate test's rows
    sample_rows: int = 0  # how many rows the sample keeps
    estimate: EstimateSums | None = None
    labelled: pd.DataFrame | None = None  # label, prediction, probability(ies) of the labelled rows
    label_joined: int = 0  # window rows that found a label (or, without labels, have their target)
    label_missing: int = 0  # without labels: rows whose target is missing
    #: with labels: [labels offered after dropping bad ones and repeats, repeats, bad ones] — a property
    #: of the labels, the same in every shard
    labels_table: list[int] | None = None

    def merge(self, other: WindowSummary) -> WindowSummary:
        import pandas as pd

        mine, theirs = set(self.families), set(other.families)
        empty = (
            (self.all_missing & other.all_missing) | (self.all_missing - theirs) | (other.all_missing - mine)
        )
        labelled = [f for f in (self.labelled, other.labelled) if f is not None]
        return WindowSummary(
            rows=self.rows + other.rows,
            families=_merge_families(self.families, other.families),
            all_missing=empty,
            log_fields=self.log_fields | other.log_fields,
            columns=_merge_dicts(self.columns, other.columns),
            segment_rows={
                c: _add(self.segment_rows.get(c, {}), other.segment_rows.get(c, {}))
                for c in {*self.segment_rows, *other.segment_rows}
            },
            segments=_merge_dicts(self.segments, other.segments),
            sample=merge_sample(self.sample, other.sample, max(self.sample_rows, other.sample_rows)),
            sample_rows=max(self.sample_rows, other.sample_rows),
            estimate=other.estimate
            if self.estimate is None
            else self.estimate.merge(other.estimate or EstimateSums()),
            labelled=pd.concat(labelled, ignore_index=True) if len(labelled) > 1 else (labelled or [None])[0],
            label_joined=self.label_joined + other.label_joined,
            label_missing=self.label_missing + other.label_missing,
            labels_table=self.labels_table or other.labels_table,
        )

    def label_stats(self) -> LabelStats | None:
        """What happened to the labels, as a single process reports it (None: nothing measured)."""
        if self.labels_table is not None:
            offered, duplicates, missing = self.labels_table
            return LabelStats(self.label_joined, max(offered - self.label_joined, 0), duplicates, missing)
        if self.label_joined or self.label_missing:
            return LabelStats(joined=self.label_joined, missing=self.label_missing)
        return None


def _add(a: dict[Any, int], b: dict[Any, int]) -> dict[Any, int]:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + v
    return out


class Summarizer:
    """Feeds batches of one shard into a :class:`WindowSummary` (see module doc)."""

    def __init__(
        self,
        profile: ReferenceProfile,
        definition: MonitorDefinition,
        *,
        names: list[str],
        performance: PerformanceContext | None = None,
        labels: pd.DataFrame | None = None,
        sample_rows: int = 5000,
        with_segments: bool = True,
    ) -> None:
        from monitors.segments import segment_definition, segment_profile

        self.profile, self.definition, self.names = profile, definition, names
        self.performance, self.labels, self.sample_rows = performance, labels, sample_rows
        self.edges = {
            n: reference_edges(c) for n, c in profile.columns.items() if n in names and c.kind == "numerical"
        }
        self.summary = WindowSummary(sample_rows=sample_rows)
        self.subs: dict[tuple[str, Any], Summarizer] = {}
        sample = profile.sample if with_segments and definition.segments else None
        for column in definition.segments:
            if sample is None or column not in sample.columns:
                continue
            sub_def = segment_definition(profile, definition, column)
            sub_names = [c.name for c in sub_def.features or ()]
            for value in sample[column].dropna().unique():
                sub = segment_profile(profile, sample, sub_def, column, value)
                if not isinstance(sub, str):
                    key = (column, json_key(value))
                    self.subs[key] = Summarizer(
                        sub, sub_def, names=sub_names, sample_rows=0, with_segments=False
                    )

    def add(self, batch: pd.DataFrame, start: int) -> None:
        """Count ``batch``, whose first row is row ``start`` of the window."""
        from monitors.signals import LOG_FIELDS

        s = self.summary
        s.rows += len(batch)
        families = {}
        for name in batch.columns:
            name = str(name)
            if name in LOG_FIELDS:
                s.log_fields.add(name)
                if name != self.definition.prediction:
                    continue  # not a column of the window's schema (as split_log_fields drops it)
            if name not in self.names:
                families[name] = "other"
                continue
            col = batch[name]
            has_value = bool(col.notna().any())
            families[name] = dtype_family(col) if has_value else "other"
            if not has_value and (name in s.all_missing or name not in s.families):
                s.all_missing.add(name)
            elif has_value:
                s.all_missing.discard(name)
            self._column(name, col, families[name])
        s.families = _merge_families(s.families, families)
        self._segments(batch)
        if self.sample_rows:
            keys = sample_keys(start, len(batch))
            features = [
                n for n, c in self.profile.columns.items() if c.role == "feature" and n in batch.columns
            ]
            s.sample = merge_sample(s.sample, batch[features].assign(**{KEY: keys}), self.sample_rows)
        if self.performance is not None:
            self._performance(batch)

    def _column(self, name: str, col: pd.Series, family: str) -> None:
        from monitors.quality import compatible

        ref = self.profile.columns[name]
        summary = self.summary.columns.get(name)
        if family != "other" and not compatible(ref.family, family):
            return  # the schema check reports the mismatch; nothing of the column is tested
        if ref.kind == "numerical":
            edges = self.edges[name]
            if summary is None:
                summary = NumericSummary.empty(edges, track_distinct=ref.nunique <= 20)
            assert isinstance(summary, NumericSummary)
            summary.add(col.to_numpy(dtype=np.float64, na_value=np.nan), edges)
        else:
            if summary is None:
                summary = CategoricalSummary.empty(self.definition.max_categories)
            assert isinstance(summary, CategoricalSummary)
            summary.add(col, ref.family)
        self.summary.columns[name] = summary

    def _segments(self, batch: pd.DataFrame) -> None:
        s = self.summary
        for column in self.definition.segments:
            if column not in batch.columns:
                continue
            counts = s.segment_rows.setdefault(column, {})
            for value, rows in batch[column].value_counts(dropna=True).items():
                key = json_key(value)
                if key in counts or len(counts) < _SEGMENT_VALUES or (column, key) in self.subs:
                    counts[key] = counts.get(key, 0) + int(rows)
        for (column, value), sub in self.subs.items():
            if column in batch.columns:
                rows = batch[batch[column] == value]
                if len(rows):
                    sub.add(rows, 0)

    def _performance(self, batch: pd.DataFrame) -> None:
        from monitors.performance.check import labelled_rows

        perf, s = self.performance, self.summary
        assert perf is not None
        prediction = "prediction"
        if perf.estimator is not None:
            try:
                part = perf.estimator.sums(batch, prediction)
            except DataError:
                part = EstimateSums()
            s.estimate = part if s.estimate is None else s.estimate.merge(part)
        joined, stats = labelled_rows(batch, self.definition, self.labels, prediction)
        if stats is not None:
            s.label_joined += stats.joined
            if self.labels is not None:  # a batch holds some of the ids: joined + unknown = all offered
                s.labels_table = [stats.joined + stats.unknown, stats.duplicates, stats.missing]
            else:
                s.label_missing += stats.missing
        if joined is not None and len(joined):
            keep = [c for c in ("label", prediction, "probability", "probabilities") if c in joined.columns]
            part = joined[keep].reset_index(drop=True)
            s.labelled = part if s.labelled is None else _concat(s.labelled, part)

    def result(self) -> WindowSummary:
        """The shard's summary (with its segments' summaries)."""
        self.summary.segments = {k: sub.result() for k, sub in self.subs.items() if sub.summary.rows}
        return self.summary


def _concat(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    return pd.concat([a, b], ignore_index=True)


register(WindowSummary)
