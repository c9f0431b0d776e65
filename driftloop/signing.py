"""Model artifacts are signed: nothing is unpickled whose trust rests on a file beside it.

A pickle can run code when it is loaded, so a model file is only loaded after an HMAC-SHA256 over it,
made with a key the bucket's writers do not hold, checks out:

* the registry signs ``(model, version, sha256 of the file)`` at registration (``metadata.json`` holds the
  signature) and checks it before handing out the bytes — for the model server, ``evaluate``'s champion
  and ``registry promote``; someone who can write to the bucket can replace the file *and* its metadata,
  but cannot forge the signature;
* the ``train`` step seals the file it hands to ``evaluate`` through Argo's artifact repository
  (:func:`seal` / :func:`unseal`), so the challenger is checked before it is unpickled too.

The key is ``registry.signing_key`` (a secret setting — on a cluster, from a Secret). Unset, local mode
creates a random key once in ``<data_dir>/keys/model-signing.key`` (mode 0600), which every local
process of that data_dir reads.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from driftloop.errors import ConfigError, IntegrityError

if TYPE_CHECKING:
    from driftloop.config import Settings

__all__ = ["KEY_FILE", "seal", "sign", "signing_key", "unseal", "verify"]

KEY_FILE = Path("keys") / "model-signing.key"
_SEAL = b"DRIFTLOOP-SEALED-1 "


def signing_key(settings: Settings) -> bytes:
    """The model-signing key: the configured one, or local mode's key file (created on first use)."""
    configured = settings.registry.signing_key.get_secret_value()
    if configured:
        return configured.encode()
    path = Path(settings.data_dir) / KEY_FILE
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(
            f"cannot create the model-signing key {path} ({exc.strerror})",
            "set registry.signing_key (DRIFTLOOP_REGISTRY__SIGNING_KEY) or a writable data_dir",
        ) from None
    key = secrets.token_hex(32).encode()
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key


def _mac(key: bytes, *parts: str | bytes) -> str:
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        mac.update(len(data).to_bytes(8, "big"))
        mac.update(data)
    return mac.hexdigest()


def sign(key: bytes, model: str, version: str, sha256: str) -> str:
    """The signature of a registered model file."""
    return _mac(key, "model", model, version, sha256)


def verify(key: bytes, model: str, version: str, sha256: str, signature: str) -> None:
    """Raise IntegrityError unless ``signature`` is the signature of that file."""
    if not signature:
        raise IntegrityError(
            f"model {model} {version} is not signed",
            "re-register it with this driftloop (signed at registration); unsigned files are never loaded",
        )
    if not hmac.compare_digest(sign(key, model, version, sha256), signature):
        raise IntegrityError(
            f"model {model} {version}: the signature does not match the file",
            "the file or its metadata was replaced, or registry.signing_key differs; do not load it",
        )


def seal(key: bytes, data: bytes) -> bytes:
    """``data`` with a signature in front (a model file in transit between two steps)."""
    return _SEAL + _mac(key, "sealed", data).encode() + b"\n" + data


def unseal(key: bytes, sealed: bytes, what: str) -> bytes:
    """The bytes of a :func:`seal`-ed file; IntegrityError when the seal is missing or wrong."""
    head, sep, data = sealed.partition(b"\n")
    if not head.startswith(_SEAL) or not sep:
        raise IntegrityError(
            f"{what} is not a sealed driftloop model file", "it must come from the train step"
        )
    if not hmac.compare_digest(head[len(_SEAL) :].decode(errors="replace"), _mac(key, "sealed", data)):
        raise IntegrityError(
            f"{what}: the seal does not match its content", "the file was modified; not loaded"
        )
    return data
