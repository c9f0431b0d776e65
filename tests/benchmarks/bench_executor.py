"""Executor overhead per step: a DAG of 10 no-op steps vs 10 bare ``python -c pass`` subprocesses.

Run: ``python tests/benchmarks/bench_executor.py`` (not collected by pytest). Target: ≤ 0.3 s per step.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
import types

from driftloop.local.executor import run_workflow

STEPS = 10
REPEATS = 3


def _workflow() -> dict:
    noop = {
        "name": "noop",
        "container": {"image": "python:3.11", "command": ["python", "-c"], "args": ["pass"]},
    }
    tasks = [
        {"name": f"s{i}", "template": "noop", **({"depends": f"s{i - 1}"} if i else {})} for i in range(STEPS)
    ]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "bench-"},
        "spec": {"entrypoint": "main", "templates": [{"name": "main", "dag": {"tasks": tasks}}, noop]},
    }


def _bare() -> float:
    start = time.perf_counter()
    for _ in range(STEPS):
        subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - start


def _executor(data_dir: str) -> float:
    start = time.perf_counter()
    result = run_workflow(_workflow(), {}, types.SimpleNamespace(data_dir=data_dir))
    elapsed = time.perf_counter() - start
    assert result.phase == "Succeeded", result.to_json()
    return elapsed


def main() -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        _executor(data_dir)  # warm up imports and the page cache
        bare = statistics.median(_bare() for _ in range(REPEATS))
        execd = statistics.median(_executor(data_dir) for _ in range(REPEATS))
    overhead = (execd - bare) / STEPS
    print(f"bare subprocesses : {bare:.3f} s for {STEPS} steps ({bare / STEPS * 1000:.1f} ms/step)")
    print(f"executor DAG      : {execd:.3f} s for {STEPS} steps ({execd / STEPS * 1000:.1f} ms/step)")
    print(f"overhead per step : {overhead * 1000:.1f} ms (target <= 300 ms)")
    print(f"ratio             : {execd / bare:.2f}x")
    sys.exit(0 if overhead <= 0.3 else 1)


if __name__ == "__main__":
    main()
