"""Cron expressions as Argo's CronWorkflow controller reads them (robfig/cron, standard 5 fields).

Supported: ``*``, lists ``1,5``, ranges ``1-5``, steps ``*/15`` and ``1-30/5``, month and weekday names
(``JAN``, ``MON``), weekday 7 = Sunday, and the macros ``@yearly @annually @monthly @weekly @daily
@midnight @hourly``. As in cron, when both day-of-month and day-of-week are restricted, a day matches if
either does. Times are evaluated in the CronWorkflow's ``timezone`` (default UTC).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from driftloop.errors import WorkflowError

__all__ = ["CronSchedule", "next_fire"]

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_NAMES = {
    3: {
        m: i
        for i, m in enumerate(
            ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1
        )
    },
    4: {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])},
}
_BOUNDS = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
_FIELDS = ["minute", "hour", "day-of-month", "month", "day-of-week"]


def _value(text: str, index: int, expr: str) -> int:
    upper = text.upper()
    if upper in _NAMES.get(index, {}):
        return _NAMES[index][upper]
    try:
        return int(text)
    except ValueError:
        raise WorkflowError(
            f"cron {expr!r}: {_FIELDS[index]} value {text!r} is not a number",
            "fix the CronWorkflow's schedules",
        ) from None


def _field(text: str, index: int, expr: str) -> frozenset[int]:
    low, high = _BOUNDS[index]
    out: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = _value(step_text, index, expr) if step_text else 1
        if base in ("*", "?"):
            start, end = low, high
        elif "-" in base:
            a, b = base.split("-", 1)
            start, end = _value(a, index, expr), _value(b, index, expr)
        else:
            start = _value(base, index, expr)
            end = high if step_text else start
        if step < 1 or not (low <= start <= high and low <= end <= high) or start > end:
            raise WorkflowError(
                f"cron {expr!r}: {_FIELDS[index]} {part!r} is out of range {low}-{high}",
                "fix the CronWorkflow's schedules",
            )
        out.update(range(start, end + 1, step))
    if index == 4 and 7 in out:
        out = (out - {7}) | {0}
    return frozenset(out)


@dataclass(frozen=True)
class CronSchedule:
    expr: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    dom_star: bool
    dow_star: bool

    @classmethod
    def parse(cls, expr: str) -> CronSchedule:
        text = _MACROS.get(expr.strip().lower(), expr.strip())
        parts = text.split()
        if len(parts) != 5:
            raise WorkflowError(
                f"cron {expr!r} has {len(parts)} fields, expected 5",
                "write minute hour day-of-month month day-of-week, or a macro like @hourly",
            )
        f = [_field(p, i, expr) for i, p in enumerate(parts)]
        return cls(expr, f[0], f[1], f[2], f[3], f[4], parts[2] in ("*", "?"), parts[4] in ("*", "?"))

    def matches(self, when: datetime) -> bool:
        if when.minute not in self.minutes or when.hour not in self.hours or when.month not in self.months:
            return False
        dom = when.day in self.days
        dow = (when.isoweekday() % 7) in self.weekdays
        if self.dom_star or self.dow_star:
            return dom and dow
        return dom or dow

    def next_after(self, after: datetime) -> datetime:
        """The first matching minute strictly after ``after`` (which must be timezone-aware)."""
        t = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
        for _ in range(366 * 24 * 60 * 5):
            if self.matches(t):
                return t
            if t.month not in self.months:
                t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
            elif t.hour not in self.hours:
                t = t.replace(minute=0) + timedelta(hours=1)
            else:
                t += timedelta(minutes=1)
        raise WorkflowError(f"cron {self.expr!r} never fires", "fix the CronWorkflow's schedules")


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise WorkflowError(f"unknown timezone {name!r}", "use an IANA name such as Europe/Berlin") from None


def next_fire(schedules: list[str], timezone: str | None, after: datetime) -> datetime:
    """The next time any of ``schedules`` fires after ``after``, in ``timezone``."""
    local = after.astimezone(zone(timezone))
    return min(CronSchedule.parse(s).next_after(local) for s in schedules)
