"""The demo's timeline: every stage with its time since the start, printed as it happens."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

__all__ = ["Timeline"]


@dataclass
class Timeline:
    console: Console
    t0: float = field(default_factory=time.time)
    entries: list[dict[str, Any]] = field(default_factory=list)

    def mark(self, stage: str, message: str, **data: Any) -> float:
        now = time.time()
        self.entries.append(
            {"stage": stage, "at": now, "t": round(now - self.t0, 2), "message": message, **data}
        )
        stamp = time.strftime("%H:%M:%S", time.localtime(now))
        self.console.print(
            f"{stamp} [bold cyan]+{now - self.t0:6.1f}s[/] [bold]{stage:<10}[/] {message}",
            highlight=False,
            soft_wrap=True,
        )
        return now

    def at(self, stage: str) -> float | None:
        for entry in reversed(self.entries):
            if entry["stage"] == stage:
                return float(entry["at"])
        return None
