"""A monitor run over a sharded window: each shard summarised on its own (a process here, a pod on
Argo), the summaries merged, and the same result as :func:`monitors.signals.run_monitor` computed from the
merge — drift, multivariate drift on the merged sample, segment drift on the merged segment summaries,
measured and estimated performance on the merged labelled rows and sums.
"""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from functools import reduce
from typing import TYPE_CHECKING, Any

from monitors.check import WindowInfo
from monitors.codec import decode, encode
from monitors.shard import Summarizer, WindowSummary
from monitors.shards import Shard, plan, read_shard

if TYPE_CHECKING:
    import pandas as pd

    from driftloop.config import Settings
    from driftloop.monitorspec import MonitorDefinition
    from monitors.check import CheckResult
    from monitors.profile import ReferenceProfile
    from monitors.signals import PerformanceContext

__all__ = ["finish", "merge", "run_sharded", "summarize_shard"]


def summarize_shard(
    profile: ReferenceProfile,
    definition: MonitorDefinition,
    shard: Shard,
    settings: Settings | None = None,
    *,
    performance: PerformanceContext | None = None,
    labels: pd.DataFrame | None = None,
) -> WindowSummary:
    """Read ``shard`` batch by batch into its :class:`WindowSummary`."""
    from monitors.check import monitored_names
    from monitors.signals import MULTIVARIATE_ROWS

    summarizer = Summarizer(
        profile,
        definition,
        names=monitored_names(profile, definition),
        performance=performance,
        labels=labels,
        sample_rows=MULTIVARIATE_ROWS,
    )
    for batch, start in read_shard(shard, settings):
        summarizer.add(batch, start)
    return summarizer.result()


def merge(summaries: list[WindowSummary]) -> WindowSummary:
    """The window's summary from its shards' (in any order)."""
    return reduce(lambda a, b: a.merge(b), summaries, WindowSummary())


def _summarize_encoded(args: tuple[Any, ...]) -> bytes:
    """A pool worker's task: the shard's summary as bytes (what a pod writes to the object store)."""
    from monitors.profile import ReferenceProfile

    raw_profile, definition, shard, settings, performance, labels = args
    profile = ReferenceProfile.from_bytes(raw_profile)
    return encode(
        summarize_shard(profile, definition, shard, settings, performance=performance, labels=labels)
    )


def run_sharded(
    profile: ReferenceProfile,
    files: list[str],
    shards: int,
    definition: MonitorDefinition | None = None,
    *,
    settings: Settings | None = None,
    performance: PerformanceContext | None = None,
    labels: pd.DataFrame | None = None,
    info: WindowInfo | None = None,
    workers: int | None = None,
) -> tuple[CheckResult, pd.DataFrame | None]:
    """Check the Parquet window ``files`` in ``shards`` shards, ``workers`` processes at a time; the
    result and the merged sample of the window's rows (what its report shows)."""
    import os

    started = time.perf_counter()
    definition = definition or profile.definition
    plans = plan(files, shards, settings)
    raw = profile.to_bytes()
    tasks = [(raw, definition, s, settings, performance, labels) for s in plans]
    n = max(1, min(workers or (os.cpu_count() or 1), len(tasks)))
    if n == 1:
        parts = [_summarize_encoded(t) for t in tasks]
    else:
        import multiprocessing

        with ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn")) as pool:
            parts = list(pool.map(_summarize_encoded, tasks))
    summary = merge([decode(p) for p in parts])
    result = finish(profile, summary, definition, info=info, performance=performance, labels=labels)
    result.duration_s = time.perf_counter() - started
    return result, None if summary.sample is None else summary.sample.drop(columns=["_key"])


def finish(
    profile: ReferenceProfile,
    summary: WindowSummary,
    definition: MonitorDefinition | None = None,
    *,
    info: WindowInfo | None = None,
    performance: PerformanceContext | None = None,
    labels: pd.DataFrame | None = None,
) -> CheckResult:
    """The monitor's result from the window's merged summary (see module doc)."""
    from monitors.merged import check_summary
    from monitors.multivariate import domain_classifier
    from monitors.profile import json_key
    from monitors.sample import KEY
    from monitors.segments import check_segments
    from monitors.signals import labels_digest

    definition = definition or profile.definition
    notes: list[str] = []
    result = check_summary(profile, summary, definition, window=info, notes=notes)
    result.triggers = tuple(definition.triggers)
    if result.status == "quality":
        result.notes.extend(notes)
        return result
    sample = profile.sample
    features = [n for n, c in profile.columns.items() if c.role == "feature"]
    if definition.multivariate_threshold is not None and sample is not None and summary.sample is not None:
        result.multivariate = domain_classifier(
            sample, summary.sample.drop(columns=[KEY]), features, definition.multivariate_threshold
        )
    if definition.segments:

        def check(
            sub_profile: ReferenceProfile, sub_def: MonitorDefinition, column: str, value: Any
        ) -> CheckResult:
            part = summary.segments.get((column, json_key(value)), WindowSummary())
            return check_summary(sub_profile, part, sub_def)

        counts = {c: summary.segment_rows.get(c) for c in definition.segments}
        result.segments, seg_notes = check_segments(profile, definition, counts, check)
        result.notes.extend(seg_notes)
    if performance is not None:
        result.performance = _performance(summary, definition, performance, labels)
        result.notes.extend(performance.notes)
        result.labels_digest = labels_digest(labels)
    result.notes.extend(notes)
    return result


def _performance(
    summary: WindowSummary,
    definition: MonitorDefinition,
    perf: PerformanceContext,
    labels: pd.DataFrame | None,
) -> Any:
    import numpy as np

    from monitors.performance.check import class_probabilities, judge, record_estimate, record_measured, start
    from monitors.performance.estimator import EstimateSums
    from monitors.performance.measured import LABEL, measure

    result = start(definition, perf.reference, perf.primary_metric)
    classes = perf.classes or (perf.estimator.classes if perf.estimator is not None else None)
    has_prediction = "prediction" in summary.log_fields
    if not has_prediction and labels is not None:
        result.notes.append("no measured performance: the window has no predictions")
    stats = summary.label_stats()
    if stats is not None:
        result.label_stats = stats
    rows = summary.labelled
    if has_prediction and stats is not None:
        n = 0 if rows is None else len(rows)

        def metrics() -> tuple[dict[str, float], dict[str, float]]:
            assert rows is not None
            prob = rows["probability"].to_numpy(dtype=np.float64) if "probability" in rows else None
            return measure(
                perf.task,
                rows[LABEL].to_numpy(),
                rows["prediction"].to_numpy(),
                prob,
                classes,
                class_probabilities(rows, classes),
            )

        record_measured(result, definition, n, metrics)
    estimator = perf.estimator
    record_estimate(
        result, estimator, lambda: estimator.finish(summary.estimate or EstimateSums()) if estimator else None
    )
    return judge(result, definition)
