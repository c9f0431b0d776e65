"""``suspend`` templates: wait for a duration, or until `driftloop workflow resume` / `stop` (from
another process, through the run's record directory)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from driftloop.config import load_settings
from driftloop.local.executor import load_run, run_workflow
from tests.conftest import cli_env, driftloop


def _wf(name: str, suspend: dict[str, Any], exit_handler: bool = False) -> dict[str, Any]:
    templates: list[dict[str, Any]] = [
        {
            "name": "main",
            "steps": [
                [{"name": "approve", "template": "gate"}],
                [
                    {
                        "name": "after",
                        "template": "echo",
                        "arguments": {
                            "parameters": [{"name": "v", "value": "{{steps.approve.outputs.parameters.who}}"}]
                        },
                    }
                ],
            ],
        },
        {
            "name": "gate",
            "suspend": suspend,
            "outputs": {"parameters": [{"name": "who", "valueFrom": {"default": "nobody"}}]},
        },
        {
            "name": "echo",
            "inputs": {"parameters": [{"name": "v"}]},
            "container": {
                "image": "x",
                "command": [sys.executable, "-c", "print('approved by {{inputs.parameters.v}}')"],
            },
        },
    ]
    spec: dict[str, Any] = {"entrypoint": "main", "templates": templates}
    if exit_handler:  # prints the workflow's status: its node's result
        spec["onExit"] = "bye"
        templates.append(
            {
                "name": "bye",
                "container": {
                    "image": "x",
                    "command": [
                        sys.executable,
                        "-c",
                        "print('{{workflow.status}}')",
                    ],
                },
            }
        )
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": name},
        "spec": spec,
    }


def test_a_duration_suspends_then_goes_on_with_the_default(tmp_path: Path) -> None:
    settings = load_settings(env={}, overrides={"data_dir": str(tmp_path / "data")})
    t0 = time.monotonic()
    result = run_workflow(_wf("wait", {"duration": "1"}), None, settings)
    assert result.phase == "Succeeded" and time.monotonic() - t0 >= 1.0
    gate = result.node("approve")
    assert gate.type == "Suspend" and gate.phase == "Succeeded"
    assert result.node("after").result == "approved by nobody"


def _start(tmp_path: Path, name: str, exit_handler: bool = False) -> subprocess.Popen[bytes]:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(_wf(name, {}, exit_handler)))
    proc = subprocess.Popen(
        [sys.executable, "-m", "driftloop", "workflow", "run", "--file", str(path)],
        env=cli_env({"data_dir": tmp_path / "data"}),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if any(
                n.type == "Suspend" and n.phase == "Running" for n in load_run(tmp_path / "data", name).nodes
            ):
                break
        except Exception:
            pass
        time.sleep(0.2)
    return proc


def test_resume_from_another_process_supplies_the_output(tmp_path: Path) -> None:
    proc = _start(tmp_path, "approval")
    out = driftloop(
        "workflow",
        "resume",
        "approval",
        "-p",
        "who=alice",
        env=cli_env({"data_dir": tmp_path / "data"}),
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert proc.wait(timeout=60) == 0
    run = load_run(tmp_path / "data", "approval")
    assert run.phase == "Succeeded" and run.node("after").result == "approved by alice"


def test_stop_fails_the_run_and_runs_its_exit_handler(tmp_path: Path) -> None:
    proc = _start(tmp_path, "halted", exit_handler=True)
    out = driftloop("workflow", "stop", "halted", env=cli_env({"data_dir": tmp_path / "data"}), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert proc.wait(timeout=60) == 1
    run = load_run(tmp_path / "data", "halted")
    assert run.phase == "Failed" and run.node("approve").message == "Stopped with strategy 'Stop'"
    assert run.node("halted.onExit").result == "Failed"  # the exit handler ran, with the status
    again = driftloop(
        "workflow", "resume", "halted", env=cli_env({"data_dir": tmp_path / "data"}), cwd=tmp_path
    )
    assert again.returncode == 2 and "is not running" in again.stderr
