"""Is anything listening? A TCP connect to a service's address, before a client spends its own timeouts.

kafka-python's admin client and boto3 each wait seconds (and retry) before they report a refused
connection; ``driftloop status`` and the start-up waits ask :func:`listening` first, so a stopped service
is reported in milliseconds.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

__all__ = ["addresses", "listening"]


def addresses(endpoint: str) -> list[tuple[str, int]]:
    """``host:port[,host:port]`` or ``http(s)://host[:port]`` -> ``[(host, port), ...]``."""
    out = []
    for part in endpoint.split(","):
        part = part.strip()
        if not part:
            continue
        if "://" in part:
            url = urlsplit(part)
            default = 443 if url.scheme == "https" else 80
            out.append((url.hostname or "localhost", url.port or default))
        else:
            host, _, port = part.rpartition(":")
            out.append((host.strip("[]") or "localhost", int(port)))
    return out


def listening(endpoint: str, timeout_s: float = 0.5) -> bool:
    """Whether any address of ``endpoint`` accepts a TCP connection within ``timeout_s``."""
    for host, port in addresses(endpoint):
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                return True
        except (OSError, ValueError):
            continue
    return False
