"""What every CLI command shares: the resolved settings (once per process), consoles, logging."""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from driftloop.config import Settings, load_settings
from driftloop.errors import UsageError

__all__ = [
    "CliState",
    "console",
    "err_console",
    "parse_assignments",
    "settings_from",
    "setup_logging",
    "writable_data_dir",
]

console = Console()
err_console = Console(stderr=True)


@dataclass
class CliState:
    """Global options, kept on the root context; ``settings`` is resolved on first use."""

    config_path: Path | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    debug: bool = False
    _settings: Settings | None = None


def parse_assignments(pairs: list[str], what: str = "--set") -> dict[str, str]:
    """``["a.b=1", "c=x"]`` -> ``{"a.b": "1", "c": "x"}``; a pair without ``=`` is a usage error."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{what} {pair!r} is not key=value", f"write it as {what} name=value")
        out[key.strip()] = value
    return out


def settings_from(ctx: typer.Context, **flags: Any) -> Settings:
    """The effective settings: command ``flags`` (dotted keys, None = not given) > global ``--set`` >
    ``DRIFTLOOP_*`` env > config file > defaults. Resolved once per process."""
    root = ctx.find_root()
    state: CliState = root.obj if isinstance(root.obj, CliState) else CliState()
    root.obj = state
    given = {k: v for k, v in flags.items() if v is not None}
    if state._settings is None or given:
        state._settings = load_settings(state.config_path, {**state.overrides, **given})
    return state._settings


def writable_data_dir(settings: Settings) -> Path:
    """``settings.data_dir``, created, after proving it takes a write — for commands that write there.
    A data_dir beneath a file, on a read-only or full file system is one ConfigError line, not a trace."""
    from driftloop.local.embedded import unwritable

    path = Path(settings.data_dir).resolve()
    probe = path / f".write-probe-{os.getpid()}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        raise unwritable(exc.filename or path, exc) from exc
    return path


class _PrefixFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        component = record.name.removeprefix("driftloop.").split(".")[0] or "driftloop"
        stamp = self.formatTime(record, "%H:%M:%S")
        return f"{stamp} [{component:<9}] {record.getMessage()}"


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at emit time (not the stream of the moment it was made), so
    a CLI invoked in-process with a captured stderr that is later closed leaves no broken handler."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def setup_logging(debug: bool = False) -> None:
    """One log stream on stderr, a prefix per component (the logger name under ``driftloop.``)."""
    handler = _StderrHandler()
    handler.setFormatter(_PrefixFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    for noisy in ("kafka", "botocore", "boto3", "urllib3", "s3transfer"):
        logging.getLogger(noisy).setLevel(logging.INFO if debug else logging.CRITICAL)
