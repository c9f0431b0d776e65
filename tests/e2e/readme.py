"""The README's command blocks, run as a user runs them: each ```bash block, line by line, verbatim.

:func:`bash_blocks` finds every block with the section it stands in; :data:`NOT_RUN_HERE` names the blocks
this suite does not run, each with where it is checked instead; ``test_readme.py`` fails on any other block
that no test runs, so the README cannot tell a user to type something nobody tried.

:class:`Shell` runs a block's lines with ``bash -c``, one after another, in a working directory, on the
real embedded services: a line that starts ``driftloop up`` without ``--once`` (the README says "leave it
running") runs in the background until it prints ``running``; every other line must exit 0 (or the code
the caller expects). The environment is the user's: the virtualenv's ``bin`` first on ``PATH`` (what
``make install`` gives), no ``DRIFTLOOP_*`` variable but the embedded services' ports, so a test never
collides with a developer's own ``driftloop up``.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import REPO, embedded_overrides, free_port

__all__ = ["NOT_RUN_HERE", "Block", "Shell", "bash_blocks", "block"]

#: Blocks no test runs line by line, by (section, first command), and where they are checked instead.
NOT_RUN_HERE: dict[tuple[str, str], str] = {
    ("Quick start", "make demo"): "make demo = `driftloop demo` (test_demo.py); make test is this suite",
    ("Development", "make test"): "what CI runs (.ci/run); test-fast, bench and lint are parts of it",
    ("Bring your own model", "docker build -t registry.example.com/demand:0.1.0"): (
        "needs docker and a cluster: test_readme.py::test_byom_directory_builds_for_a_cluster runs its"
        " compile and kustomize lines in a fresh `init` directory"
    ),
    ("Serving, rollout and approval", "kubectl -n driftloop create secret generic driftloop-serving"): (
        "needs a cluster: `make e2e` (the real-cluster suite)"
    ),
}


@dataclass(frozen=True)
class Block:
    section: str
    lines: tuple[str, ...]

    @property
    def first(self) -> str:
        return _command(self.lines[0])


def _command(line: str) -> str:
    """A line without its trailing comment (a ``#`` outside quotes)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.commenters = "#"
    lexer.whitespace_split = True
    return " ".join(lexer)


def bash_blocks(readme: Path = REPO / "README.md") -> list[Block]:
    """Every ```bash block of the README, with the ``## `` section it stands in; continuation lines
    (comments only) are dropped."""
    blocks, section, current = [], "", None
    for line in readme.read_text().splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
        if current is None and line.strip() == "```bash":
            current = []
        elif current is not None and line.strip() == "```":
            blocks.append(Block(section, tuple(current)))
            current = None
        elif current is not None and line.strip() and not line.lstrip().startswith("#"):
            current.append(line.rstrip())
    return blocks


def block(section: str, first: str) -> Block:
    """The block of ``section`` whose first command starts with ``first``."""
    found = [b for b in bash_blocks() if b.section == section and b.first.startswith(first)]
    assert len(found) == 1, f"README has {len(found)} bash blocks in {section!r} starting {first!r}"
    return found[0]


def _background(command: str) -> bool:
    words = command.split()
    return len(words) > 1 and words[0].endswith("driftloop") and "up" in words and "--once" not in words


@dataclass
class Shell:
    """Runs README lines in ``cwd`` as a user would, on ports of its own; ``stop()`` ends what runs."""

    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    background: list[subprocess.Popen[str]] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)

    @classmethod
    def for_user(cls, cwd: Path, state: Path) -> Shell:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLOOP_")}
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        ports = {k: v for k, v in embedded_overrides(state).items() if k.startswith("embedded.")}
        serving: set[int] = set()
        ports["serving.port"] = free_port(taken=serving)
        ports["serving.feedback_port"] = free_port(taken=serving)
        for key, value in ports.items():
            env["DRIFTLOOP_" + key.upper().replace(".", "__")] = str(value)
        return cls(cwd, env)

    def run(self, line: str, expect: int = 0, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        command = _command(line)
        if _background(command):
            self._start(command)
            return subprocess.CompletedProcess(command, 0, "", "")
        proc = subprocess.run(
            ["bash", "-c", line],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        self.transcript.append(f"$ {line}\n{proc.stdout}{proc.stderr}")
        assert proc.returncode == expect, (
            f"`{line}` exited {proc.returncode} (expected {expect}):\n{proc.stderr[-3000:]}"
        )
        return proc

    def _start(self, command: str, timeout: float = 120) -> None:
        proc = subprocess.Popen(
            ["bash", "-c", f"exec {command}"],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.background.append(proc)
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = proc.stdout.readline() if proc.stdout else ""
            seen.append(line)
            if re.search(r"^running\b", line) or (not line and proc.poll() is not None):
                break
        assert proc.poll() is None, f"`{command}` stopped:\n{''.join(seen)[-3000:]}"
        self.transcript.append(f"$ {command} &\n{''.join(seen)}")

    def stop(self) -> None:
        """``driftloop down`` for what a line started, then make sure the processes are gone."""
        if self.background:
            subprocess.run(
                ["bash", "-c", "driftloop down"], cwd=self.cwd, env=self.env, capture_output=True, timeout=120
            )
        for proc in self.background:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
