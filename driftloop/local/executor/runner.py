"""Run one leaf node (a ``script`` or ``container`` template) as a process in its own mount namespace.

How a pod is mapped onto this machine:

* ``container``: ``command + args`` run on this host's programs; the image is ignored (the engine says so
  once).
* ``script``: ``source`` is written to ``/argo/staging/script`` and run as ``command + args + [file]``, as
  Argo does.
* ``python`` / ``python3`` run with this interpreter (``sys.executable``), so the project's code and Hera are
  importable and start-up is fast; Hera runner steps (``-m hera.workflows.runner``) run unchanged.
* The process sees the filesystem :mod:`.isolation` builds: the pod's sandbox directory is its ``/`` (its
  ``/tmp``, declared output and input paths, volume mounts and working directory are private), the host's
  other directories are read-only. So a command sees exactly the paths Argo would give it, and nothing it
  writes reaches the host. Where isolation is unavailable the engine refuses every pod that declares a path
  or mounts a volume (:func:`.isolation.unavailable`); the others run in the sandbox directory on the host.
* ``activeDeadlineSeconds``: the process runs in its own session; on timeout the whole process group is
  killed.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftloop.local.executor import isolation

__all__ = ["SCRIPT", "ProcessOutcome", "host_paths", "is_hera_runner", "run_process"]

#: Where a ``script`` template's source is in the pod, as Argo stages it.
SCRIPT = "/argo/staging/script"
_PY = {"python", "python3", sys.executable}


@dataclass
class ProcessOutcome:
    """How a process ended."""

    exit_code: int | None
    stdout: str
    timed_out: bool
    duration: float
    error: str | None = None  # the process could not be started


def is_hera_runner(args: Sequence[str]) -> bool:
    """Whether ``args`` start Hera's runner module (``-m hera.workflows.runner``)."""
    return any(a == "-m" and b == "hera.workflows.runner" for a, b in itertools.pairwise(args))


def host_paths() -> list[Path]:
    """Host paths a step reads at their own path even where the pod's ``/tmp`` would hide them: the
    interpreter's prefixes (the virtualenv), the checkout this package runs from, the current directory."""
    here = Path(__file__).resolve().parents[3]  # the directory holding the ``driftloop`` package
    return [Path(sys.prefix), Path(sys.base_prefix), here, Path.cwd()]


def _found(program: str, path: str, root: Path | None) -> bool:
    """Whether ``program`` resolves to an executable, on the host or (``root``) in the pod's sandbox — so a
    command that does not exist is an Error the retry rules know ("cannot start"), not an exit code."""
    if "/" in program and not program.startswith("/"):
        return True  # relative to the working directory: the process start says
    dirs = [""] if "/" in program else [d for d in path.split(os.pathsep) if d]
    for d in dirs:
        candidate = os.path.join(d, program)
        places = [candidate] + ([str(root / candidate.lstrip("/"))] if root is not None else [])
        if any(os.path.isfile(c) and os.access(c, os.X_OK) for c in places):
            return True
    return False


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
    host: Sequence[Path] = (),
) -> ProcessOutcome:
    """Run a rendered ``script``/``container`` spec; stdout and stderr go to ``log_file``. ``sandbox`` is
    the pod's root (:mod:`.isolation`); ``declared_paths`` are the pod paths it declares (outputs, input
    artifacts), made private; ``mounts`` maps volume mount paths to their emulated directories
    (:mod:`.volumes`); ``host`` names more host paths the step reads (the data directory). ``cancelled`` is
    polled while the process runs: once it says so the process group is stopped and
    :class:`.cancel.RunCancelled` raised."""
    sandbox.mkdir(parents=True, exist_ok=True)
    command = [str(c) for c in spec.get("command") or []]
    args = [str(a) for a in spec.get("args") or []]
    env_spec = {
        str(e["name"]): str(e.get("value", "")) for e in spec.get("env") or [] if "valueFrom" not in e
    }
    env = dict(os.environ)
    if "DRIFTLOOP_CONFIG" in env_extra:
        # The exported settings file is the whole configuration of the run (flags included): inherited
        # DRIFTLOOP_* variables would override it, so they are not passed on.
        env = {k: v for k, v in env.items() if not k.startswith("DRIFTLOOP_")}
    env.update(env_spec)
    env.update(env_extra)
    if is_hera_runner(args):
        # The runner imports the step's module: from the directory driftloop was started in, as the image's
        # working directory would hold it.
        env["PYTHONPATH"] = os.pathsep.join(p for p in (os.getcwd(), env.get("PYTHONPATH", "")) if p)
    reason = isolation.unavailable()
    isolated = reason is None
    if reason is not None and (
        declared_paths or mounts
    ):  # the engine refuses these at load; never on the host
        return ProcessOutcome(
            None, "", False, 0.0, error=isolation.refusal("a declared path", reason).message
        )
    if kind == "script":
        script = sandbox / SCRIPT.lstrip("/")
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(str(spec.get("source") or ""))
        script.chmod(0o755)  # as Argo writes it: a command may exec the file itself (a shebang script)
        args = [*args, SCRIPT if isolated else str(script)]
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
    # A container starts in its workingDir, else its image's (``/`` for most): the sandbox's root here, so
    # a relative write lands in the pod's filesystem.
    if not _found(argv[0], env.get("PATH", os.defpath), sandbox if isolated else None):
        error = f"cannot start {argv[0]!r}: No such file or directory"
        return ProcessOutcome(None, "", False, 0.0, error=error)
    workdir = str(spec.get("workingDir") or "/")
    cwd: str | None = None
    if isolated:
        layout = isolation.Layout(
            sandbox,
            private=isolation.pod_dirs(declared_paths) | ({workdir} if not os.path.isdir(workdir) else set()),
            mounts=list(mounts),
            host=[*host_paths(), *host],
        )
        argv = isolation.command(layout, argv, workdir)
    else:  # nothing declared (the engine refused the rest): the sandbox directory is its working directory
        cwd = str(sandbox / workdir.lstrip("/"))
        Path(cwd).mkdir(parents=True, exist_ok=True)
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
                cwd=cwd,
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
