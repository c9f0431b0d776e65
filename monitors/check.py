"""The drift check: data-quality checks, then per-column drift tests, then dataset drift.

Columns are independent, so they run on a thread pool: the heavy parts (sorting, ``searchsorted``,
hashing) are numpy / hashlib calls that release the GIL, which lets a 2-core machine use both cores.

Memory: the window's columns are read in place (no copy of float64 data); each worker owns one float64
buffer of the window's length, reused for every numerical column it tests (the sorted finite values),
so a check adds about ``workers × 8 bytes × rows`` plus small per-chunk temporaries.
"""

from __future__ import annotations

import hashlib
import os
import queue
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from driftloop.errors import DataError
from driftloop.monitorspec import SIGNALS, MonitorDefinition
from monitors.digest import counts_digest, numeric_digest
from monitors.profile import ColumnProfile, ReferenceProfile, json_key
from monitors.quality import QualityProblem, check_columns, check_schema
from monitors.stattests import (
    StatResult,
    choose_stattest,
    default_threshold,
    evidently_stattest,
    jensenshannon_counts,
    jensenshannon_numeric_sorted,
    wasserstein_norm_sorted,
)

if TYPE_CHECKING:
    import pandas as pd

    from driftloop.events import CloudEvent
    from monitors.multivariate import MultivariateResult
    from monitors.performance import PerformanceResult
    from monitors.segments import SegmentResult

__all__ = [
    "CheckResult",
    "ColumnOutcome",
    "ColumnResult",
    "WindowInfo",
    "assemble",
    "blocked",
    "monitored_names",
    "numerical_test",
    "run_check",
]

Status = Literal["ok", "drift", "quality"]
EVENT_SOURCE = "driftloop/monitor"
SCHEMA_URI = "https://driftloop.dev/schemas/drift_event.v1.json"
#: The signals whose event is ``io.driftloop.performance.degraded`` (the others: ``drift.detected``).
PERFORMANCE_SIGNALS = ("performance", "estimated-performance")


