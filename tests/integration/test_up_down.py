"""`driftloop up` / `down` / Ctrl-C as a user runs them: real processes, no orphans left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from driftloop.local.embedded import _pid_alive
from tests.conftest import embedded_overrides

pytestmark = pytest.mark.integration


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLOOP_")}
    for key, value in embedded_overrides(data_dir).items():
        env["DRIFTLOOP_" + key.upper().replace(".", "__")] = str(value)
    return env


def _start_up(tmp_path: Path) -> tuple[subprocess.Popen[str], dict, float]:
    data_dir = tmp_path / "data"
    env = _env(data_dir)
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "driftloop", "up", "--services-only"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    state_file = data_dir / "stack.json"
    out: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        out.append(line)
        if "running — Ctrl-C" in line:
            break
    ready_s = time.monotonic() - t0
    assert state_file.exists(), "".join(out)
    return proc, json.loads(state_file.read_text()) | {"env": env, "log": out}, ready_s


def _status(state: dict, tmp_path: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "driftloop", "status", "--json"],
        env=state["env"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _wait_gone(pids: list[int], timeout_s: float = 30) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        alive = [p for p in pids if _pid_alive(p)]
        if not alive:
            return []
        time.sleep(0.2)
    return [p for p in pids if _pid_alive(p)]


@pytest.mark.timeout(180)
def test_up_then_down_leaves_no_process(tmp_path: Path) -> None:
    proc, state, ready_s = _start_up(tmp_path)
    try:
        assert ready_s < 30, f"services took {ready_s:.1f}s"
        status = _status(state, tmp_path)
        assert status["services"]["kafka"]["reachable"] and status["services"]["s3"]["reachable"]
        assert status["services"]["kafka"]["alive"] and status["services"]["s3"]["alive"]
        pids = [s["pid"] for s in state["services"]] + [state["owner_pid"]]
        sockets = [Path(p) for s in state["services"] for p in s.get("leftovers", [])]
        assert sockets and all(p.exists() for p in sockets)  # SeaweedFS's, in /tmp
        down = subprocess.run(
            [sys.executable, "-m", "driftloop", "down"],
            env=state["env"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert down.returncode == 0, down.stderr
        assert "stopped" in down.stderr
        assert _wait_gone(pids) == []
        assert proc.wait(timeout=30) == 0
        assert _status(state, tmp_path)["services"]["kafka"]["reachable"] is False
        assert [p for p in sockets if p.exists()] == []  # weed leaves them; the stop removes them
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.timeout(180)
def test_ctrl_c_stops_everything(tmp_path: Path) -> None:
    proc, state, _ = _start_up(tmp_path)
    try:
        pids = [s["pid"] for s in state["services"]]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        assert _wait_gone(pids) == []
        assert not (tmp_path / "data" / "stack.json").exists()
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.timeout(180)
def test_services_die_with_a_killed_supervisor(tmp_path: Path) -> None:
    """Even SIGKILL of `driftloop up` (no chance to clean up) leaves no broker or weed behind."""
    proc, state, _ = _start_up(tmp_path)
    pids = [s["pid"] for s in state["services"]]
    proc.kill()
    proc.wait(timeout=30)
    assert _wait_gone(pids) == []
