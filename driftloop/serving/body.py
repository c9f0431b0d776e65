"""Reading and parsing a request body within bounds: its size, its JSON value count and nesting, and the
bytes of bodies the whole server holds at once.

* **Size** (``max_body``): a ``Content-Length`` over it is answered 413 before a byte is read; a chunked
  body is counted as it arrives.
* **Values and depth** (``max_values``, ``max_depth``): :func:`parse_json` counts the values on the raw
  bytes, in C, before parsing — a 28 MB array of 3.5M nested one-element arrays would take gigabytes as
  Python objects — and checks the nesting after. It runs in a worker thread, never on the event loop. But
  ``json.loads`` holds the GIL while it parses (0.2-0.4 s for 250,000 values, 1.4 s for 1M on 2 shared cores,
  the event loop paused as long), so a body over :data:`SPLIT_BYTES` is parsed by :class:`_Splitter` in
  pieces of at most ~64 KB each — an array or object that ends within 64 KB by ``json``'s C scanner in one
  call, a larger one element by element (a flat array of numbers in windows of 64 KB) — and the event
  loop gets its turn between pieces. Measured for 250,000 values on 2 busy cores: the longest pause 25-85 ms
  instead of 0.3-0.5 s, in 0.9-1.3× the time (20× for 250,000 short strings, scanned one by one).
* **In flight** (:class:`BodyBudget`): beyond the first :data:`FREE_BYTES` of each body, the bytes every
  request holds come out of one budget (``serving.max_body_bytes_in_flight``). A request that does not fit
  gets 503 at once (before its body is read, when it declares its length), so many large bodies at once —
  slow uploads, say — cannot take the server's memory, and small requests are never refused by it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from json.decoder import scanstring  # type: ignore[attr-defined]  # C, not in typeshed
from typing import Any

from starlette.requests import Request

from driftloop.errors import DataError

__all__ = [
    "FREE_BYTES",
    "MAX_BODY",
    "BodyBudget",
    "BodyError",
    "BodyLimits",
    "Reservation",
    "parse_json",
    "read_body",
]

#: The largest request body read, in bytes: a full batch (service.MAX_INSTANCES rows) with room to spare.
MAX_BODY = 32 * 1024 * 1024
#: The bytes of each body not counted against the budget (a small request always fits).
FREE_BYTES = 64 * 1024
_LENGTH = re.compile(r"[0-9]+", re.ASCII)
#: Bodies over this many bytes are parsed in pieces (smaller ones hold the GIL ~20 ms at most).
SPLIT_BYTES = 256 * 1024
#: The most characters of JSON parsed in one call while splitting.
_PIECE = 64 * 1024
_WS = re.compile(r"[ \t\n\r]*")


class BodyError(DataError):
    """A request body the server will not read or cannot parse; ``status`` is the HTTP answer."""

    def __init__(self, status: int, message: str, hint: str) -> None:
        super().__init__(message, hint)
        self.status = status


@dataclass(frozen=True)
class BodyLimits:
    """What one request body may be (``serving.max_body_bytes``, ``max_json_values``, ``max_json_depth``)."""

    max_body: int = MAX_BODY
    max_values: int = 250_000
    max_depth: int = 32


class BodyBudget:
    """The bytes of request bodies the server holds at once (used on the event loop only: no lock)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.used = 0

    def reserve(self) -> Reservation:
        return Reservation(self)


class Reservation:
    """One request's share of the budget; :meth:`release` when the request is answered."""

    def __init__(self, budget: BodyBudget) -> None:
        self.budget = budget
        self.held = 0

    def cover(self, size: int) -> None:
        """Hold enough for a body of ``size`` bytes; a 503 if the budget cannot spare it."""
        need = max(0, size - FREE_BYTES) - self.held
        if need <= 0:
            return
        if self.budget.used + need > self.budget.total:
            raise BodyError(
                503,
                f"the server holds too many request bodies now ({self.budget.used} of {self.budget.total} "
                "bytes)",
                "retry shortly, or send smaller batches (serving.max_body_bytes_in_flight)",
            )
        self.budget.used += need
        self.held += need

    def release(self) -> None:
        self.budget.used -= self.held
        self.held = 0