@dataclass(frozen=True)
class WindowInfo:
    """Where a window came from: enough to tell two windows apart and to show its bounds."""

    source: str = "memory"
    start: str | None = None  # ISO-8601 time of the first record, when known
    end: str | None = None
    offsets: dict[str, list[int]] | None = None  # Kafka: partition -> [first, last] offset

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class ColumnResult:
    test: str
    score: float
    threshold: float
    drifted: bool
    kind: str
    role: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class CheckResult:
    """The outcome of one check. ``status`` is ``quality`` when the window failed a data-quality check
    (then no drift was computed), ``drift`` when the dataset drifted, else ``ok``."""

    model: str
    model_version: str
    status: Status
    dataset_drift: bool
    drift_share: float
    drift_share_threshold: float
    number_of_columns: int
    number_of_drifted_columns: int
    columns: dict[str, ColumnResult]
    quality: list[QualityProblem]
    reference_rows: int
    current_rows: int
    window: WindowInfo
    content_hash: str
    config_hash: str
    profile_fingerprint: str
    duration_s: float
    target_drift: bool | None = None
    prediction_drift: bool | None = None
    report_uri: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Signals beyond univariate drift, filled by monitors.signals.run_monitor (None: not computed).
    performance: PerformanceResult | None = None
    multivariate: MultivariateResult | None = None
    segments: list[SegmentResult] | None = None
    notes: list[str] = field(default_factory=list)
    triggers: tuple[str, ...] = ("drift", "performance")
    labels_digest: str | None = None  # the labels a performance check used: part of the event id

    @property
    def drifted_columns(self) -> list[str]:
        return sorted(n for n, c in self.columns.items() if c.drifted and c.role == "feature")

    @property
    def signals(self) -> list[str]:
        """The signals that fired, in :data:`driftloop.monitorspec.SIGNALS` order (none for a window that
        failed its data-quality checks: nothing computed on it is trusted)."""
        if self.status == "quality":
            return []
        perf, mv = self.performance, self.multivariate
        fired = {
            "drift": self.dataset_drift,
            "performance": perf is not None and perf.degraded,
            "estimated-performance": perf is not None and perf.estimated_degraded,
            "multivariate": mv is not None and mv.drifted,
            "segment-drift": any(s.dataset_drift for s in self.segments or ()),
        }
        return [name for name in SIGNALS if fired[name]]

    @property
    def reason(self) -> str | None:
        """Why this check asks for a retrain: its first fired signal that the definition's ``triggers``
        name; None = no retrain."""
        return next((s for s in self.signals if s in self.triggers), None)

    @property
    def event_id(self) -> str:
        """Deterministic: the same model, reference, window and monitor configuration give the same id."""
        from driftloop.events import deterministic_id

        return deterministic_id(
            "driftloop.monitor.check",
            self.model,
            self.model_version,
            self.profile_fingerprint,
            self.config_hash,
            self.window.source,
            self.current_rows,
            self.content_hash,
            *((self.labels_digest,) if self.labels_digest else ()),
        )

    @property
    def event_type(self) -> str:
        from driftloop.events import DATA_QUALITY, DRIFT_CHECKED, DRIFT_DETECTED, PERFORMANCE_DEGRADED

        if self.status == "quality":
            return DATA_QUALITY
        headline = self.headline
        if headline is None:
            return DRIFT_CHECKED
        return PERFORMANCE_DEGRADED if headline in PERFORMANCE_SIGNALS else DRIFT_DETECTED

    @property
    def headline(self) -> str | None:
        """The signal the event is about: the retrain's reason, else the first signal that fired."""
        return self.reason or next(iter(self.signals), None)

    def to_dict(self) -> dict[str, Any]:
        """The event ``data`` (also what ``driftloop monitor run --json`` prints)."""
        return {
            "model": self.model,
            "model_version": self.model_version,
            "status": self.status,
            "dataset_drift": self.dataset_drift,
            "drift_share": self.drift_share,
            "drift_share_threshold": self.drift_share_threshold,
            "number_of_columns": self.number_of_columns,
            "number_of_drifted_columns": self.number_of_drifted_columns,
            "drifted_columns": self.drifted_columns,
            "target_drift": self.target_drift,
            "prediction_drift": self.prediction_drift,
            "columns": {n: c.to_dict() for n, c in self.columns.items()},
            "quality": [p.to_dict() for p in self.quality],
            "rows": {"reference": self.reference_rows, "current": self.current_rows},
            "window": {**self.window.to_dict(), "content_hash": self.content_hash},
            "report_uri": self.report_uri,
            "config_hash": self.config_hash,
            "profile_fingerprint": self.profile_fingerprint,
            "duration_s": round(self.duration_s, 6),
            "signals": self.signals,
            "retrain": self.reason is not None,
            "reason": self.reason,
            **self._extras(),
        }

    def _extras(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.performance is not None:
            perf = self.performance.to_dict()
            out["performance"] = perf
            out["estimated"] = self.headline == "estimated-performance"
        if self.multivariate is not None:
            out["multivariate"] = self.multivariate.to_dict()
        if self.segments is not None:
            out["segments"] = [s.to_dict() for s in self.segments]
        if self.notes:
            out["notes"] = list(self.notes)
        return out

    def to_event(self, source: str = EVENT_SOURCE, report_uri: str | None = None) -> CloudEvent:
        """The CloudEvents 1.0 envelope published to the drift topic (keyed by model)."""
        from driftloop.events import CloudEvent

        if report_uri is not None:
            self.report_uri = report_uri
        return CloudEvent(
            id=self.event_id,
            source=source,
            type=self.event_type,
            subject=self.model,
            dataschema=SCHEMA_URI,
            data=self.to_dict(),
        )


@dataclass
class ColumnOutcome:
    """One column's share of a check: its content digest, test result and quality problems."""

    name: str
    digest: bytes
    result: StatResult | None
    problems: list[QualityProblem]


def run_check(
    profile: ReferenceProfile,
    current: pd.DataFrame,
    definition: MonitorDefinition | None = None,
    *,
    window: WindowInfo | None = None,
    workers: int | None = None,
) -> CheckResult:
    """Check ``current`` against ``profile``. Never raises for a bad window: problems end up in
    ``result.quality`` with ``status="quality"``. Raises :class:`DataError` only when the definition and
    the profile disagree (the profile must then be rebuilt)."""
    started = time.perf_counter()
    definition = definition or profile.definition
    window = window or WindowInfo()
    names = monitored_names(profile, definition)
    problems = check_schema(current, profile, names, definition)
    present = [n for n in names if n in current.columns and not blocked(problems, n)]
    outcomes: list[ColumnOutcome] = []
    if len(current):
        n_workers = workers or min(len(present), os.cpu_count() or 1) or 1
        buffers = _Buffers(len(current), n_workers)
        tasks = [(n, current[n], profile.columns[n], definition, buffers) for n in present]
        if n_workers > 1:
            with ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="drift") as pool:
                outcomes = list(pool.map(lambda t: _column(*t), tasks))
        else:
            outcomes = [_column(*t) for t in tasks]
        del buffers, tasks
    return assemble(profile, definition, problems, outcomes, len(current), window, started)


