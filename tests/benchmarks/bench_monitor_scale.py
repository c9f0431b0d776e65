"""Benchmark: the sharded drift check past one process — sharded vs single-process, and a window that is
never in memory, streamed from Parquet through the local executor's fan-out.

    .venv/bin/python tests/benchmarks/bench_monitor_scale.py [--rows 10000000] [--stream-rows 200000000]
        [--shards 8] [--budget-mb 1024] [--evidently-budget-s 600] [--quick] [--skip-evidently]

20 numerical columns (mixed distributions), the window's ``f7`` shifted by 0.5 standard deviations (as
tests/benchmarks/bench_monitor.py). Data is generated here, a million rows at a time, straight into
Parquet files of one million rows (row groups of 250,000) under a temporary directory.

1. ``--rows`` window (default 10M): the single-process check (``pd.read_parquet`` of the window, then
   ``run_check``: time and peak RSS in a fresh process) vs the sharded check (``--shards`` shards, each a
   step of a Workflow run by the local executor: ``summarize_shard`` in bounded memory, its summary in
   ``monitors.codec``'s bytes on disk; the merge and verdict in this process). Same verdict (status,
   dataset drift, drifted columns) required; the largest per-column score difference is printed.
2. Evidently's ``Report([DataDriftPreset()])`` on the first 100k, 1M, ... rows of the same window, each in
   a fresh process killed after ``--evidently-budget-s``; a size whose time extrapolated from the previous
   one would pass the budget is not started. The largest completed size is the anchor.
3. ``--stream-rows`` window (default 200M), written file by file and never materialised: ``f3`` is
   shifted by 2 standard deviations in the last shard's files only. The fan-out of ``--shards`` shards
   through the local executor (at most ``os.cpu_count()`` at a time); the merge of the stationary shards
   must give the verdict of part 1, the merge of all must find ``f3`` drifted as well. Peak RSS of each
   shard's process (VmHWM: interpreter and libraries included) must stay under ``--budget-mb``.

``--quick``: 1M rows, 8M streamed, Evidently budget 60 s. The last line is JSON: ``rows_per_s_per_core``
(part 3), ``peak_rss_mb_per_shard`` (the largest, parts 1 and 3), ``verdicts_equal``. Exit 1 when a
verdict differs or a shard passes the budget. Not collected by pytest (file name ``bench_*``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

N_COLS = 20
FILE_ROWS = 1_000_000
GROUP_ROWS = 250_000
DRIFT_COL, TAIL_COL = "f7", "f3"
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def _frame(n: int, seed: int, *, reference: bool = False, tail: bool = False):  # type: ignore[no-untyped-def]
    """``n`` rows: the reference distribution, or the window's (``f7`` shifted; with ``tail`` also
    ``f3``, by 2 standard deviations)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng([seed, int(reference)])
    out = {}
    for i in range(N_COLS):
        kind = i % 4
        if kind == 0:
            x, std = rng.normal(10 * i, 1 + i, n), 1.0 + i
        elif kind == 1:
            x, std = rng.lognormal(1, 0.5, n), float(np.sqrt((np.exp(0.25) - 1) * np.exp(2.25)))
        elif kind == 2:
            x, std = rng.uniform(-i, i + 1, n), (2 * i + 1) / np.sqrt(12)
        else:
            x, std = rng.gamma(2 + i, 2, n), 2 * np.sqrt(2 + i)
        if not reference and f"f{i}" == DRIFT_COL:
            x += 0.5 * std
        if tail and f"f{i}" == TAIL_COL:
            x += 2.0 * std
        out[f"f{i}"] = x
    return pd.DataFrame(out, copy=False)


