"""`driftloop retrain` as a user runs it (a subprocess in a project from `driftloop init`), on the real
embedded Kafka + S3: what the run did, in its exit code, its last line and ``--json``.

1. A first run: ``first-version``, exit 0. A worse challenger: ``rejected-by-gate``, exit 3, with the metric
   and the margin.
2. An equal challenger passes the gate and goes to a canary — and no model server runs: the command says so
   within 10 s of the canary step starting, with what to do; ``driftloop reject`` ends the window at once:
   ``rolled-back``, exit 3.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import cli_env, driftloop

pytestmark = pytest.mark.integration


@pytest.fixture
def project(stack, bucket, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    work = tmp_path / "project"
    work.mkdir()
    env = cli_env({**stack.overrides, "s3.bucket": bucket, "topics.outcomes": f"outcomes-{bucket}"})
    env.pop("DRIFTLOOP_DATA_DIR")  # the default: ./.driftloop of the project
    out = driftloop("init", "demand", "--task", "regression", "--rows", "600", env=env, cwd=work)
    assert out.returncode == 0, out.stderr
    return work, env


def test_first_version_then_a_gate_rejection_exits_3_with_metric_and_margin(project) -> None:
    work, env = project
    first = driftloop("retrain", "demand", "--json", env=env, cwd=work, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    assert json.loads(first.stdout)["outcome"] == "first-version"
    worse = driftloop(
        "retrain", "demand", "-p", 'params={"max_iter": 2}', "--json", env=env, cwd=work, timeout=300
    )
    assert worse.returncode == 3, worse.stderr[-3000:]
    report = json.loads(worse.stdout)
    assert report["phase"] == "Succeeded" and report["outcome"] == "rejected-by-gate"
    assert report["gate"]["metric"] == "mae" and report["gate"]["margin"] == 0.02
    assert report["champion_before"] == report["champion_after"] == "v1"
    assert report["reason"].startswith("gate rejected: mae ")
    assert "rejected-by-gate" in worse.stderr.splitlines()[-1]


def test_a_canary_without_a_model_server_says_so_at_once(project) -> None:
    work, env = project
    assert driftloop("retrain", "demand", env=env, cwd=work, timeout=300).returncode == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "driftloop", "retrain", "demand", "--json"],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[tuple[float, str]] = []
    stdout: list[str] = []
    reader = threading.Thread(target=lambda: stdout.append(proc.stdout.read() if proc.stdout else ""))
    reader.start()
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            line = proc.stderr.readline() if proc.stderr else ""
            if not line:
                break
            seen.append((time.monotonic(), line))
            if "no model server is serving demand" in line:
                break
        started = [t for t, line in seen if line.startswith("Running") and ".analyze-canary" in line]
        said = [(t, line) for t, line in seen if "no model server is serving demand" in line]
        assert started and said, "".join(line for _, line in seen)[-3000:]
        assert said[0][0] - started[0] < 10.0
        assert "driftloop approve demand" in said[0][1] and "driftloop up" in said[0][1]
        rejected = driftloop("reject", "demand", "--reason", "no traffic today", env=env, cwd=work)
        assert rejected.returncode == 0, rejected.stderr
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        reader.join(timeout=10)
    assert proc.returncode == 3
    report = json.loads(stdout[0])
    assert report["outcome"] == "rolled-back" and "no traffic today" in report["reason"]
    assert report["champion_after"] == "v1"
