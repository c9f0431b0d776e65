"""Whether a local run is still running, read from its record — the one fact admission needs of local mode.

The local executor writes ``<data_dir>/runs/<name>/run.json`` with the run's ``phase`` and the PID and start
time of the process that owns it. A run is live when the record says ``Running`` and that very process (same
PID, same start time, so a reused PID does not count) is still there. The admission gate (``sensors``) and
the reconciler of ``driftloop up`` ask this without importing the executor: this module is the shared
contract, and the executor's own ``is_live`` is built on it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

__all__ = ["owner_alive", "process_start", "run_liveness"]


def process_start(pid: int) -> str:
    """The start time of process ``pid`` (field 22 of /proc/<pid>/stat), or "" when it is gone: with the
    PID it identifies a process across PID reuse."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[19]


def owner_alive(phase: str, owner_pid: int | None, owner_start: str) -> bool:
    """A record says Running and its owner process is the same one still: the run is live. A Running record
    whose owner is gone was interrupted (killed, crashed)."""
    if phase != "Running" or owner_pid is None or not owner_start:
        return False
    return process_start(owner_pid) == owner_start


def run_liveness(data_dir: Path | str) -> Callable[[str], bool | None]:
    """``alive(run)``: True/False from the run's record under ``data_dir``, None when it has no readable
    record here (e.g. on a cluster, where only a lease's expiry frees a slot)."""
    runs = Path(data_dir) / "runs"

    def alive(run: str) -> bool | None:
        if not run or "/" in run or run.startswith("."):
            return None
        try:
            record = json.loads((runs / run / "run.json").read_text())
            pid = record.get("owner_pid")
            start = str(record.get("owner_start") or "")
            return owner_alive(str(record["phase"]), pid if isinstance(pid, int) else None, start)
        except (OSError, ValueError, KeyError, AttributeError):
            return None

    return alive