def _write_window(directory: Path, rows: int, seed: int, tail_from: int | None = None) -> list[str]:
    """Write the window a million rows at a time (never all of it in memory); files from row
    ``tail_from`` on get the tail shift."""
    directory.mkdir(parents=True, exist_ok=True)
    files = []
    for k, start in enumerate(range(0, rows, FILE_ROWS)):
        n = min(FILE_ROWS, rows - start)
        tail = tail_from is not None and start >= tail_from
        path = directory / f"part-{k:05d}.parquet"
        _frame(n, seed * 100_000 + k, tail=tail).to_parquet(path, row_group_size=GROUP_ROWS, index=False)
        files.append(str(path))
    return files


def _rss_mb(field: str = "VmHWM") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def shard_step(work: str, index: int) -> None:
    """One shard's step (a process of its own, started by the local executor): summarise the shard in
    batches, write its summary and its figures."""
    from monitors.codec import encode
    from monitors.profile import ReferenceProfile
    from monitors.sharded import summarize_shard
    from monitors.shards import Shard

    base = Path(work)
    started = time.perf_counter()
    profile = ReferenceProfile.from_bytes((base / "profile.bin").read_bytes())
    shard = Shard.from_dict(json.loads((base / "plan.json").read_text())[index])
    summary = summarize_shard(profile, profile.definition, shard)
    (base / f"summary-{index:05d}.bin").write_bytes(encode(summary))
    stats = {"rows": summary.rows, "seconds": time.perf_counter() - started, "peak_rss_mb": _rss_mb()}
    (base / f"stats-{index:05d}.json").write_text(json.dumps(stats))


def _fanout(work: Path, files: list[str], shards: int, parallel: int) -> tuple[list[Any], list[dict], float]:
    """Plan ``files`` into shards and run one local-executor step per shard; the decoded summaries (in
    shard order), the steps' figures and the wall time of the fan-out."""
    from driftloop.local.executor import run_workflow
    from monitors.codec import decode
    from monitors.shards import plan

    planned = plan(files, shards)
    (work / "plan.json").write_text(json.dumps([s.to_dict() for s in planned]))
    source = (
        f"import sys\nsys.path.insert(0, {str(HERE)!r})\nsys.path.insert(0, {str(REPO)!r})\n"
        "import bench_monitor_scale\n"
        f"bench_monitor_scale.shard_step({str(work)!r}, {{{{inputs.parameters.shard}}}})\n"
    )
    workflow = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "bench-monitor-scale-"},
        "spec": {
            "entrypoint": "shards",
            "templates": [
                {
                    "name": "shards",
                    "parallelism": parallel,
                    "dag": {
                        "tasks": [
                            {
                                "name": "summarize",
                                "template": "summarize",
                                "withItems": [s.index for s in planned],
                                "arguments": {"parameters": [{"name": "shard", "value": "{{item}}"}]},
                            }
                        ]
                    },
                },
                {
                    "name": "summarize",
                    "inputs": {"parameters": [{"name": "shard"}]},
                    "script": {"image": "driftloop", "command": ["python"], "source": source},
                },
            ],
        },
    }
    t0 = time.perf_counter()
    result = run_workflow(workflow, None, SimpleNamespace(data_dir=work / "executor"))
    wall = time.perf_counter() - t0
    if result.phase != "Succeeded":
        failed = [n for n in result.nodes if n.phase != "Succeeded" and n.log]
        log = Path(failed[0].log).read_text()[-2000:] if failed else ""
        raise SystemExit(f"the fan-out {result.phase}: {log}")
    summaries = [decode((work / f"summary-{s.index:05d}.bin").read_bytes()) for s in planned]
    stats = [json.loads((work / f"stats-{s.index:05d}.json").read_text()) for s in planned]
    return summaries, stats, wall


def _verdict(result: Any) -> dict[str, Any]:
    return {
        "status": result.status,
        "dataset_drift": result.dataset_drift,
        "drifted": sorted(result.drifted_columns),
    }


