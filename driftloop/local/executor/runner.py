"""Run one leaf node (a ``script`` or ``container`` template) as a host process.

How a pod is mapped onto this machine:

* ``container``: ``command + args`` run on the host; the image is ignored (the engine says so once).
* ``script``: ``source`` is written to a file and run as ``command + args + [file]``, as Argo does with
  ``/argo/staging/script``.
* Hera runner steps (args ``-m hera.workflows.runner``) run through :mod:`driftloop.local.executor.hera_shim`,
  which calls Hera's runner with its absolute paths mapped into the sandbox.
* ``python`` / ``python3`` run with this interpreter (``sys.executable``), so the project's code and Hera are
  importable and start-up is fast.
* Absolute paths a template declares (output parameter ``valueFrom.path``, artifact ``path``, Hera's
  outputs directory) are **rewritten** to ``<sandbox>/<path>`` in the command, args, source and env before
  the process starts, so two nodes never share ``/tmp/out.txt``; so are their parent directories outside the
  host's system directories (``/mnt/out`` for ``/mnt/out/part.json``: a step may create it). The process
  starts in the sandbox's ``/`` (or its ``workingDir``). ``DRIFTLOOP_SANDBOX`` holds the sandbox root. A path
  a step computes at run time (not written literally in the template) is not rewritten.
* ``activeDeadlineSeconds``: the process runs in its own session; on timeout the whole process group is
  killed.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ProcessOutcome", "is_hera_runner", "run_process", "sandbox_path"]

HERA_OUTPUTS_DEFAULT = "/tmp/hera-outputs"
_PY = {"python", "python3", sys.executable}


@dataclass
class ProcessOutcome:
    """How a process ended."""

    exit_code: int | None
    stdout: str
    timed_out: bool
    duration: float
    error: str | None = None  # the process could not be started


def sandbox_path(root: Path, path: str) -> Path:
    """Where the absolute pod path ``path`` lives for this node."""
    return root / path.lstrip("/")


def is_hera_runner(args: Sequence[str]) -> bool:
    """Whether ``args`` start Hera's runner module (``-m hera.workflows.runner``)."""
    return any(a == "-m" and b == "hera.workflows.runner" for a, b in itertools.pairwise(args))


def _rewrite(value: str, mapping: Sequence[tuple[str, str]]) -> str:
    """Replace each declared path in one pass, only where it is a whole path (or a prefix of one)."""
    if not mapping:
        return value
    table = dict(mapping)
    pattern = re.compile(r"(?<![\w./-])(" + "|".join(re.escape(old) for old, _ in mapping) + r")(?![\w.-])")
    return pattern.sub(lambda m: table[m.group(1)], value)


#: Top-level directories of the host that a pod path's parent is never rewritten for: the host's own
#: tools and scratch live there (``/tmp`` is shared scratch, see the module docstring).
_HOST_TOP = frozenset(
    {"bin", "boot", "dev", "etc", "home", "lib", "lib32", "lib64", "libx32", "media", "nix", "opt"}
    | {"proc", "root", "run", "sbin", "snap", "srv", "sys", "tmp", "usr", "var"}
)


def _pod_parents(paths: Sequence[str]) -> set[str]:
    """The parents of declared pod paths (``/mnt/out`` for ``/mnt/out/part.json``), so a step that makes or
    lists the directory of its output (``os.mkdir("/mnt/out")``) does it in the sandbox, not on the host —
    except under the host's system directories (:data:`_HOST_TOP`)."""
    out: set[str] = set()
    for p in paths:
        parts = [x for x in p.split("/") if x]
        if not p.startswith("/") or len(parts) < 2 or parts[0] in _HOST_TOP:
            continue
        out.update("/" + "/".join(parts[:i]) for i in range(1, len(parts)))
    return out


