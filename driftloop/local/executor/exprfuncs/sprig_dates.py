"""sprig's date formatting with Go reference-time layouts."""

from __future__ import annotations

import datetime
import zoneinfo
from typing import Any

_GO_LAYOUT_TOKENS = (  # Go's reference-time layout elements, longest first where they share a prefix
    "January", "Jan", "Monday", "Mon", "MST", "2006", "002", "01", "02", "03", "04", "05", "06",
    "__2", "_2", "15", "1", "2", "3", "4", "5", "PM", "pm",
    "-070000", "-07:00:00", "-0700", "-07:00", "-07", "Z070000", "Z07:00:00", "Z0700", "Z07:00", "Z07",
)  # fmt: skip


def go_time_format(t: datetime.datetime, layout: str) -> str:
    """``time.Time.Format(layout)`` for Go's layout elements (``2006-01-02T15:04:05Z07:00``...)."""
    out, i = [], 0
    while i < len(layout):
        if layout[i] in ".," and i + 1 < len(layout) and layout[i + 1] in "09":
            j = i + 1
            while j < len(layout) and layout[j] == layout[i + 1]:
                j += 1
            if j == len(layout) or not layout[j].isdigit():
                digits = f"{t.microsecond:06d}000"[: j - i - 1]
                if layout[i + 1] == "9":
                    digits = digits.rstrip("0")
                out.append(layout[i] + digits if digits else "")
                i = j
                continue
        token = next((tok for tok in _GO_LAYOUT_TOKENS if layout.startswith(tok, i)), None)
        if token is None:
            out.append(layout[i])
            i += 1
            continue
        out.append(_go_time_token(t, token))
        i += len(token)
    return "".join(out)


def _go_time_token(t: datetime.datetime, token: str) -> str:
    offset = t.utcoffset() or datetime.timedelta(0)
    total = int(offset.total_seconds())
    sign = "-" if total < 0 else "+"
    hh, rem = divmod(abs(total), 3600)
    mm, ss = divmod(rem, 60)
    if token.startswith("Z") and total == 0:
        return "Z"
    simple = {
        "January": t.strftime("%B"),
        "Jan": t.strftime("%b"),
        "Monday": t.strftime("%A"),
        "Mon": t.strftime("%a"),
        "MST": t.tzname() or "UTC",
        "2006": f"{t.year:04d}",
        "06": f"{t.year % 100:02d}",
        "002": f"{t.timetuple().tm_yday:03d}",
        "01": f"{t.month:02d}",
        "1": str(t.month),
        "02": f"{t.day:02d}",
        "_2": f"{t.day:2d}",
        "__2": f"{t.timetuple().tm_yday:3d}",
        "2": str(t.day),
        "15": f"{t.hour:02d}",
        "03": f"{(t.hour % 12) or 12:02d}",
        "3": str((t.hour % 12) or 12),
        "04": f"{t.minute:02d}",
        "4": str(t.minute),
        "05": f"{t.second:02d}",
        "5": str(t.second),
        "PM": "PM" if t.hour >= 12 else "AM",
        "pm": "pm" if t.hour >= 12 else "am",
    }
    if token in simple:
        return simple[token]
    body = token.lstrip("-Z")
    if body == "070000":
        return f"{sign}{hh:02d}{mm:02d}{ss:02d}"
    if body == "07:00:00":
        return f"{sign}{hh:02d}:{mm:02d}:{ss:02d}"
    if body == "0700":
        return f"{sign}{hh:02d}{mm:02d}"
    if body == "07:00":
        return f"{sign}{hh:02d}:{mm:02d}"
    return f"{sign}{hh:02d}"


def sprig_date_in_zone(layout: str, date: Any, zone: str) -> str:
    """sprig's ``dateInZone``: an int is Unix seconds; anything else (a string too) means now."""
    if isinstance(date, int) and not isinstance(date, bool):
        when = datetime.datetime.fromtimestamp(date, tz=datetime.UTC)
    else:
        when = datetime.datetime.now(tz=datetime.UTC)
    if zone == "Local":
        return go_time_format(when.astimezone(), layout)
    try:
        tz: datetime.tzinfo = zoneinfo.ZoneInfo(zone) if zone not in ("", "UTC") else datetime.UTC
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = datetime.UTC
    return go_time_format(when.astimezone(tz), layout)