def _single_child(profile_path: str, directory: str, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    import pandas as pd

    from monitors import ReferenceProfile, run_check

    profile = ReferenceProfile.from_bytes(Path(profile_path).read_bytes())
    t0 = time.perf_counter()
    window = pd.read_parquet(directory)
    loaded = time.perf_counter() - t0
    result = run_check(profile, window)
    total = time.perf_counter() - t0
    scores = {n: c.score for n, c in result.columns.items()}
    queue.put({"load_s": loaded, "total_s": total, "peak_rss_mb": _rss_mb(), "scores": scores,
               "verdict": _verdict(result)})  # fmt: skip


def _evidently_child(n: int, directory: str, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    import pyarrow.dataset as ds
    from evidently import Report
    from evidently.presets import DataDriftPreset

    current = ds.dataset(directory).head(n).to_pandas()
    reference = _frame(n, 7, reference=True)
    t0 = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(current, reference)
    elapsed = time.perf_counter() - t0
    drifted = sorted(
        m["config"]["column"]
        for m in snapshot.dict()["metrics"]
        if m["config"]["type"].endswith("ValueDrift") and m["value"] >= m["config"]["threshold"]
    )
    queue.put({"time": elapsed, "drifted": drifted, "peak_rss_mb": _rss_mb()})


def _in_child(target, *args, timeout: float | None = None):  # type: ignore[no-untyped-def]
    import queue as queue_mod

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, q))
    proc.start()
    try:
        return q.get(timeout=timeout)
    except queue_mod.Empty:
        return None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()


