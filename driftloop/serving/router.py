"""Which model answers a request: the champion, or — for ``canary_fraction`` of requests — the canary.

With a request id the choice is sticky: the id's sha256 picks the route, so a client retrying a request (or
sending its feedback later) always meets the same version. Without one the choice is random.
"""

from __future__ import annotations

import hashlib
import random
from typing import Literal

__all__ = ["Route", "bucket_of", "choose_route"]

Route = Literal["champion", "canary"]


def bucket_of(request_id: str) -> float:
    """A stable number in [0, 1) for a request id (first 8 bytes of its sha256)."""
    digest = hashlib.sha256(request_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def choose_route(request_id: str | None, canary_fraction: float, has_canary: bool) -> Route:
    if not has_canary or canary_fraction <= 0:
        return "champion"
    point = bucket_of(request_id) if request_id else random.random()
    return "canary" if point < canary_fraction else "champion"
