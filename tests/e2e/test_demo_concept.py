"""The loop closed by a performance drop: ``driftloop demo --shift concept`` — the same applicants, new
outcomes. No input moves, so no drift test fires; the accuracy measured on the feedback labels drops,
the monitor publishes ``io.driftloop.performance.degraded``, and the retrain it starts carries reason
``performance`` into the new version's lineage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from driftloop.events import PERFORMANCE_DEGRADED
from tests.conftest import REPO, embedded_overrides, free_port

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(600)
def test_a_concept_shift_is_caught_by_performance_and_closes_the_loop(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLOOP_")}
    overrides = {**embedded_overrides(tmp_path / "data"), "serving.port": free_port()}
    for key, value in overrides.items():
        env["DRIFTLOOP_" + key.upper().replace(".", "__")] = str(value)
    env["DRIFTLOOP_MANIFESTS_DIR"] = str(REPO / "manifests")
    proc = subprocess.run(
        [sys.executable, "-m", "driftloop", "demo", "--rows", "3000", "--shift", "concept"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=560,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    summary = json.loads((tmp_path / "data" / "demo" / "output" / "summary.json").read_text())
    assert summary["ok"] and summary["shift"] == "concept" and summary["reason"] == "performance"
    event = summary["drift_event"]
    assert event["type"] == PERFORMANCE_DEGRADED
    data = event["data"]
    assert data["retrain"] is True and data["dataset_drift"] is False and data["estimated"] is False
    perf = data["performance"]
    metric = perf["metric"]
    assert perf["reference"][metric] - perf["actual"][metric] > perf["threshold"]
    v2 = next(v for v in summary["registry"]["versions"] if v["version"] == "v2")
    assert v2["lineage"]["event_id"] == event["id"] and v2["lineage"]["reason"] == "performance"
    assert summary["registry"]["champion"] == "v2"
    assert summary["duplicates"]["runs_for_event"] == 1
