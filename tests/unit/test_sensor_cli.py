"""`driftloop sensor test`: exit 0 would trigger, 3 filtered out, 2 malformed event or spec."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from driftloop.cli import app as root
from driftloop.cli import sensor
from tests.conftest import REPO

CASE = Path(__file__).parent / "sensor_cases" / "drift_event.json"
SENSOR = REPO / "manifests" / "base" / "generated" / "sensors" / "sensor.yaml"


@pytest.fixture
def cli() -> typer.Typer:
    if not any(g.name == "sensor" for g in root.registered_groups):
        root.add_typer(sensor.app, name="sensor")
    return root


def run(cli: typer.Typer, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["sensor", "test", *args])
    return result.exit_code, result.output


def test_triggering_event_exits_0_with_workflow(cli: typer.Typer, clean_env: None) -> None:
    code, out = run(cli, "--event", str(CASE), "--sensor", str(SENSOR), "--json")
    assert code == 0, out
    doc = json.loads(out)
    assert doc["triggered"] and all(f["passed"] for f in doc["filters"])
    assert doc["workflow"]["metadata"]["name"].startswith("retrain-credit-")


def test_filtered_event_exits_3(cli: typer.Typer, tmp_path: Path, clean_env: None) -> None:
    body = json.loads(CASE.read_text())
    body["data"]["model"] = "iris"
    (tmp_path / "e.json").write_text(json.dumps(body))
    code, out = run(cli, "--event", str(tmp_path / "e.json"), "--sensor", str(SENSOR))
    assert code == 3
    assert "FAIL data body.data.model" in out and "filtered out" in out


@pytest.mark.parametrize("payload", ["not json", "[1]", '{"specversion": "1.0"}'])
def test_malformed_event_exits_2(cli: typer.Typer, tmp_path: Path, payload: str, clean_env: None) -> None:
    (tmp_path / "e.json").write_text(payload)
    with pytest.raises(SystemExit) as exc:
        _main(["sensor", "test", "--event", str(tmp_path / "e.json"), "--sensor", str(SENSOR)])
    assert exc.value.code == 2


def test_malformed_spec_exits_2(cli: typer.Typer, tmp_path: Path, clean_env: None) -> None:
    (tmp_path / "s.yaml").write_text("kind: Sensor\nspec: {dependencies: [], triggers: []}\n")
    with pytest.raises(SystemExit) as exc:
        _main(["sensor", "test", "--event", str(CASE), "--sensor", str(tmp_path / "s.yaml")])
    assert exc.value.code == 2


def _main(argv: list[str]) -> None:
    from driftloop.cli import main

    main(argv)
