"""Faults of `driftloop up` / `down` broken on purpose: two `up` on one data_dir, a stale stack.json whose
PIDs now belong to other processes, a data_dir that does not take writes. Each asserts the end state."""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from driftloop.config import load_settings
from driftloop.errors import ConfigError, ServiceError
from driftloop.local.embedded import EmbeddedStack, _identity, _pid_alive
from tests.conftest import embedded_overrides

pytestmark = pytest.mark.integration


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLOOP_")}
    for key, value in embedded_overrides(data_dir).items():
        env["DRIFTLOOP_" + key.upper().replace(".", "__")] = str(value)
    return env


def _driftloop(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "driftloop", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _message_lines(stderr: str) -> list[str]:
    """stderr without log lines (they start with a HH:MM:SS stamp)."""
    return [ln for ln in stderr.splitlines() if ln.strip() and not ln[:2].isdigit()]


def _processes_of(*needles: str) -> list[tuple[int, str]]:
    """Live (non-zombie) processes whose command line contains one of ``needles``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(n in cmd for n in needles) and _pid_alive(int(proc.name)):
            found.append((int(proc.name), cmd))
    return found


@pytest.fixture
def sleepers() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Unrelated processes (each its own process-group leader, like a recorded service was)."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        proc.kill()
        proc.wait()


def _sleeper(sleepers: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
    sleepers.append(proc)
    time.sleep(0.1)  # let it exec, so /proc shows `sleep 60`
    return proc


# --- 1. two `up` at the same instant on one data_dir ------------------------------------------------------


@pytest.mark.timeout(300)
def test_two_concurrent_ups_exactly_one_runs(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = _env(data_dir)
    outs = [tmp_path / f"up{i}.err" for i in range(2)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "driftloop", "up", "--services-only"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=out.open("w"),
        )
        for out in outs
    ]
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and all(p.poll() is None for p in procs):
            time.sleep(0.1)
        exited = [i for i, p in enumerate(procs) if p.poll() is not None]
        assert len(exited) == 1, [o.read_text() for o in outs]
        loser, winner = procs[exited[0]], procs[1 - exited[0]]
        loser_err = outs[exited[0]].read_text()
        lines = _message_lines(loser_err)
        assert loser.returncode != 0
        assert len(lines) == 1, loser_err
        assert "Traceback" not in loser_err
        assert lines[0].startswith("error: an embedded stack already runs from")
        assert str(data_dir.resolve()) in lines[0] and f"pid {winner.pid}" in lines[0], lines[0]

        winner_err = outs[1 - exited[0]]
        while time.monotonic() < deadline + 60 and "running — Ctrl-C" not in winner_err.read_text():
            assert winner.poll() is None, winner_err.read_text()
            time.sleep(0.2)
        state = json.loads((data_dir / "stack.json").read_text())
        assert state["owner_pid"] == winner.pid, "the loser must not touch the winner's state"
        assert sorted(s["name"] for s in state["services"]) == ["kafka", "s3"]

        down = _driftloop("down", env=env, cwd=tmp_path)
        assert down.returncode == 0, down.stderr
        assert re.search(r"stopped: (kafka, s3|s3, kafka)", down.stderr), down.stderr
        assert winner.wait(timeout=60) == 0
        needles = (str(data_dir.resolve()), f"tcp://127.0.0.1:{env['DRIFTLOOP_EMBEDDED__KAFKA_PORT']}")
        deadline = time.monotonic() + 30
        while _processes_of(*needles) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _processes_of(*needles) == []
        assert not (data_dir / "stack.json").exists()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def test_second_stack_on_one_data_dir_fails_at_once_and_touches_nothing(tmp_path: Path) -> None:
    """The lock alone (no services: Kafka and S3 configured elsewhere), in one process."""
    overrides = {
        "data_dir": str(tmp_path / "data"),
        "kafka.bootstrap_servers": "127.0.0.1:1",
        "s3.endpoint_url": "http://127.0.0.1:1",
    }
    settings = load_settings(env={}, overrides=overrides)
    first, second = EmbeddedStack(settings), EmbeddedStack(settings)
    first.start(wait=False)
    try:
        before = (tmp_path / "data" / "stack.json").read_text()
        t0 = time.monotonic()
        with pytest.raises(ServiceError) as err:
            second.start(wait=False)
        assert time.monotonic() - t0 < 2.0
        assert str(tmp_path / "data") in str(err.value) and f"pid {os.getpid()}" in str(err.value)
        second.stop()  # a failed start leaves nothing to stop, and must not remove the winner's state
        assert (tmp_path / "data" / "stack.json").read_text() == before
    finally:
        first.stop()
    assert not (tmp_path / "data" / "stack.json").exists()
    second.start(wait=False)  # the lock is free again
    second.stop()


# --- 2. `down` after a stale stack.json -------------------------------------------------------------------


def test_down_leaves_a_reused_pid_alone(tmp_path: Path, sleepers: list[subprocess.Popen[bytes]]) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    reused, legacy = _sleeper(sleepers), _sleeper(sleepers)
    state = {
        "owner_pid": reused.pid,
        "owner_start_time": 1,
        "owner_cmdline": [sys.executable, "-m", "driftloop", "up"],
        "services": [
            # what a crashed `up` recorded: the broker's identity, but the PID is now `sleep 60`
            {"name": "kafka", "pid": reused.pid, "start_time": 1, "cmdline": ["tansu", "broker"]},
            # a state file written without identities: nothing proves the PID is ours
            {"name": "s3", "pid": legacy.pid},
        ],
    }
    (data_dir / "stack.json").write_text(json.dumps(state))
    down = _driftloop("down", "--data-dir", str(data_dir), env=_env(data_dir), cwd=tmp_path)
    assert down.returncode == 0, down.stderr
    time.sleep(0.5)
    assert reused.poll() is None and legacy.poll() is None, "down signalled a process that is not ours"
    assert f"kafka (pid {reused.pid}) is not ours, left alone" in down.stderr, down.stderr
    assert f"s3 (pid {legacy.pid}) is not ours, left alone" in down.stderr, down.stderr
    assert "stopped" not in down.stderr
    assert not (data_dir / "stack.json").exists(), "the stale state file must go"


def test_down_still_stops_a_recorded_process_that_is_ours(
    tmp_path: Path, sleepers: list[subprocess.Popen[bytes]]
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    proc = _sleeper(sleepers)
    ident = _identity(proc.pid)
    assert ident is not None
    service = {"name": "kafka", "pid": proc.pid, "start_time": ident[0], "cmdline": ident[1]}
    (data_dir / "stack.json").write_text(json.dumps({"owner_pid": 0, "services": [service]}))
    down = _driftloop("down", "--data-dir", str(data_dir), env=_env(data_dir), cwd=tmp_path)
    assert down.returncode == 0, down.stderr
    assert "stopped: kafka" in down.stderr
    assert proc.wait(timeout=10) is not None
    assert not (data_dir / "stack.json").exists()


# --- 3. a data_dir that does not take writes --------------------------------------------------------------


def test_data_dir_beneath_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("not a directory")
    data_dir = tmp_path / "afile" / "sub"
    env = {**_env(data_dir), "DRIFTLOOP_DATA_DIR": str(data_dir)}
    up = _driftloop("up", "--once", "--services-only", env=env, cwd=tmp_path)
    lines = _message_lines(up.stderr)
    assert up.returncode == ConfigError.exit_code, up.stderr
    assert "Traceback" not in up.stderr
    assert lines == [
        f"error: cannot write {data_dir} (Not a directory) — choose a writable data_dir (--set data_dir=...)"
    ], up.stderr
    down = _driftloop("down", env=env, cwd=tmp_path)  # reading a state that cannot exist is no error
    assert down.returncode == 0, down.stderr
    assert "Traceback" not in down.stderr


def _no_space(self: Path, *args: object, **kwargs: object) -> int:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))


def test_full_disk_at_up_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], clean_env: None
) -> None:
    from driftloop.cli import main

    monkeypatch.setattr(Path, "write_bytes", _no_space)
    data_dir = tmp_path / "data"
    with pytest.raises(SystemExit) as exit_:
        main(["--set", f"data_dir={data_dir}", "up", "--once", "--services-only"])
    err = capsys.readouterr().err
    assert exit_.value.code == ConfigError.exit_code
    assert "Traceback" not in err
    lines = _message_lines(err)
    assert len(lines) == 1, err
    assert lines[0].startswith(f"error: cannot write {data_dir}/.write-probe-")
    assert lines[0].endswith("(No space left on device) — choose a writable data_dir (--set data_dir=...)")


def test_full_disk_at_the_state_file_is_one_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    overrides = {
        "data_dir": str(tmp_path / "data"),
        "kafka.bootstrap_servers": "127.0.0.1:1",
        "s3.endpoint_url": "http://127.0.0.1:1",
    }
    stack = EmbeddedStack(load_settings(env={}, overrides=overrides))
    monkeypatch.setattr(Path, "write_text", _no_space)
    with pytest.raises(ConfigError) as err:
        stack.start(wait=False)  # the lock is taken, then writing stack.json fails
    assert str(err.value) == (
        f"cannot write {tmp_path / 'data' / 'stack.json'} (No space left on device) — "
        "choose a writable data_dir (--set data_dir=...)"
    )
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["stack.lock"], "no half-written file"
    monkeypatch.undo()
    stack.start(wait=False)  # the failed start released the lock
    stack.stop()