def _evidently(directory: Path, rows: int, budget_s: float) -> dict[str, Any] | None:
    """The largest of 100k, 1M, 10M, ... (at most ``rows``) Evidently completes within the budget."""
    best, n, last = None, 100_000, None
    while n <= rows:
        if last is not None and last["time"] * n / last["n"] > budget_s:
            print(
                f"  Evidently at {n:,} rows: not started ({last['time'] * n / last['n']:.0f} s extrapolated)"
            )
            break
        out = _in_child(_evidently_child, n, str(directory), timeout=budget_s + 120)
        if out is None:
            print(f"  Evidently at {n:,} rows: not done within the budget ({budget_s:.0f} s)")
            break
        best = last = {**out, "n": n}
        print(
            f"  Evidently Report at {n:,} rows: {out['time']:.1f} s ({n / out['time']:,.0f} rows/s), "
            f"peak RSS {out['peak_rss_mb']:.0f} MB, drifted={out['drifted']}"
        )
        n *= 10
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--stream-rows", type=int, default=200_000_000)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--budget-mb", type=float, default=1024.0)
    parser.add_argument("--evidently-budget-s", type=float, default=600.0)
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--quick", action="store_true", help="1M rows, 8M streamed, Evidently budget 60 s")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="where the Parquet files go (default: /tmp)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.stream_rows, args.evidently_budget_s = 1_000_000, 8_000_000, 60.0
    from monitors import MonitorDefinition, build_profile
    from monitors.sharded import finish, merge

    cores = os.cpu_count() or 1
    parallel = min(cores, args.shards)
    root = Path(tempfile.mkdtemp(prefix="bench-monitor-scale-", dir=args.workdir))
    print(
        f"monitor scale benchmark: {N_COLS} numerical columns, {DRIFT_COL} shifted by 0.5 std; {cores} CPUs; "
        f"Python {sys.version.split()[0]}; data under {root}"
    )
    try:
        profile = build_profile(
            _frame(min(args.rows, 1_000_000), 7, reference=True), MonitorDefinition(model="bench")
        )
        (root / "profile.bin").write_bytes(profile.to_bytes())

        # 1. sharded vs single-process
        print(f"\n== 1. {args.rows:,} rows x {N_COLS}: single process vs {args.shards} shards")
        window = root / "window"
        files = _write_window(window, args.rows, seed=1)
        single = _in_child(_single_child, str(root / "profile.bin"), str(window))
        print(
            f"  single process: {single['total_s']:.2f} s (read {single['load_s']:.2f} s) = "
            f"{args.rows / single['total_s']:,.0f} rows/s; peak RSS {single['peak_rss_mb']:.0f} MB; "
            f"verdict {single['verdict']}"
        )
        work = root / "fanout-1"
        work.mkdir()
        shutil.copy(root / "profile.bin", work / "profile.bin")
        summaries, stats, wall = _fanout(work, files, args.shards, parallel)
        t0 = time.perf_counter()
        sharded = finish(profile, merge(summaries))
        merge_s = time.perf_counter() - t0
        peak_1 = max(s["peak_rss_mb"] for s in stats)
        diff = max(abs(c.score - single["scores"][n]) for n, c in sharded.columns.items())
        equal_1 = _verdict(sharded) == single["verdict"]
        print(
            f"  sharded: {wall + merge_s:.2f} s ({parallel} at a time; merge {merge_s:.2f} s) = "
            f"{args.rows / (wall + merge_s):,.0f} rows/s; peak RSS per shard {peak_1:.0f} MB; "
            f"verdict {_verdict(sharded)}"
        )
        print(f"  same verdict: {equal_1}; largest per-column score difference {diff:.2e}")

        # 2. Evidently's Report as the anchor
        anchor = None
        if not args.skip_evidently:
            print("\n== 2. Evidently Report([DataDriftPreset()]) on the same window")
            anchor = _evidently(window, args.rows, args.evidently_budget_s)
        shutil.rmtree(window)

        # 3. a window that is never in memory, through the fan-out
        per_shard = args.stream_rows // args.shards
        print(
            f"\n== 3. {args.stream_rows:,} rows x {N_COLS} streamed from Parquet, {args.shards} shards; "
            f"{TAIL_COL} shifted by 2 std in the last shard's files"
        )
        stream = root / "stream"
        t0 = time.perf_counter()
        files = _write_window(stream, args.stream_rows, seed=2, tail_from=per_shard * (args.shards - 1))
        print(f"  written in {time.perf_counter() - t0:.0f} s ({len(files)} files)")
        work = root / "fanout-3"
        work.mkdir()
        shutil.copy(root / "profile.bin", work / "profile.bin")
        summaries, stats, wall = _fanout(work, files, args.shards, parallel)
        stationary = finish(profile, merge(summaries[:-1]))
        whole = finish(profile, merge(summaries))
        rows = sum(s["rows"] for s in stats)
        peak_3 = max(s["peak_rss_mb"] for s in stats)
        rate = rows / wall / parallel
        shard_peaks = ", ".join(f"{s['peak_rss_mb']:.0f}" for s in stats)
        equal_3 = _verdict(stationary) == single["verdict"]
        tail_found = TAIL_COL in whole.drifted_columns and TAIL_COL not in stationary.drifted_columns
        print(
            f"  {rows:,} rows in {wall:.1f} s: {rows / wall:,.0f} rows/s = {rate:,.0f} rows/s per core "
            f"({parallel} at a time); peak RSS per shard {shard_peaks} MB"
        )
        print(f"  stationary shards: {_verdict(stationary)}; equal to part 1's: {equal_3}")
        print(f"  all shards: {_verdict(whole)}; {TAIL_COL} found in the shifted tail: {tail_found}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    peak = max(peak_1, peak_3)
    ok = equal_1 and equal_3 and tail_found and peak <= args.budget_mb
    line = {
        "rows": args.rows,
        "stream_rows": rows,
        "shards": args.shards,
        "rows_per_s_per_core": round(rate),
        "peak_rss_mb_per_shard": round(peak, 1),
        "rss_budget_mb": args.budget_mb,
        "single_rows_per_s": round(args.rows / single["total_s"]),
        "single_peak_rss_mb": round(single["peak_rss_mb"], 1),
        "evidently_rows": anchor["n"] if anchor else None,
        "evidently_rows_per_s": round(anchor["n"] / anchor["time"]) if anchor else None,
        "verdicts_equal": bool(equal_1 and equal_3 and tail_found),
    }
    print(json.dumps(line))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
