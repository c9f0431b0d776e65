"""Which model answers a request: the champion, or — for ``canary_fraction`` of requests — the canary.

**Stickiness.** A request that carries an id (``request_id`` in V1, ``id`` in V2) is routed by a keyed hash
(BLAKE2b with a secret key drawn when the server starts, never sent anywhere) of that id *and the request
body's digest*: a client that retries a request — same id, same body — meets the same version for the
life of the server process. Without an id the choice is random.

Why keyed, and why the body: with a plain hash of the id a client could compute offline which ids land on
the canary, and send the canary alone its slow or failing requests (a forced rollback). With the key it
cannot compute the route; with the body in the hash, learning that one request went to the canary (the
answer says so) does not let it send a *different* request there by reusing the id — every new request is
a fresh draw at the configured share, on either side alike.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Literal

__all__ = ["Route", "Router", "sticky_key"]

Route = Literal["champion", "canary"]


class Router:
    """Routes requests for one server; ``key`` (32 random bytes by default) is the server's secret."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key if key is not None else secrets.token_bytes(32)

    def point(self, sticky: bytes) -> float:
        """A number in [0, 1), uniform and unpredictable without the key, stable for ``sticky``."""
        digest = hashlib.blake2b(sticky, key=self._key, digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64

    def choose(self, sticky: bytes | None, fraction: float) -> Route:
        """``canary`` for ``fraction`` of requests; ``sticky`` None: a random draw."""
        if fraction <= 0:
            return "champion"
        point = self.point(sticky) if sticky is not None else secrets.randbits(53) / 2**53
        return "canary" if point < fraction else "champion"


def sticky_key(request_id: str | None, body_digest: bytes | None) -> bytes | None:
    """What a request's route is keyed on: its id and its body's digest (None: no id, a random route)."""
    if request_id is None:
        return None
    return request_id.encode("utf-8", "surrogatepass") + b"\0" + (body_digest or b"")