def assemble(
    profile: ReferenceProfile,
    definition: MonitorDefinition,
    problems: list[QualityProblem],
    outcomes: list[ColumnOutcome],
    rows: int,
    window: WindowInfo,
    started: float,
) -> CheckResult:
    """The check's result from the window-level problems and each column's outcome (however computed:
    from the rows in memory or from merged summaries)."""
    problems = [*problems, *(p for out in outcomes for p in out.problems)]
    content = hashlib.sha256()
    for out in sorted(outcomes, key=lambda o: o.name):
        content.update(out.name.encode() + b"\x1f" + out.digest)
    blocking = any(p.severity == "error" for p in problems)
    columns = (
        {}
        if blocking
        else {
            o.name: _column_result(o.result, profile.columns[o.name])
            for o in outcomes
            if o.result is not None
        }
    )
    features = [c for c in columns.values() if c.role == "feature"]
    drifted = sum(c.drifted for c in features)
    share = drifted / len(features) if features else 0.0
    dataset_drift = bool(features) and share >= definition.drift_share
    status: Status = "quality" if blocking else ("drift" if dataset_drift else "ok")
    return CheckResult(
        model=profile.model,
        model_version=profile.model_version,
        status=status,
        dataset_drift=dataset_drift and not blocking,
        drift_share=share,
        drift_share_threshold=definition.drift_share,
        number_of_columns=len(features),
        number_of_drifted_columns=drifted,
        columns=columns,
        quality=problems,
        reference_rows=profile.rows,
        current_rows=rows,
        window=window,
        content_hash=content.hexdigest()[:32],
        config_hash=definition.config_hash(),
        profile_fingerprint=profile.fingerprint,
        duration_s=time.perf_counter() - started,
        target_drift=_role_drift(columns, "target"),
        prediction_drift=_role_drift(columns, "prediction"),
    )


def monitored_names(profile: ReferenceProfile, definition: MonitorDefinition) -> list[str]:
    if definition.features is not None:
        names = [c.name for c in definition.features]
        names += [c for c in (definition.target, definition.prediction) if c]
    else:
        names = list(profile.columns)
    unknown = [n for n in names if n not in profile.columns]
    if unknown:
        raise DataError(
            f"the reference profile of {profile.model!r} lacks columns {unknown}",
            "rebuild the profile with the current monitor definition",
        )
    return names


def blocked(problems: list[QualityProblem], name: str) -> bool:
    return any(p.column == name and p.severity == "error" for p in problems)


def _role_drift(columns: dict[str, ColumnResult], role: str) -> bool | None:
    hits = [c.drifted for c in columns.values() if c.role == role]
    return any(hits) if hits else None


def _column_result(res: StatResult, ref: ColumnProfile) -> ColumnResult:
    return ColumnResult(res.test, res.score, res.threshold, res.drifted, ref.kind, ref.role)


class _Buffers:
    """At most ``count`` float64 work buffers of ``rows`` values, handed out one per running column task
    and reused by the next one (allocated on first use; ``np.empty`` pages are committed only when
    written)."""

    def __init__(self, rows: int, count: int) -> None:
        self.rows = rows
        self._free: queue.SimpleQueue[np.ndarray] = queue.SimpleQueue()
        self._made = 0
        self._count = count

    def take(self) -> np.ndarray:
        try:
            return self._free.get_nowait()
        except queue.Empty:
            self._made += 1
            assert self._made <= self._count, "more concurrent column tasks than buffers"
            return np.empty(self.rows, dtype=np.float64)

    def give(self, buf: np.ndarray) -> None:
        self._free.put(buf)


def _column(
    name: str, series: pd.Series, ref: ColumnProfile, definition: MonitorDefinition, buffers: _Buffers
) -> ColumnOutcome:
    if ref.kind == "numerical":
        buf = buffers.take()
        try:
            return _numerical(name, series, ref, definition, buf)
        finally:
            buffers.give(buf)
    return _categorical(name, series, ref, definition)


