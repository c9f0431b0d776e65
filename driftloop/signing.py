"""Ed25519 signatures: nothing a bucket writer can write is loaded, executed or trusted unsigned.

Anyone who holds the S3 keys can write any object in the bucket — the user's train step does, and so does
a server pod. So what steers driftloop carries an Ed25519 signature made with a key those writers do not
hold, and is checked with the public (verify) key before it is used:

* a version's ``metadata.json`` (sha256 of the model file, metrics, lineage and its records — the
  ``canary_deploy`` record that routes traffic included): :func:`sign_record` / :func:`verify_record`;
* the alias pointers (``aliases/champion.json``, ``aliases/canary.json``) and ``history.json``;
* the local sensor's durable submissions (``sensor/submissions/*.json``: the Workflow ``up`` runs);
* files handed between steps through the bucket (the performance estimator): :func:`seal` /
  :func:`unseal`.

A record is signed together with its kind and its object key, so a signed record cannot be replayed under
another name (another model's champion, another submission).

Keys: ``registry.signing_key`` (secret; the Ed25519 private key, base64 of its 32 bytes) is held only by
what signs — ``up`` and the CLI locally; on a cluster the evaluate / deploy / promote / rollback steps,
never the user's train step or the model server. Everything else gets ``registry.verify_key`` (the
public key, base64), which cannot sign. Unset, local mode makes a key pair once in
``<data_dir>/keys/signing.ed25519`` (0600) and ``signing.pub``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftloop.errors import ConfigError, IntegrityError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

    from driftloop.config import Settings

__all__ = [
    "KEY_FILE",
    "PUBLIC_KEY_FILE",
    "RESIGN_HINT",
    "generate_keypair",
    "seal",
    "sign_record",
    "signing_key",
    "unseal",
    "verify_key",
    "verify_record",
]

KEY_FILE = Path("keys") / "signing.ed25519"
PUBLIC_KEY_FILE = Path("keys") / "signing.pub"
_SEAL = b"DRIFTLOOP-SEALED-2 "
RESIGN_HINT = (
    "records written before signing was introduced: check the bucket, then run `driftloop registry resign`; "
    "otherwise someone wrote it without the signing key — do not trust it"
)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _decode(value: str, setting: str) -> bytes:
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise ConfigError(
            f"{setting} is not a base64 Ed25519 key (32 bytes)",
            "make a key pair with `driftloop registry keygen`",
        )
    return raw


def generate_keypair() -> tuple[str, str]:
    """A new (private, public) key pair, each base64 of 32 bytes."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return _b64(private), _b64(public)


