"""Run records: ``<data_dir>/runs/<workflow-name>/run.json`` plus one log file per pod in ``logs/``."""

from __future__ import annotations

import json
import os
from pathlib import Path

from driftloop.errors import UsageError
from driftloop.local.executor.result import WorkflowResult

__all__ = ["list_runs", "load_run", "run_dir", "save_run"]


def run_dir(data_dir: Path, name: str) -> Path:
    return Path(data_dir) / "runs" / name


def save_run(data_dir: Path, result: WorkflowResult) -> Path:
    """Write the record atomically (write a temp file, then rename)."""
    path = run_dir(data_dir, result.name) / "run.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result.to_record(), indent=2))
    os.replace(tmp, path)
    return path


def list_runs(data_dir: Path) -> list[WorkflowResult]:
    """Every recorded run, newest first."""
    runs = []
    for path in (Path(data_dir) / "runs").glob("*/run.json"):
        try:
            runs.append(WorkflowResult.from_record(json.loads(path.read_text())))
        except (ValueError, KeyError):
            continue
    return sorted(runs, key=lambda r: r.started or 0, reverse=True)


def load_run(data_dir: Path, name: str) -> WorkflowResult:
    path = run_dir(data_dir, name) / "run.json"
    if not path.is_file():
        raise UsageError(
            f"no run named {name!r} under {Path(data_dir) / 'runs'}",
            "see `driftloop runs list` for the names",
        )
    result = WorkflowResult.from_record(json.loads(path.read_text()))
    result.record_path = str(path)
    return result
