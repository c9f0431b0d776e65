"""The CLI's contract for user errors: one line, the documented exit code, no traceback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import cli_env, embedded_overrides, free_port


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLOOP_")}
    return subprocess.run(
        [sys.executable, "-m", "driftloop", *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        cwd=cwd,
        timeout=120,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert proc.returncode == code, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln[:2].isdigit()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    assert " — " in lines[0], "the message must say what to change"
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0]


def test_config_show_masks_secrets(tmp_path: Path) -> None:
    proc = run("config", "show", "--json", env={"DRIFTLOOP_KAFKA__SASL_PASSWORD": "s3cr3t"}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "s3cr3t" not in proc.stdout
    assert '"sasl_password": "****"' in proc.stdout


def test_unknown_config_key_env(tmp_path: Path) -> None:
    proc = run("config", "show", env={"DRIFTLOOP_KAFKA__BOOTSTRAP": "x"}, cwd=tmp_path)
    assert_one_line_error(proc, 2, "DRIFTLOOP_KAFKA__BOOTSTRAP")


def test_unknown_config_key_file(tmp_path: Path) -> None:
    (tmp_path / "driftloop.yaml").write_text("s3:\n  buckett: x\n")
    proc = run("config", "show", cwd=tmp_path)
    assert_one_line_error(proc, 2, "s3.buckett")


def test_bad_set_flag(tmp_path: Path) -> None:
    proc = run("--set", "novalue", "config", "show", cwd=tmp_path)
    assert_one_line_error(proc, 2, "--set")


def test_debug_shows_traceback(tmp_path: Path) -> None:
    proc = run("--debug", "config", "show", env={"DRIFTLOOP_NOPE": "1"}, cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr


def test_port_in_use_names_port_and_setting(tmp_path: Path) -> None:
    # the other services on free ports of their own: the defaults may be taken by a user's `driftloop up`
    others = cli_env(embedded_overrides(tmp_path / "d"))
    env = {k: v for k, v in others.items() if k.startswith("DRIFTLOOP_")}
    port = free_port(taken={int(v) for k, v in env.items() if k.endswith("_PORT")})
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        proc = run(
            "up", "--once", "--kafka-port", str(port), "--data-dir", str(tmp_path / "d"),
            env={**env, "DRIFTLOOP_MODELS": "credit"}, cwd=tmp_path,
        )  # fmt: skip
    assert_one_line_error(proc, 2, f"port {port}", "embedded.kafka_port")


@pytest.mark.timeout(120)
def test_unreachable_bootstrap_server(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    env = {
        "DRIFTLOOP_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{port}",
        "DRIFTLOOP_S3__ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "DRIFTLOOP_EMBEDDED__START_TIMEOUT_S": "3",
        "DRIFTLOOP_MODELS": "credit",
    }
    proc = run("up", "--once", "--data-dir", str(tmp_path / "d"), env=env, cwd=tmp_path)
    assert_one_line_error(proc, 1, f"127.0.0.1:{port}", "unreachable", "kafka.bootstrap_servers")


def test_usage_error_exit_code(tmp_path: Path) -> None:
    proc = run("config", "show", "--no-such-flag", cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr


def test_help_is_fast_and_lists_commands(tmp_path: Path) -> None:
    proc = run("--help", cwd=tmp_path)
    assert proc.returncode == 0
    for cmd in ("up", "down", "status", "config"):
        assert cmd in proc.stdout


def test_up_without_configuration_says_what_to_do_and_starts_nothing(tmp_path: Path) -> None:
    started = time.monotonic()
    proc = run("up", cwd=tmp_path)
    took = time.monotonic() - started
    assert_one_line_error(proc, 2, "no model is configured", "driftloop init NAME", "driftloop demo")
    assert list(tmp_path.iterdir()) == []  # no data directory, no state file: nothing was started
    assert took < 30  # a refusal, not a start-up that times out (the figure: bench_cli.py)


def test_status_with_nothing_running_answers_without_waiting_for_clients(tmp_path: Path) -> None:
    env = {
        "DRIFTLOOP_EMBEDDED__KAFKA_PORT": str(free_port()),  # nothing listens on either port
        "DRIFTLOOP_EMBEDDED__S3_PORT": str(free_port(True)),
    }
    started = time.monotonic()
    proc = run("status", "--json", env=env, cwd=tmp_path)
    took = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert (
        report["services"]["kafka"]["reachable"] is False and report["services"]["s3"]["reachable"] is False
    )
    assert report["models"] is None
    assert took < 15  # it took 33 s when each client waited out its own retries (the figure: bench_cli.py)