def _local_keypair(settings: Settings) -> tuple[str, str]:
    """Local mode's key pair in the data_dir, made on first use (0600 private, 0644 public)."""
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        # a pod's data_dir is its own: a key made there would sign what no other pod can verify
        raise ConfigError(
            "no registry key is configured in this pod (registry.verify_key / registry.signing_key)",
            "create the Secrets driftloop-verify and driftloop-signing (README: Deploy to a cluster) and "
            "apply the credentials component",
        )
    private_path, public_path = Path(settings.data_dir) / KEY_FILE, Path(settings.data_dir) / PUBLIC_KEY_FILE
    try:
        private = private_path.read_text().strip()
    except FileNotFoundError:
        private = _create_private(private_path)
    except OSError as exc:
        raise ConfigError(f"cannot read the signing key {private_path} ({exc.strerror})") from None
    public = _b64(_public_of(private, str(private_path)))
    if not public_path.exists():  # for the user's information; the key itself is the private file
        tmp = public_path.with_name(f".{public_path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(public)
        tmp.replace(public_path)
    return private, public


def _public_of(private: str, where: str) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = Ed25519PrivateKey.from_private_bytes(_decode(private, where))
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _create_private(path: Path) -> str:
    """Write a new private key to ``path`` unless another process did first (then read theirs): written
    whole to a temporary file and linked into place, so no reader sees a half-written key."""
    private, _ = generate_keypair()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(private)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return path.read_text().strip()
    except OSError as exc:
        raise ConfigError(
            f"cannot create the signing key {path} ({exc.strerror})",
            "set registry.signing_key (DRIFTLOOP_REGISTRY__SIGNING_KEY) or a writable data_dir",
        ) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return private


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The private key that signs (only for the components that sign)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    configured = settings.registry.signing_key.get_secret_value()
    if configured:
        return Ed25519PrivateKey.from_private_bytes(_decode(configured, "registry.signing_key"))
    if settings.registry.verify_key:
        raise ConfigError(
            "this component signs registry records but has only the verify key",
            "give it registry.signing_key (DRIFTLOOP_REGISTRY__SIGNING_KEY) — only signing steps hold it",
        )
    private, _ = _local_keypair(settings)
    return Ed25519PrivateKey.from_private_bytes(_decode(private, str(Path(settings.data_dir) / KEY_FILE)))


def verify_key(settings: Settings) -> Ed25519PublicKey:
    """The public key that checks signatures: ``registry.verify_key``, the configured signing key's public
    half, or local mode's key pair."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if settings.registry.verify_key:
        return Ed25519PublicKey.from_public_bytes(
            _decode(settings.registry.verify_key, "registry.verify_key")
        )
    if settings.registry.signing_key.get_secret_value():
        return signing_key(settings).public_key()
    _, public = _local_keypair(settings)
    return Ed25519PublicKey.from_public_bytes(_decode(public, str(Path(settings.data_dir) / PUBLIC_KEY_FILE)))


def _message(*parts: str | bytes) -> bytes:
    out = bytearray()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        out += len(data).to_bytes(8, "big") + data
    return bytes(out)


def _canonical(doc: dict[str, Any]) -> bytes:
    body = {k: v for k, v in doc.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def sign_record(key: Ed25519PrivateKey, kind: str, name: str, doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` (as its JSON round trip) with ``signature``: Ed25519 over kind, object key and content."""
    plain = json.loads(json.dumps({k: v for k, v in doc.items() if k != "signature"}, default=str))
    return {**plain, "signature": key.sign(_message("record", kind, name, _canonical(plain))).hex()}


def verify_record(pub: Ed25519PublicKey, kind: str, name: str, doc: Any) -> dict[str, Any]:
    """``doc`` when its signature checks out; IntegrityError (naming ``name``) otherwise."""
    from cryptography.exceptions import InvalidSignature

    if not isinstance(doc, dict):
        raise IntegrityError(f"{kind} {name} is not a driftloop record", "it was not written by driftloop")
    signature = doc.get("signature")
    if not signature or not isinstance(signature, str):
        raise IntegrityError(f"{kind} {name} is not signed", RESIGN_HINT)
    try:
        pub.verify(bytes.fromhex(signature), _message("record", kind, name, _canonical(doc)))
    except (InvalidSignature, ValueError):
        raise IntegrityError(
            f"{kind} {name}: the signature does not match its content",
            "it was written without the signing key, or registry.verify_key belongs to another key; not used",
        ) from None
    return doc


def seal(key: Ed25519PrivateKey, data: bytes) -> bytes:
    """``data`` with an Ed25519 signature in front (a file handed to another step through the bucket)."""
    return _SEAL + key.sign(_message("sealed", data)).hex().encode() + b"\n" + data


def unseal(pub: Ed25519PublicKey, sealed: bytes, what: str) -> bytes:
    """The bytes of a :func:`seal`-ed file; IntegrityError when the seal is missing or wrong."""
    from cryptography.exceptions import InvalidSignature

    head, sep, data = sealed.partition(b"\n")
    if not head.startswith(_SEAL) or not sep:
        raise IntegrityError(f"{what} is not a sealed driftloop file", "it must come from a driftloop step")
    try:
        pub.verify(bytes.fromhex(head[len(_SEAL) :].decode(errors="replace")), _message("sealed", data))
    except (InvalidSignature, ValueError):
        raise IntegrityError(
            f"{what}: the seal does not match its content", "the file was modified; not loaded"
        ) from None
    return data