def run_process(
    kind: str,
    spec: Mapping[str, Any],
    declared_paths: Sequence[str],
    sandbox: Path,
    log_file: Path,
    timeout: float | None,
    env_extra: Mapping[str, str],
    mounts: Sequence[tuple[str, str]] = (),
    cancelled: Callable[[], bool] | None = None,
) -> ProcessOutcome:
    """Run a rendered ``script``/``container`` spec; stdout and stderr go to ``log_file``. ``mounts`` maps
    volume mount paths to their emulated directories (:mod:`.volumes`). ``cancelled`` is polled while the
    process runs: once it says so the process group is stopped and :class:`.cancel.RunCancelled` raised."""
    sandbox.mkdir(parents=True, exist_ok=True)
    command = [str(c) for c in spec.get("command") or []]
    args = [str(a) for a in spec.get("args") or []]
    env_spec = {
        str(e["name"]): str(e.get("value", "")) for e in spec.get("env") or [] if "valueFrom" not in e
    }
    hera = is_hera_runner(args)
    paths = list(declared_paths)
    if hera:
        paths.append(env_spec.get("hera__outputs_directory", HERA_OUTPUTS_DEFAULT))
    from driftloop.local.executor.volumes import local_path

    paths = [p.rstrip("/") or "/" for p in paths]  # a declared directory may be written `/tmp/out/`
    pod_paths = {p for p in paths if p.startswith("/") and p != "/"} | _pod_parents(paths)
    pairs = {(p, str(local_path(p, sandbox, mounts))) for p in pod_paths} | set(mounts)
    mapping = sorted(pairs, key=lambda m: -len(m[0]))
    command = [_rewrite(c, mapping) for c in command]
    args = [_rewrite(a, mapping) for a in args]
    env = dict(os.environ)
    if "DRIFTLOOP_CONFIG" in env_extra:
        # The exported settings file is the whole configuration of the run (flags included): inherited
        # DRIFTLOOP_* variables would override it, so they are not passed on.
        env = {k: v for k, v in env.items() if not k.startswith("DRIFTLOOP_")}
    env.update({k: _rewrite(v, mapping) for k, v in env_spec.items()})
    env.update(env_extra)
    env["DRIFTLOOP_SANDBOX"] = str(sandbox)
    env["DRIFTLOOP_OUTPUTS_DIR"] = str(sandbox)
    if hera:
        env.setdefault("hera__outputs_directory", str(sandbox_path(sandbox, HERA_OUTPUTS_DEFAULT)))
        i = next(
            i
            for i, (a, b) in enumerate(itertools.pairwise(args))
            if a == "-m" and b == "hera.workflows.runner"
        )
        args[i + 1] = "driftloop.local.executor.hera_shim"
        cwd = os.getcwd()
        env["PYTHONPATH"] = os.pathsep.join(p for p in (cwd, env.get("PYTHONPATH", "")) if p)
    if kind == "script":
        script = sandbox / ".driftloop-script"
        script.write_text(_rewrite(str(spec.get("source") or ""), mapping))
        script.chmod(0o755)  # as Argo writes it: a command may exec the file itself (a shebang script)
        args = [*args, str(script)]
    argv = [*command, *args]
    if not argv:
        return ProcessOutcome(
            None,
            "",
            False,
            0.0,
            error="the container has no command; the image entrypoint cannot run locally",
        )
    if argv[0] in _PY:
        argv[0] = sys.executable
    # An image has /tmp and /mnt (not the directories of a step's outputs: the step makes those, as on Argo).
    for base in ("/tmp", "/mnt"):
        sandbox_path(sandbox, base).mkdir(parents=True, exist_ok=True)
    # A container starts in its workingDir, else its image's (``/`` for most): the sandbox's root here, so
    # a relative write lands in the pod's filesystem, never in the directory driftloop was started from.
    cwd_run = str(sandbox_path(sandbox, str(spec.get("workingDir") or "/")))
    Path(cwd_run).mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    out_path = log_file.with_suffix(".stdout")
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(out_path, "wb") as out, open(log_file, "ab") as err:
        try:
            proc = subprocess.Popen(
                argv,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=cwd_run,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        except OSError as exc:
            return ProcessOutcome(None, "", False, 0.0, error=f"cannot start {argv[0]!r}: {exc.strerror}")
        timed_out = False
        try:
            code = _wait(proc, timeout, cancelled)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_tree(proc)
            code = proc.returncode
        except BaseException:  # Ctrl-C / SIGTERM / a cancel: the step goes with it, never orphaned
            _kill_tree(proc)
            raise
    stdout = out_path.read_text(errors="replace")
    with open(log_file, "a") as log:
        log.write(stdout)
    out_path.unlink()
    if code is not None and code < 0:  # killed by signal N: a container runtime reports 128 + N (137)
        code = 128 - code
    return ProcessOutcome(code, stdout, timed_out, time.monotonic() - start)


def _wait(
    proc: subprocess.Popen[bytes], timeout: float | None, cancelled: Callable[[], bool] | None
) -> int | None:
    """``proc.wait(timeout)``, checking ``cancelled`` every 0.2 s."""
    if cancelled is None:
        return proc.wait(timeout=timeout)
    from driftloop.local.executor.cancel import RunCancelled

    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        step = 0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic()))
        try:
            return proc.wait(timeout=step)
        except subprocess.TimeoutExpired:
            if cancelled():
                raise RunCancelled from None
            if deadline is not None and time.monotonic() >= deadline:
                raise


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the executor dies (PR_SET_PDEATHSIG), so a step process
    never outlives a killed executor (it runs in its own session, so Ctrl-C does not reach it)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1


def _kill_tree(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=2)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