def _declared_length(request: Request, max_body: int) -> int | None:
    """The body's ``Content-Length`` (None: chunked), checked before anything is read."""
    values = [v.strip() for v in request.headers.getlist("content-length")]
    if not values:
        return None
    if len(set(values)) > 1 or not _LENGTH.fullmatch(values[0]):
        shown = ", ".join(values)
        raise BodyError(
            400,
            f"Content-Length must be one non-negative integer, not {shown[:40]!r}",
            "send the body's size",
        )
    digits = values[0].lstrip("0") or "0"  # int() refuses over 4300 digits: compare lengths first
    if len(digits) > len(str(max_body)) or int(digits) > max_body:
        shown = digits[:20] + ("…" if len(digits) > 20 else "")
        raise BodyError(
            413, f"the body (Content-Length {shown}) is over the limit of {max_body} bytes", "split the batch"
        )
    return int(digits)


async def read_body(request: Request, max_body: int, reservation: Reservation) -> bytes:
    """The raw body, within ``max_body`` and the budget ``reservation`` draws on."""
    declared = _declared_length(request, max_body)
    if declared is not None:
        reservation.cover(declared)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_body:
            raise BodyError(413, f"the body is over the limit of {max_body} bytes", "split the batch")
        reservation.cover(size)
        chunks.append(chunk)
    return b"".join(chunks)


def _values_bound(raw: bytes) -> int:
    """An upper bound of the JSON values in ``raw``: every value but the first follows a comma or opens an
    array or object. Computed with ``bytes.count`` (C speed, no objects: 0.15 s for 32 MB); commas and
    brackets inside strings count too — telling them apart (a regular expression over the strings) would
    take seconds on a body of millions of short strings, holding the GIL, so the event loop with it."""
    return 1 + raw.count(b",") + raw.count(b"[") + raw.count(b"{")


def _too_deep(max_depth: int) -> BodyError:
    return BodyError(400, f"the body nests arrays or objects over {max_depth} deep", "send flatter JSON")


def _check_depth(value: Any, max_depth: int) -> None:
    stack = [(value, 1)]
    while stack:  # iterative, over at most max_values values
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, list | dict):
                if depth + 1 > max_depth:
                    raise _too_deep(max_depth)
                stack.append((child, depth + 1))


