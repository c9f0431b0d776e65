"""The whole loop, as `driftloop demo` runs it, on a smaller data size: real embedded Kafka and S3, the
compiled Sensor and WorkflowTemplate, the local executor and the model server — a data drift answered by
v2, then a concept shift answered by v3 (a retrain triggered by measured performance)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from driftloop.events import PERFORMANCE_DEGRADED
from tests.conftest import REPO, embedded_overrides, free_port
from tests.e2e.readme import Shell, block

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(900)
def test_demo_closes_the_loop(tmp_path: Path) -> None:
    """`driftloop demo` (what `make demo` runs) in a directory laid out like the repository's root — its
    `.venv` and `driftloop.yaml` — with the default data directory; then the README's block that browses
    the demo's registry, verbatim."""
    assert "$(BIN)/driftloop demo" in (REPO / "Makefile").read_text()  # what `make demo` runs
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    shutil.copy(REPO / "driftloop.yaml", tmp_path / "driftloop.yaml")
    shell = Shell.for_user(tmp_path, tmp_path / "ports")
    shell.env["DRIFTLOOP_MANIFESTS_DIR"] = str(REPO / "manifests")
    proc = subprocess.run(
        [sys.executable, "-m", "driftloop", "demo", "--rows", "3000"],
        env=shell.env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=560,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "demo succeeded" in proc.stderr
    out = tmp_path / ".driftloop" / "demo" / "credit" / "output"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ok"] and summary["failures"] == []
    browse = block("Quick start", ".venv/bin/driftloop --set data_dir=.driftloop/demo/credit up")
    try:
        shown = [shell.run(line) for line in browse.lines]
    finally:
        shell.stop()
    assert summary["registry"]["champion"] == "v3" and "v3" in shown[1].stdout
    stages = [e["stage"] for e in summary["timeline"]]
    for stage in (
        "train",
        "serve",
        "baseline",
        "drift",
        "detected",
        "triggered",
        "canary",
        "promoted",
        "duplicates",
    ):
        assert stage in stages, stages
    # the downturn: dataset drift → v2; then a concept shift on top (same inputs, new outcomes) that no
    # drift test sees: a performance drop measured on feedback labels → v3
    drift, concept = summary["phases"]
    assert (drift["shift"], drift["version"], drift["reason"]) == ("drift", "v2", "drift")
    assert (concept["shift"], concept["version"], concept["reason"]) == ("concept", "v3", "performance")
    assert summary["registry"]["champion"] == "v3"
    versions = {v["version"]: v for v in summary["registry"]["versions"]}
    assert versions["v2"]["lineage"]["event_id"] == summary["drift_event"]["id"] == drift["event"]["id"]
    assert versions["v2"]["lineage"]["reason"] == "drift"
    assert versions["v3"]["lineage"]["event_id"] == concept["event"]["id"]
    assert versions["v3"]["lineage"]["reason"] == "performance"
    for version in ("v2", "v3"):
        assert versions[version]["records"]["canary_analysis"]["decision"] == "promote"
    event = concept["event"]
    assert event["type"] == PERFORMANCE_DEGRADED
    data = event["data"]
    assert data["retrain"] is True and data["dataset_drift"] is False and data["estimated"] is False
    perf = data["performance"]
    assert perf["reference"][perf["metric"]] - perf["actual"][perf["metric"]] > perf["threshold"]
    assert summary["duplicates"]["runs_for_event"] == 1
    assert summary["traffic"]["rows_by_version"].get("v2", 0) > 0  # the canary and then v2 served traffic
    report = out / "drift-report.html"
    assert report.stat().st_size > 10_000 and report.read_text()[:2000].lower().count("<html") == 1
    assert summary["latencies_s"]["drift_to_promoted"] > 0


@pytest.mark.timeout(600)
def test_team_regressor_from_outside_the_repository_closes_the_loop(tmp_path: Path) -> None:
    """`driftloop demo --example demand` with the model's code replaced by a team's module in a temporary
    directory (a class driftloop has never seen): v1 → drift event → v2 → canary judged by MAE → promoted."""
    source = (REPO / "driftloop/demo/examples/demand/demand_model.py").read_text()
    team = tmp_path / "team-code"
    team.mkdir()
    (team / "shop_model.py").write_text(source.replace("DemandRegressor", "ShopForecaster"))
    (tmp_path / "driftloop.yaml").write_text(
        "models:\n"
        "  demand:\n"
        "    task: regression\n"
        "    target: units\n"
        "    trainer: shop_model:train\n"
        "    preprocess: shop_model:preprocess\n"
        "    code_dir: team-code\n"
        "    metrics: {primary: mae, gate_margin: 0.5}\n"
        "    monitor: {drift_share: 0.3}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLOOP_")}
    serving: set[int] = set()
    overrides = {
        **embedded_overrides(tmp_path / "data"),
        "serving.port": free_port(taken=serving),
        "serving.feedback_port": free_port(taken=serving),
    }
    for key, value in overrides.items():
        env["DRIFTLOOP_" + key.upper().replace(".", "__")] = str(value)
    proc = subprocess.run(
        [sys.executable, "-m", "driftloop", "demo", "--example", "demand", "--rows", "3000"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=560,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    summary = json.loads((tmp_path / "data" / "demo" / "demand" / "output" / "summary.json").read_text())
    assert summary["ok"] and summary["model"] == "demand" and summary["registry"]["champion"] == "v2"
    versions = {v["version"]: v for v in summary["registry"]["versions"]}
    for version in ("v1", "v2"):
        assert versions[version]["lineage"]["estimator"] == "ShopForecaster"
        assert versions[version]["lineage"]["gate"]["lower_is_better"] is True
    v2 = versions["v2"]
    assert v2["lineage"]["event_id"] == summary["drift_event"]["id"] and v2["lineage"]["reason"] == "drift"
    canary = v2["records"]["canary_analysis"]
    assert canary["decision"] == "promote" and canary["canary"]["mae"] < canary["champion"]["mae"]
    assert "accuracy" not in canary["canary"]  # a regressor is never judged by accuracy
