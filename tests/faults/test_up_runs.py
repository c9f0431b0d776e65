"""`driftloop up` stopped or killed while a run it started analyses a canary (real processes, real Kafka/S3).

* ``down`` during the analysis: ``up`` cancels the run — its steps stop, it ends Failed and its exit handler
  rolls the canary back and publishes the outcome — and only then are Kafka and S3 stopped; no process,
  listener or sandbox is left.
* SIGKILL of ``up`` during the analysis, then ``up`` again: the canary is reconciled (rolled back), the
  sensor resumes the run, which deploys and analyses the canary again; a ``reject`` gives its verdict; then
  ``down`` leaves nothing behind, and ``up`` is never signalled by anything but ``down``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from driftloop.config import Settings, load_settings
from driftloop.local.embedded import _pid_alive
from tests.conftest import REPO, cli_env, driftloop, embedded_overrides, free_port

pytestmark = pytest.mark.integration


@dataclass
class Up:
    here: Path
    env: dict[str, str]
    settings: Settings
    procs: list[subprocess.Popen[bytes]]

    @property
    def data(self) -> Path:
        return self.here / "data"

    def start(self) -> subprocess.Popen[bytes]:
        n = len(self.procs) + 1
        log = self.here / f"up{n}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "driftloop", "up"],
                env=self.env,
                cwd=self.here,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # as from a shell: its own process group
            )
        self.procs.append(proc)
        _until(lambda: "running — Ctrl-C" in log.read_text() or proc.poll() is not None, 120)
        assert proc.poll() is None, log.read_text()
        return proc

    def log(self, n: int) -> str:
        return (self.here / f"up{n}.log").read_text()

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return driftloop(*args, env=self.env, cwd=self.here, timeout=timeout)


def _until(cond, timeout_s: float, every: float = 0.5) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(every)
    return bool(cond())


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _processes_under(path: Path) -> list[str]:
    """Processes whose command line or working directory is under ``path``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if (str(path) in cmd or cwd.startswith(str(path))) and "pytest" not in cmd:
            found.append(f"{proc.name} {cmd[:120]}")
    return found


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    out = driftloop("init", "demand", "--task", "regression", env=cli_env(), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    overrides = {
        **embedded_overrides(tmp_path / "data"),
        "embedded.kafka_storage": "memory",
        "serving.port": free_port(),
        "sensor.cooldown_s": 0,
    }
    env = cli_env(overrides)
    env["PYTHONPATH"] = str(REPO)
    settings = load_settings(env={}, overrides=overrides)
    stack = Up(tmp_path, env, settings, [])
    try:
        yield stack
    finally:
        for proc in stack.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _run_in_analysis(up: Up) -> str:
    """v1 as champion (a manual retrain), then a drift event: the sensor's run deploys v2 as canary and
    analyses it. Returns the run's name once its analyze-canary step runs."""
    from driftloop.kafka import Publisher

    out = up.cli("retrain", "demand")
    assert out.returncode == 0, out.stderr[-2000:]
    body = json.loads((REPO / "tests" / "unit" / "sensor_cases" / "drift_event.json").read_text())
    body.update(id=str(uuid.uuid4()), subject="demand", source="driftloop/monitor/demand")
    body["data"]["model"] = "demand"
    with Publisher(up.settings) as pub:
        pub.publish(up.settings.topics.drift_events, body, key="demand", wait=True)
    runs = up.data / "runs"
    assert _until(lambda: list(runs.glob("retrain-demand-*/logs/*analyze-canary*.log")), 300), up.log(1)
    return next(runs.glob("retrain-demand-*/logs/*analyze-canary*.log")).parent.parent.name


def _record(up: Up, name: str) -> dict:
    return json.loads((up.data / "runs" / name / "run.json").read_text())


def _left_behind(up: Up, name: str) -> list[str]:
    ports = [up.settings.serving.port, up.settings.embedded.kafka_port, up.settings.embedded.s3_port]
    left = [f"port {p} listening" for p in ports if _listening(p)]
    left += _processes_under(up.here)
    left += [str(p) for p in Path(tempfile.gettempdir()).glob(f"driftloop-{name}-*")]
    left += [str(p) for p in up.data.glob("runs/*/config.yaml")]
    return left


@pytest.mark.timeout(600)
def test_down_during_a_canary_analysis_runs_the_exit_handler_before_the_services_stop(up: Up) -> None:
    first = up.start()
    name = _run_in_analysis(up)
    down = up.cli("down", timeout=400)
    assert down.returncode == 0, down.stderr
    assert first.wait(timeout=30) == 0
    log = up.log(1)
    record = _record(up, name)
    assert record["phase"] == "Failed" and record["message"] == "interrupted", record["message"]
    exit_nodes = {n["displayName"]: n["phase"] for n in record["nodes"] if ".onExit" in n["name"]}
    assert exit_nodes and all(p == "Succeeded" for p in exit_nodes.values()), exit_nodes
    assert "demand: canary v2 retired" in log, log[-3000:]  # the exit handler rolled the canary back
    assert "unreachable" not in log, log[-3000:]  # nothing ran on after Kafka/S3 stopped
    assert log.index(f"run {name} Failed") < log.index("component server stopped")
    assert _until(lambda: not _left_behind(up, name), 15), _left_behind(up, name)


@pytest.mark.timeout(900)
def test_a_killed_up_restarted_during_a_canary_analysis_ends_with_one_verdict(up: Up) -> None:
    from driftloop.registry import Registry
    from driftloop.s3 import S3Store

    first = up.start()
    name = _run_in_analysis(up)
    first.kill()  # SIGKILL: no chance to clean up
    first.wait()
    second = up.start()
    log2 = lambda: up.log(2)  # noqa: E731
    assert "reconciled demand: canary v2 rolled back" in log2()
    assert _until(lambda: "serving v2 as canary" in log2(), 300), log2()[-3000:]
    out = up.cli("reject", "demand", "--reason", "fault test")
    assert out.returncode == 0, out.stderr
    assert _until(lambda: _record(up, name)["phase"] != "Running", 300), log2()[-3000:]
    registry = Registry(S3Store(up.settings))
    v2 = registry.get("demand", "v2")
    assert "reconciled" in v2.records
    assert registry.aliases("demand") == {"champion": "v1", "canary": None}
    down = up.cli("down", timeout=400)
    assert down.returncode == 0, down.stderr
    assert second.wait(timeout=30) == 0
    assert log2().count("received SIGTERM") == 1  # down's, and nothing else's
    assert "unreachable" not in log2()
    assert _until(lambda: not _left_behind(up, name), 15), _left_behind(up, name)
    assert not _pid_alive(second.pid)
