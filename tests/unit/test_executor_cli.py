"""`driftloop workflow run` and `driftloop runs list|show` through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from driftloop.cli import app
from driftloop.errors import UsageError

CASES = Path(__file__).parent / "executor_cases"


def test_workflow_run_json_exit_codes_and_runs(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DRIFTLOOP_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    ok = runner.invoke(
        app,
        ["workflow", "run", "--file", str(CASES / "gate-when.yaml"), "-p", "release=yes", "--json"],
    )
    assert ok.exit_code == 0, ok.output
    body = json.loads(ok.stdout[ok.stdout.index("{") :])
    assert body["phase"] == "Succeeded"
    assert {"name", "displayName", "phase", "outputs"} <= set(body["nodes"][0])
    hello = next(n for n in body["nodes"] if n["displayName"] == "announce")
    assert hello["outputs"] == {"result": "released", "parameters": {}}
    failed = runner.invoke(app, ["workflow", "run", "--file", str(CASES / "exit-report.yaml")])
    assert failed.exit_code == 1
    listing = runner.invoke(app, ["runs", "list", "--json"])
    assert listing.exit_code == 0
    names = [r["name"] for r in json.loads(listing.stdout)]
    assert len(names) == 2 and names[1] == body["name"]
    shown = runner.invoke(app, ["runs", "show", body["name"], "--json"])
    assert json.loads(shown.stdout)["phase"] == "Succeeded"
    missing = runner.invoke(app, ["runs", "show", "nope"])
    assert isinstance(missing.exception, UsageError)  # main() maps it to exit 2


def test_workflow_run_by_template_name(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DRIFTLOOP_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "t.yaml").write_text(
        "kind: WorkflowTemplate\nmetadata: {name: hi}\nspec:\n  entrypoint: main\n"
        "  templates:\n  - name: main\n    container: {image: x, command: [echo, hi]}\n"
    )
    result = CliRunner().invoke(
        app, ["workflow", "run", "hi", "--templates-dir", str(tmp_path / "m"), "--json"]
    )
    assert result.exit_code == 0, result.output
    both = CliRunner().invoke(app, ["workflow", "run", "hi", "--file", "x.yaml"])
    assert isinstance(both.exception, UsageError)
