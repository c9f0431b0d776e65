"""`driftloop up` with `kafka.engine: apache`: a real Apache Kafka from the cached jars, a self-check round
trip through it, and `driftloop down` leaving no process (the JVM included)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import apache_overrides, cli_env, driftloop
from tests.integration.test_up_down import _wait_gone

pytestmark = pytest.mark.integration


@pytest.mark.timeout(300)
def test_up_starts_apache_kafka_and_down_stops_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = cli_env(apache_overrides(data_dir))  # with the embedded S3, as a user runs it
    proc = subprocess.Popen(
        [sys.executable, "-m", "driftloop", "up", "--services-only", "--self-check"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            out.append(line)
            if "running — Ctrl-C" in line or "error:" in line:
                break
        log = "".join(out)
        assert "self-check passed: kafka round trip" in log, log
        state = json.loads((data_dir / "stack.json").read_text())
        kafka = next(s for s in state["services"] if s["name"] == "kafka")
        assert "kafka.Kafka" in kafka["cmdline"] and state["kafka_storage"] == "disk"
        assert (data_dir / "kafka" / "log" / "meta.properties").is_file()  # formatted, on disk
        down = driftloop("down", env=env, cwd=tmp_path, timeout=90)
        assert down.returncode == 0 and "kafka" in down.stderr, down.stderr
        assert _wait_gone([s["pid"] for s in state["services"]] + [state["owner_pid"]]) == []
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
