"""Which local model servers run now: one small file per server under ``<data_dir>/serving/``.

``driftloop serve`` and ``driftloop up`` announce the server they run (:func:`announce`, removed when it
stops); the local deploy target asks :func:`local_servers` whether anything serves a model before a
canary waits for traffic, so a canary analysis under ``driftloop up --services-only`` says at once that
nothing will send it requests instead of waiting out its window. A file whose process is gone (a
SIGKILL) does not count and is removed by the next reader.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["announce", "local_servers", "serves"]

_DIR = "serving"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


@contextlib.contextmanager
def announce(data_dir: Path, url: str, models: list[str] | None, feedback_url: str = "") -> Iterator[Path]:
    """Announce a model server at ``url`` (feedback at ``feedback_url``) serving ``models`` (None: every
    model) while the block runs."""
    folder = Path(data_dir) / _DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{os.getpid()}.json"
    path.write_text(
        json.dumps({"pid": os.getpid(), "url": url, "feedback_url": feedback_url, "models": models})
    )
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            path.unlink()


def local_servers(data_dir: Path) -> list[dict[str, Any]]:
    """The announced servers whose process still runs (stale files are removed)."""
    out = []
    for path in sorted((Path(data_dir) / _DIR).glob("*.json")):
        try:
            entry = json.loads(path.read_text())
            pid = int(entry["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if _alive(pid):
            out.append(entry)
        else:
            with contextlib.suppress(OSError):
                path.unlink()
    return out


def serves(data_dir: Path, model: str) -> bool:
    """Whether a running local server serves ``model``."""
    return any(s.get("models") is None or model in s["models"] for s in local_servers(data_dir))