def _finite_sorted(series: pd.Series, buf: np.ndarray) -> tuple[np.ndarray, int]:
    """The column's finite values as float64, sorted, in ``buf`` (a view of its head), and the number of
    missing (NaN / ±inf) values.

    float64 columns are read in place and numpy int / float32 columns are cast straight into ``buf``:
    the only full-size array written is ``buf``. Other dtypes (nullable extension arrays) go through
    one float64 conversion."""
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "fiu":
        values = series.to_numpy(copy=False)
    else:
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    if values.dtype.kind in "iu":
        cur = buf[: values.size]
        np.copyto(cur, values, casting="unsafe")
        cur.sort()
        return cur, 0
    finite = np.isfinite(values)
    n_finite = int(np.count_nonzero(finite))
    cur = buf[:n_finite]
    if n_finite == values.size:
        np.copyto(cur, values, casting="unsafe")
    elif values.dtype == np.float64:
        np.compress(finite, values, out=cur)
    else:  # float16/32 with missing values: a temporary of the narrower dtype
        np.copyto(cur, values[finite], casting="unsafe")
    del finite
    cur.sort()
    return cur, values.size - n_finite


def _numerical(
    name: str, series: pd.Series, ref: ColumnProfile, definition: MonitorDefinition, buf: np.ndarray
) -> ColumnOutcome:
    cur, missing = _finite_sorted(series, buf)
    digest = numeric_digest(cur, missing).to_bytes()
    result, problems = numerical_test(name, cur, missing, series.size, ref, definition)
    return ColumnOutcome(name, digest, result, problems)


def numerical_test(
    name: str, cur: np.ndarray, missing: int, size: int, ref: ColumnProfile, definition: MonitorDefinition
) -> tuple[StatResult | None, list[QualityProblem]]:
    """The quality checks and the drift test of a numerical column from its sorted finite values."""
    import pandas as pd

    problems = check_columns(name, ref, missing, size, None, definition)
    if any(p.severity == "error" for p in problems):
        return None, problems
    spec = definition.spec(name)
    test = spec.stattest
    auto = test is None
    if auto:
        ref_unique = ref.nunique
        n_values = ref_unique if ref_unique > 5 else int(np.union1d(ref.unique_values(), np.unique(cur)).size)
        test = choose_stattest("numerical", ref.rows, n_values)
    assert test is not None
    threshold = spec.threshold if spec.threshold is not None else default_threshold(test)
    assert ref.values is not None and ref.std is not None
    if test == "wasserstein":
        result = wasserstein_norm_sorted(ref.values, ref.std, cur, threshold, current_sorted=True)
    elif test == "jensenshannon" and ref.nunique > 20:
        result = jensenshannon_numeric_sorted(ref.values, cur, threshold)
    elif test == "jensenshannon":
        ref_keys, ref_n = np.unique(ref.values, return_counts=True)
        cur_keys, cur_n = np.unique(cur, return_counts=True)
        result = jensenshannon_counts(
            dict(zip(ref_keys.tolist(), ref_n.tolist(), strict=True)),
            ref.rows,
            dict(zip(cur_keys.tolist(), cur_n.tolist(), strict=True)),
            int(cur.size),
            threshold,
        )
    else:
        # The Series wraps the worker's buffer: Evidently returns only numbers, so nothing refers to
        # the buffer once this returns and the next column may overwrite it.
        result = evidently_stattest(
            None if auto else test, "numerical", ref.as_series(), pd.Series(cur, name=name), threshold
        )
    return result, problems


def _categorical(
    name: str, series: pd.Series, ref: ColumnProfile, definition: MonitorDefinition
) -> ColumnOutcome:
    clean = series.replace([-np.inf, np.inf], np.nan).dropna() if ref.family == "float" else series.dropna()
    counts = clean.value_counts(sort=False)
    digest = counts_digest(counts, int(series.size - clean.size)).to_bytes()
    if len(counts) > definition.max_categories:
        cur_counts: dict[Any, int] = dict.fromkeys(range(len(counts)), 1)  # only the size matters
    else:
        cur_counts = {json_key(k): int(v) for k, v in counts.items()}
    problems = check_columns(
        name, ref, int(series.size - clean.size), int(series.size), cur_counts, definition
    )
    if any(p.severity == "error" for p in problems):
        return ColumnOutcome(name, digest, None, problems)
    spec = definition.spec(name)
    test = spec.stattest
    auto = test is None
    if auto:
        test = choose_stattest("categorical", ref.rows, len(set(ref.counts) | set(cur_counts)))
    assert test is not None
    threshold = spec.threshold if spec.threshold is not None else default_threshold(test)
    if test == "jensenshannon":
        result = jensenshannon_counts(ref.counts, ref.rows, cur_counts, int(clean.size), threshold)
    else:
        result = evidently_stattest(None if auto else test, "categorical", ref.as_series(), clean, threshold)
    return ColumnOutcome(name, digest, result, problems)
