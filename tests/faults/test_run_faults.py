"""Runs that are interrupted or killed leave nothing stuck, orphaned or lost.

* ``driftloop runs cancel`` (SIGTERM) and SIGKILL on an executor running a long step: the step process
  goes with it (process group / parent-death signal), the sandbox is removed, the record never stays
  ``Running``; a cancelled run's exit handler still runs.
* A concurrency slot is a lease: a slot held by a run that is gone (its executor was killed, or its lease
  expired) is reclaimed at the next admission; a slot of a run that is alive is not.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

from driftloop.contracts import LEASE_S
from driftloop.local.executor import list_runs, load_run
from driftloop.local.executor.record import INTERRUPTED, process_start
from sensors.admission import Gate, local_liveness
from sensors.policies import MemoryPolicyStore, ModelState, PolicyConfig
from tests.conftest import cli_env, driftloop


def _workflow(token: str) -> dict:
    """A long step (a sleep that carries ``token`` in its command line) and an exit handler that prints
    the workflow status (its ``result``: a pod writes nothing on the host)."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": f"long-{token[:8]}"},
        "spec": {
            "entrypoint": "main",
            "onExit": "bye",
            "templates": [
                {
                    "name": "main",
                    "container": {
                        "image": "python:3.11",
                        "command": [sys.executable, "-c", f"import time; time.sleep(120)  # {token}"],
                    },
                },
                {
                    "name": "bye",
                    "container": {
                        "image": "python:3.11",
                        "command": [
                            sys.executable,
                            "-c",
                            "print('{{workflow.status}}')",
                        ],
                    },
                },
            ],
        },
    }


def _exit_handler_saw(data_dir: Path, name: str) -> str | None:
    """The workflow status the run's exit handler printed (None: it did not run)."""
    run = load_run(data_dir, name)
    return next((n.result for n in run.nodes if n.template_name == "bye" and n.type == "Pod"), None)


