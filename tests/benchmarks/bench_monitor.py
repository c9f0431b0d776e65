"""Benchmark: driftloop's drift check vs Evidently's Report on the same data, in the same run.

    .venv/bin/python tests/benchmarks/bench_monitor.py [--sizes 10000,100000,1000000] [--repeat 3]

20 numerical columns (mixed distributions), one of them (``f7``) shifted by 0.5 standard deviations.
For each size:

* driftloop: ``run_check`` on a window already in memory against a reference profile already built
  (loaded from its bytes), no HTML report; best of ``--repeat`` runs; peak RSS *during the check* (Linux
  ``/proc/self/clear_refs`` resets the high-water mark once the data is loaded), in a fresh process.
* Evidently: ``Report([DataDriftPreset()]).run(current, reference)`` once, in a fresh process.

Both lists of drifted columns are printed and compared. Not collected by pytest (file name ``bench_*``).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

N_COLS = 20
SHIFTED = "f7"


def _frame(n: int, shifted: bool, seed: int = 0):  # type: ignore[no-untyped-def]
    """The reference (``shifted=False``) or the current window; each side has its own random stream so
    the driftloop child builds only the window (no freed reference left in the heap to skew RSS)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng([seed, int(shifted)])
    out = {}
    for i in range(N_COLS):
        kind = i % 4
        if kind == 0:
            x = rng.normal(10 * i, 1 + i, n)
        elif kind == 1:
            x = rng.lognormal(1, 0.5, n)
        elif kind == 2:
            x = rng.uniform(-i, i + 1, n)
        else:
            x = rng.gamma(2 + i, 2, n)
        if shifted and f"f{i}" == SHIFTED:
            x += 0.5 * x.std()
        out[f"f{i}"] = x
    return pd.DataFrame(out, copy=False)


def _frames(n: int):  # type: ignore[no-untyped-def]
    return _frame(n, False), _frame(n, True)


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _driftloop_child(n: int, repeat: int, profile_path: str, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    import gc

    from monitors import ReferenceProfile, run_check

    current = _frame(n, True)
    profile = ReferenceProfile.from_bytes(Path(profile_path).read_bytes())
    gc.collect()
    window_bytes = int(current.memory_usage(index=False).sum())
    before = _rss_kib("VmRSS")
    exact_peak = _reset_peak()
    times = []
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = run_check(profile, current)
        times.append(time.perf_counter() - t0)
    assert result is not None
    queue.put(
        {
            "time": min(times),
            "times": times,
            "drifted": result.drifted_columns,
            "peak_kib": _rss_kib("VmHWM"),
            "before_kib": before,
            "window_bytes": window_bytes,
            "exact_peak": exact_peak,
            "workers": os.cpu_count(),
        }
    )


def _evidently_child(n: int, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    from evidently import Report
    from evidently.presets import DataDriftPreset

    reference, current = _frames(n)
    before = _rss_kib("VmRSS")
    _reset_peak()
    t0 = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(current, reference)
    elapsed = time.perf_counter() - t0
    drifted = []
    count = None
    for metric in snapshot.dict()["metrics"]:
        cfg = metric["config"]
        if cfg["type"].endswith("ValueDrift"):
            # All 20 columns get Wasserstein (distance: drift when value >= threshold).
            assert "Wasserstein" in cfg["method"], cfg
            if metric["value"] >= cfg["threshold"]:
                drifted.append(cfg["column"])
        elif cfg["type"].endswith("DriftedColumnsCount"):
            count = metric["value"]["count"]
    queue.put(
        {
            "time": elapsed,
            "drifted": sorted(drifted),
            "count": count,
            "peak_kib": _rss_kib("VmHWM"),
            "before_kib": before,
        }
    )


def _in_child(target, *args):  # type: ignore[no-untyped-def]
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    out = queue.get()
    proc.join()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-evidently", action="store_true")
    args = parser.parse_args(argv)
    import tempfile

    from monitors import MonitorDefinition, build_profile

    print(
        f"driftloop monitor benchmark: {N_COLS} numerical columns, {SHIFTED} shifted by 0.5 std; "
        f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}"
    )
    ok = True
    for n in (int(s) for s in args.sizes.split(",")):
        reference = _frame(n, False)
        t0 = time.perf_counter()
        profile = build_profile(reference, MonitorDefinition(model="bench"))
        build_s = time.perf_counter() - t0
        del reference
        with tempfile.NamedTemporaryFile(suffix=".dlprofile", delete=False) as fh:
            fh.write(profile.to_bytes())
        del profile
        ours = _in_child(_driftloop_child, n, args.repeat, fh.name)
        os.unlink(fh.name)
        window_mb = ours["window_bytes"] / 2**20
        peak_mb, before_mb = ours["peak_kib"] / 1024, ours["before_kib"] / 1024
        print(f"\n== {n:,} rows x {N_COLS} columns (window {window_mb:.0f} MiB in memory)")
        print(f"  profile build (once per model version): {build_s:.2f} s")
        print(
            f"  driftloop check: {ours['time']:.3f} s (best of {len(ours['times'])}: "
            f"{', '.join(f'{t:.3f}' for t in ours['times'])})  drifted={ours['drifted']}"
        )
        print(
            f"  driftloop peak RSS during check: {peak_mb:.0f} MiB = {peak_mb / window_mb:.2f}x window "
            f"(RSS before check {before_mb:.0f} MiB: interpreter + profile + window; "
            f"check adds {peak_mb - before_mb:.0f} MiB = {(peak_mb - before_mb) / window_mb:.2f}x window)"
            + ("" if ours["exact_peak"] else " [peak not reset: includes loading]")
        )
        if args.skip_evidently:
            continue
        theirs = _in_child(_evidently_child, n)
        same = theirs["drifted"] == ours["drifted"]
        ok &= same
        print(
            f"  Evidently Report: {theirs['time']:.2f} s  drifted={theirs['drifted']} "
            f"(DriftedColumnsCount={theirs['count']}); peak RSS {theirs['peak_kib'] / 1024:.0f} MiB"
        )
        print(f"  speed-up: {theirs['time'] / ours['time']:.1f}x   same drifted columns: {same}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
