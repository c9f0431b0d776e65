"""Sharded checks: the merge of shard summaries gives the single process's verdicts — equal on counts and
bins, within the stated bound for Wasserstein / KS — and merging is associative and commutative.

Sizes are small so the file runs in seconds; the 10M / 200M-row figures are the benchmark's
(``tests/benchmarks/bench_monitor_scale.py``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import ks_2samp, wasserstein_distance

from driftloop.errors import DataError, UsageError
from monitors import MonitorDefinition, build_profile
from monitors.binned import ks_bracket, wasserstein_bracket
from monitors.codec import decode, encode
from monitors.datasets import TARGET, make_credit
from monitors.merged import check_summary
from monitors.performance import binary_estimator
from monitors.shard import Summarizer, WindowSummary
from monitors.sharded import finish, merge, run_sharded
from monitors.signals import PerformanceContext, run_monitor
from monitors.summary import NumericSummary, reference_edges

DEFINITION = MonitorDefinition(model="credit", target=TARGET, segments=["region"])


@pytest.fixture(scope="module")
def profile():  # type: ignore[no-untyped-def]
    return build_profile(make_credit(5000, seed=1), DEFINITION, model_version="1")


def _parquet(frame: pd.DataFrame, path: Path, row_group: int = 3000) -> list[str]:
    frame.to_parquet(path, index=False, row_group_size=row_group)
    return [str(path)]


def _verdicts(result) -> dict:  # type: ignore[no-untyped-def]
    return {
        "status": result.status,
        "dataset_drift": result.dataset_drift,
        "drifted": result.drifted_columns,
        "columns": {n: c.drifted for n, c in result.columns.items()},
        "multivariate": result.multivariate.drifted if result.multivariate else None,
        "segments": sorted(
            (s.value, s.dataset_drift, tuple(s.drifted_columns)) for s in result.segments or ()
        ),
        "content_hash": result.content_hash,
        "event_type": result.event_type,
    }


@pytest.mark.parametrize("drift", [0.0, 0.6])
def test_sharded_check_equals_the_single_process_check(profile, drift: float, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window = make_credit(24_000, seed=2, drift=drift)
    single = run_monitor(profile, window)
    sharded, sample = run_sharded(profile, _parquet(window, tmp_path / "w.parquet"), 4, workers=1)
    assert _verdicts(sharded) == _verdicts(single)
    assert sharded.event_id == single.event_id  # the same window gives the same event, however cut
    for name, col in single.columns.items():
        other = sharded.columns[name]
        if col.test == "wasserstein":  # bracketed: within the bound (a few per mille of a std here)
            assert abs(other.score - col.score) < 2e-3, name
        else:  # counts: exact
            assert other.score == pytest.approx(col.score, rel=1e-9, abs=1e-12), name
    assert sharded.multivariate is not None and single.multivariate is not None
    assert sharded.multivariate.score == single.multivariate.score  # the very same sampled rows
    assert sample is not None and len(sample) == 5000
    assert [s.drift_share for s in sharded.segments or ()] == [s.drift_share for s in single.segments or ()]


def test_a_small_window_keeps_its_values_and_is_checked_exactly(profile, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window = make_credit(9_000, seed=3, drift=0.2)
    single = run_monitor(profile, window)
    sharded, _ = run_sharded(profile, _parquet(window, tmp_path / "w.parquet", 2000), 3, workers=1)
    for name, col in single.columns.items():
        assert sharded.columns[name].score == pytest.approx(col.score, rel=1e-9, abs=1e-12), name
    assert _verdicts(sharded) == _verdicts(single)


def test_estimated_and_measured_performance_merge_to_the_single_process_figures(profile) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    score = rng.random(4000)
    estimator = binary_estimator(score, rng.random(4000) < score, [0, 1])
    window = make_credit(12_000, seed=4)
    p = rng.random(len(window))
    window = window.assign(prediction=(p > 0.5).astype(int), probability=np.where(p > 0.5, p, 1 - p))
    context = PerformanceContext(
        "classification", "roc_auc", {"roc_auc": 0.8, "accuracy": 0.8}, estimator, [0, 1]
    )
    single = run_monitor(profile, window, performance=context)
    parts = [_summarize(profile, window.iloc[a : a + 5000], a, context) for a in range(0, len(window), 5000)]
    sharded = finish(profile, merge(parts), performance=context)
    a, b = single.performance, sharded.performance
    assert a is not None and b is not None
    assert b.label_stats == a.label_stats and b.labels == a.labels
    for kind in ("actual", "estimated"):
        ours, theirs = getattr(b, kind), getattr(a, kind)
        assert ours.keys() == theirs.keys()
        for metric, value in theirs.items():
            assert ours[metric] == pytest.approx(value, rel=1e-9), (kind, metric)
    assert (b.degraded, b.estimated_degraded) == (a.degraded, a.estimated_degraded)


def _summarize(profile, frame: pd.DataFrame, start: int, performance=None) -> WindowSummary:  # type: ignore[no-untyped-def]
    from monitors.check import monitored_names

    s = Summarizer(
        profile,
        profile.definition,
        names=monitored_names(profile, profile.definition),
        performance=performance,
    )
    s.add(frame, start)
    return s.result()


@settings(max_examples=15, deadline=None)
@given(
    cuts=st.lists(st.integers(1, 2999), min_size=2, max_size=2, unique=True), order=st.permutations([0, 1, 2])
)
def test_merge_is_associative_and_commutative(profile, cuts: list[int], order: list[int]) -> None:  # type: ignore[no-untyped-def]
    window = make_credit(3000, seed=5, drift=0.3)
    a, b = sorted(cuts)
    parts = [_summarize(profile, window.iloc[x:y], x) for x, y in ((0, a), (a, b), (b, 3000))]
    left = parts[order[0]].merge(parts[order[1]]).merge(parts[order[2]])
    right = parts[0].merge(parts[1].merge(parts[2]))
    one = _summarize(profile, window, 0)
    results = [check_summary(profile, s).to_dict() for s in (left, right, one)]
    for r in results:
        r.pop("duration_s")
    assert results[0] == results[1] == results[2]


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    shift=st.floats(-1.0, 1.0),
    ref_n=st.integers(20, 400),
    cur_n=st.integers(1, 2000),
    levels=st.sampled_from([None, 7, 50]),
)
def test_the_brackets_hold_the_exact_wasserstein_and_ks(
    seed: int, shift: float, ref_n: int, cur_n: int, levels
) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    ref = rng.normal(0, 1, ref_n)
    cur = rng.normal(shift, 1.2, cur_n)
    if levels:  # ties: few distinct values
        ref, cur = np.round(ref * levels / 3) / levels, np.round(cur * levels / 3) / levels
    ref.sort()
    col = build_profile(pd.DataFrame({"x": ref}), MonitorDefinition(model="m")).columns["x"]
    edges = reference_edges(col)
    if seed % 2:  # fewer edges than distinct values: the reference CDF moves inside bins
        edges = np.unique(np.r_[edges[::5], edges[-1]])
    s = NumericSummary.empty(edges, track_distinct=False)
    s.add(cur, edges)
    w = wasserstein_bracket(ref, edges, s.counts, s.sums, s.at_edge)
    exact = wasserstein_distance(ref, cur)
    assert w.low - 1e-9 <= exact <= w.high + 1e-9
    d = ks_bracket(ref, edges, s.counts, s.at_edge)
    exact_d = ks_2samp(ref, cur).statistic
    assert d.low - 1e-12 <= exact_d <= d.high + 1e-12
    if seed % 2 == 0:  # every distinct reference value an edge: KS is exact
        assert d.low == pytest.approx(exact_d, abs=1e-12)


def test_summaries_cross_processes_as_bytes_without_pickle(profile) -> None:  # type: ignore[no-untyped-def]
    part = _summarize(profile, make_credit(4000, seed=6), 0)
    back = decode(encode(part))
    assert check_summary(profile, back).to_dict().keys() == check_summary(profile, part).to_dict().keys()
    assert back.columns["income"].counts.tolist() == part.columns["income"].counts.tolist()
    with pytest.raises(DataError, match="not a driftloop shard summary"):
        decode(b"\x80\x04pickle")


def test_a_stattest_without_a_form_on_bins_is_refused_for_a_large_window(tmp_path: Path) -> None:
    definition = MonitorDefinition(
        model="credit", features=[{"name": "income", "stattest": "psi", "threshold": 0.1}]
    )
    prof = build_profile(make_credit(5000, seed=1), definition)
    window = make_credit(30_000, seed=2)
    with pytest.raises(UsageError, match="stattest 'psi' needs the window's values"):
        run_sharded(prof, _parquet(window, tmp_path / "w.parquet"), 2, workers=1)


def test_cli_shards_prints_the_same_json(tmp_path: Path) -> None:
    ref, window = make_credit(5000, seed=0), make_credit(30_000, seed=7, drift=0.4)
    (tmp_path / "ref.parquet").write_bytes(b"")
    ref.to_parquet(tmp_path / "ref.parquet")
    window.to_parquet(tmp_path / "w.parquet", row_group_size=5000)

    def run(*extra: str) -> dict:  # type: ignore[type-arg]
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "driftloop",
                "monitor",
                "run",
                "--model",
                "credit",
                "--reference",
                str(tmp_path / "ref.parquet"),
                "--current",
                str(tmp_path / "w.parquet"),
                "--no-publish",
                "--json",
                *extra,
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        doc = json.loads(proc.stdout)
        doc.pop("duration_s")
        for c in doc["columns"].values():
            c["score"] = round(c["score"], 2)
        return doc

    assert run("--shards", "3") == run()