def _processes_with(token: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if token in cmdline and "pytest" not in cmdline:
            found.append(int(proc.name))
    return found


def _start(tmp_path: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    token = uuid.uuid4().hex
    wf = tmp_path / "wf.yaml"
    wf.write_text(yaml.safe_dump(_workflow(token)))
    env = cli_env({"data_dir": tmp_path / "data"})
    proc = subprocess.Popen(
        [sys.executable, "-m", "driftloop", "workflow", "run", "--file", str(wf)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    name = f"long-{token[:8]}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _processes_with(token):
        time.sleep(0.2)
    assert _processes_with(token), "the long step never started"
    return proc, token, name


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return driftloop(*args, env=cli_env({"data_dir": tmp_path / "data"}), cwd=tmp_path)


def test_cancel_stops_the_step_runs_the_exit_handler_and_leaves_nothing(tmp_path: Path) -> None:
    proc, token, name = _start(tmp_path)
    out = _cli(tmp_path, "runs", "cancel", name)
    assert out.returncode == 0, out.stderr
    proc.wait(timeout=60)
    assert proc.returncode != 0
    run = load_run(tmp_path / "data", name)
    assert run.phase == "Failed" and run.message == "interrupted"
    assert (
        _exit_handler_saw(tmp_path / "data", name) == "Failed"
    )  # the exit handler ran, with the run's status
    assert _processes_with(token) == []  # no orphan step process
    assert not list(Path("/tmp").glob(f"driftloop-{name}-*"))  # the sandbox is gone
    again = _cli(tmp_path, "runs", "cancel", name)
    assert again.returncode == 2 and "is not running" in again.stderr


_OWNER = """
import sys, threading, time, yaml
from driftloop.config import load_settings
from driftloop.local.runs import run_local
settings = load_settings(env={}, overrides={"data_dir": sys.argv[2]})
doc = yaml.safe_load(open(sys.argv[1]))
t = threading.Thread(target=lambda: print("RESULT", run_local(doc, None, settings).phase, flush=True))
t.start()
t.join()
time.sleep(600)  # the owner (as `driftloop up`) goes on after its run
"""


def test_cancel_of_a_run_in_a_long_lived_process_stops_only_the_run(tmp_path: Path) -> None:
    """`runs cancel` of a run that `driftloop up` runs on a thread (a sensor's or the scheduler's) stops
    the run — its exit handler runs — and never the process that runs it."""
    token = uuid.uuid4().hex
    wf = tmp_path / "wf.yaml"
    wf.write_text(yaml.safe_dump(_workflow(token)))
    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER, str(wf), str(tmp_path / "data")],
        env=cli_env(),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        name = f"long-{token[:8]}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _processes_with(token):
            time.sleep(0.2)
        assert _processes_with(token), "the long step never started"
        out = _cli(tmp_path, "runs", "cancel", name)
        assert out.returncode == 0, out.stderr
        assert owner.stdout is not None
        assert owner.stdout.readline().split() == ["RESULT", "Failed"]
        assert owner.poll() is None  # the owner goes on
        run = load_run(tmp_path / "data", name)
        assert run.phase == "Failed" and run.message == "interrupted"
        assert _exit_handler_saw(tmp_path / "data", name) == "Failed"  # the exit handler ran
        assert _processes_with(token) == []
        assert not (tmp_path / "data" / "runs" / name / "config.yaml").exists()
        assert not list(Path(tempfile.gettempdir()).glob(f"driftloop-{name}-*"))
    finally:
        owner.kill()
        owner.wait()


def test_a_killed_executor_takes_its_steps_along_and_its_record_settles(tmp_path: Path) -> None:
    proc, token, name = _start(tmp_path)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _processes_with(token):
        time.sleep(0.1)
    assert _processes_with(token) == []  # PR_SET_PDEATHSIG: the step died with its executor
    raw = json.loads((tmp_path / "data" / "runs" / name / "run.json").read_text())
    assert raw["phase"] == "Running"  # nobody could write the end of it ...
    run = next(r for r in list_runs(tmp_path / "data") if r.name == name)
    assert run.phase == "Error" and run.message == INTERRUPTED  # ... but it never reads as running
    # its concurrency slot is reclaimed at the next admission
    store = MemoryPolicyStore()
    store.save_state(ModelState("credit", active=[name], leases={name: time.time() + LEASE_S}))
    settings = type("S", (), {"data_dir": tmp_path / "data"})()
    gate = Gate(store, PolicyConfig(cooldown_s=0), local_liveness(settings))
    verdict = gate.evaluate("credit", "", "next-run")
    assert verdict.outcome == "admit", verdict
    assert store.load_state("credit").active == ["next-run"]


def test_leases_free_slots_of_gone_runs_only(tmp_path: Path) -> None:
    now = time.time()
    runs = tmp_path / "runs"
    # a run that is alive: a Running record owned by this very process
    live = {
        "name": "live",
        "uid": "u",
        "phase": "Running",
        "owner_pid": os.getpid(),
        "owner_start": process_start(os.getpid()),
        "nodes": [],
    }
    (runs / "live").mkdir(parents=True)
    (runs / "live" / "run.json").write_text(json.dumps(live))
    settings = type("S", (), {"data_dir": tmp_path})()
    alive = local_liveness(settings)
    assert alive("live") is True and alive("unknown") is None

    store = MemoryPolicyStore()
    gate = Gate(store, PolicyConfig(cooldown_s=0), alive)
    store.save_state(ModelState("m", active=["live"], leases={"live": now + LEASE_S}))
    assert gate.evaluate("m", "", "second").outcome == "skip"  # the slot of a live run holds
    # a run unknown here (e.g. on a cluster) whose lease expired: reclaimed
    store.save_state(ModelState("m", active=["ghost"], leases={"ghost": now - 1}))
    assert gate.evaluate("m", "", "third").outcome == "admit"
    # a run unknown here whose lease still holds: kept
    store.save_state(ModelState("m", active=["remote"], leases={"remote": now + 60}))
    assert gate.evaluate("m", "", "fourth").outcome == "skip"


def test_an_unusable_data_dir_is_one_line_for_a_local_run(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    wf = tmp_path / "wf.yaml"
    wf.write_text(yaml.safe_dump(_workflow(uuid.uuid4().hex)))
    env = cli_env({"data_dir": tmp_path / "afile" / "sub"})  # beneath a regular file: ENOTDIR
    out = driftloop("workflow", "run", "--file", str(wf), env=env, cwd=tmp_path)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: cannot use") and "Not a directory" in lines[0]