class _Splitter:
    """A JSON parser that hands most of the work to ``json``'s C scanner in pieces of at most ~:data:`_PIECE`
    characters, so a thread parsing a large body lets the event loop run in between (the same values as
    ``json.loads``: NaN, Infinity and big integers included)."""

    def __init__(self, text: str, max_depth: int, piece: int = _PIECE) -> None:
        self.text = text
        self.piece = piece
        self.scan: Any = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # the C scanner
        self.max_depth = max_depth

    def skip(self, i: int) -> int:
        """The position of the first non-whitespace character at or after ``i``."""
        match = _WS.match(self.text, i)
        return match.end() if match is not None else i

    def parse(self) -> Any:
        value, end = self.value(0, 0)
        if self.skip(end) != len(self.text):
            raise ValueError(f"Extra data: char {end}")
        return value

    def value(self, i: int, depth: int) -> tuple[Any, int]:
        text = self.text
        i = self.skip(i)
        c = text[i : i + 1]
        if c in ("[", "{"):
            if depth >= self.max_depth:
                raise _too_deep(self.max_depth)
            small = self.small(i) if depth > 0 else None
            if small is not None:
                return small
            if c == "{":
                return self.object(i + 1, depth + 1)
            end = text.find("]", i)
            if end > 0:
                inner = text[i + 1 : end]
                if "[" not in inner and "{" not in inner and '"' not in inner:
                    return self.flat(i + 1, end)
            return self.array(i + 1, depth + 1)
        try:
            return self.scan(text, i)
        except StopIteration:
            raise ValueError(f"Expecting value: char {i}") from None

    def small(self, i: int) -> tuple[Any, int] | None:
        """The array or object at ``i`` parsed in one call if it ends within a piece (tried on windows of 1,
        4, 16, 64 KB: a container cut short by a window is never valid JSON), else None: split it."""
        size = min(1024, self.piece)
        while True:
            try:
                value, end = self.scan(self.text[i : i + size], 0)
                return value, i + end
            except (ValueError, StopIteration):
                if size >= self.piece or i + size >= len(self.text):
                    return None  # too large, or malformed (not cut short): the split path says where
                size = min(size * 4, self.piece)

    def flat(self, start: int, end: int) -> tuple[list[Any], int]:
        """The array of numbers and literals in ``text[start:end]``: every comma is an element boundary, so
        it is parsed in windows that end at one."""
        text, out = self.text, list[Any]()
        while start < end:
            stop = end if end - start <= self.piece else text.rfind(",", start, start + self.piece)
            if stop <= start:
                stop = end
            out.extend(json.loads("[" + text[start:stop] + "]"))
            if stop < end and not text[stop + 1 : end].strip():
                raise ValueError(f"Expecting value: char {end}")  # a trailing comma
            start = stop + 1
        return out, end + 1

    def array(self, i: int, depth: int) -> tuple[list[Any], int]:
        text, out = self.text, list[Any]()
        i = self.skip(i)
        if text[i : i + 1] == "]":
            return out, i + 1
        while True:
            item, i = self.value(i, depth)
            out.append(item)
            i = self.skip(i)
            c, i = text[i : i + 1], i + 1
            if c == "]":
                return out, i
            if c != ",":
                raise ValueError(f"Expecting ',' delimiter: char {i - 1}")

    def object(self, i: int, depth: int) -> tuple[dict[str, Any], int]:
        text, out = self.text, dict[str, Any]()
        i = self.skip(i)
        if text[i : i + 1] == "}":
            return out, i + 1
        while True:
            if text[i : i + 1] != '"':
                raise ValueError(f"Expecting property name enclosed in double quotes: char {i}")
            key, i = scanstring(text, i + 1)
            i = self.skip(i)
            if text[i : i + 1] != ":":
                raise ValueError(f"Expecting ':' delimiter: char {i}")
            out[key], i = self.value(i + 1, depth)
            i = self.skip(i)
            c, i = text[i : i + 1], i + 1
            if c == "}":
                return out, i
            if c != ",":
                raise ValueError(f"Expecting ',' delimiter: char {i - 1}")
            i = self.skip(i)


def _loads(raw: bytes, max_depth: int) -> Any:
    if len(raw) <= SPLIT_BYTES:
        return json.loads(raw)
    text = raw.decode(json.detect_encoding(raw), "surrogatepass")  # what json.loads does with bytes
    return _Splitter(text, max_depth).parse()


def parse_json(raw: bytes, limits: BodyLimits) -> tuple[Any, bytes]:
    """The JSON value of ``raw`` and its digest (what a route is keyed on), within ``limits``. Runs in a
    worker thread: parsing is the costly part, and the event loop must keep answering probes."""
    digest = hashlib.blake2b(raw, digest_size=16).digest()
    if not raw:
        return None, digest
    if _values_bound(raw) > limits.max_values:
        raise BodyError(
            413,
            f"the body holds more than {limits.max_values} JSON values (commas and brackets counted)",
            "split the batch (serving.max_json_values)",
        )
    try:
        value = _loads(raw, limits.max_depth)
    except RecursionError:
        raise _too_deep(limits.max_depth) from None
    except ValueError as exc:  # UnicodeDecodeError is a ValueError
        raise BodyError(400, f"the body is not valid JSON: {exc}", "send a JSON object") from None
    if isinstance(value, list | dict):
        _check_depth(value, limits.max_depth)
    return value, digest
