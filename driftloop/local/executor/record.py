"""Run records: ``<data_dir>/runs/<workflow-name>/run.json`` plus one log file per pod in ``logs/``."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from driftloop.errors import UsageError, WorkflowError
from driftloop.liveness import owner_alive, process_start
from driftloop.local.executor.result import WorkflowResult

__all__ = [
    "INTERRUPTED",
    "SECRETS_COPY",
    "check_name",
    "is_live",
    "list_runs",
    "load_run",
    "process_start",
    "run_dir",
    "save_run",
    "sweep",
]

#: the run's copy of the settings (secrets included) its steps read; removed when the run ends
SECRETS_COPY = "config.yaml"


def is_live(result: WorkflowResult) -> bool:
    """A run that is still running (see :func:`driftloop.liveness.owner_alive`)."""
    return owner_alive(result.phase, result.owner_pid, result.owner_start)


#: a Workflow's name as Kubernetes accepts it: an RFC 1123 subdomain (lowercase alphanumerics, '-' and '.')
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def check_name(name: str, where: str = "metadata.name") -> str:
    """``name`` when it is a valid Workflow name, else a WorkflowError naming the field (a name becomes a
    directory under ``<data_dir>/runs``: ``../../x`` must never be one)."""
    if len(name) > 253 or not _NAME.match(name):
        raise WorkflowError(
            f"{where} {name[:80]!r} is not a valid Workflow name (an RFC 1123 subdomain)",
            "use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit",
        )
    return name


def run_dir(data_dir: Path, name: str) -> Path:
    return Path(data_dir) / "runs" / check_name(name, "run name")


def save_run(data_dir: Path, result: WorkflowResult) -> Path:
    """Write the record atomically (write a temp file, then rename)."""
    path = run_dir(data_dir, result.name) / "run.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result.to_record(), indent=2))
    os.replace(tmp, path)
    return path


INTERRUPTED = "the executor stopped (killed or crashed) while the run was running"


def _settled(result: WorkflowResult) -> WorkflowResult:
    """A Running record whose executor is gone reads as Error: it will never finish."""
    if result.phase == "Running" and not is_live(result):
        result.phase, result.message = "Error", INTERRUPTED
    return result


def list_runs(data_dir: Path) -> list[WorkflowResult]:
    """Every recorded run, newest first."""
    runs = []
    for path in (Path(data_dir) / "runs").glob("*/run.json"):
        try:
            runs.append(_settled(WorkflowResult.from_record(json.loads(path.read_text()))))
        except (ValueError, KeyError):
            continue
    return sorted(runs, key=lambda r: r.started or 0, reverse=True)


def load_run(data_dir: Path, name: str) -> WorkflowResult:
    try:
        path = run_dir(data_dir, name) / "run.json"
    except WorkflowError as exc:
        raise UsageError(exc.message, "see `driftloop runs list` for the names") from None
    if not path.is_file():
        raise UsageError(
            f"no run named {name!r} under {Path(data_dir) / 'runs'}",
            "see `driftloop runs list` for the names",
        )
    result = _settled(WorkflowResult.from_record(json.loads(path.read_text())))
    result.record_path = str(path)
    return result


def sweep(data_dir: Path) -> list[str]:
    """Remove what runs that are not running any more left behind — their sandbox directory and their
    copy of the settings (secrets) — after their executor was killed; returns the runs cleaned.

    Only a sandbox under the temporary directory and named for its run is removed (the record could
    have been written by anyone who can write the data directory)."""
    cleaned = []
    tmp = Path(tempfile.gettempdir()).resolve()
    for path in (Path(data_dir) / "runs").glob("*/run.json"):
        try:
            result = WorkflowResult.from_record(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if is_live(result):
            continue
        did = False
        secrets = path.parent / SECRETS_COPY
        if secrets.exists():
            secrets.unlink(missing_ok=True)
            did = True
        box = Path(result.sandbox).resolve() if result.sandbox else None
        ours = box is not None and box.parent == tmp and box.name.startswith(f"driftloop-{result.name}-")
        if box is not None and ours and box.is_dir():
            shutil.rmtree(box, ignore_errors=True)
            did = True
        if did:
            cleaned.append(result.name)
    return cleaned
