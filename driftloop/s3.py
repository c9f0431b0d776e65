"""S3 access through boto3: bytes, JSON and Parquet objects, listing, and small pointer objects.

A pointer (a registry alias such as ``champion``) is one small JSON object written with a single PUT.
S3 replaces an object atomically — a reader gets the old body or the new one, never a mix — so no reader
ever sees a half-written alias. The same code runs against the embedded SeaweedFS gateway and a real
S3 / MinIO; only ``Settings`` differ.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import json
import os
import secrets
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftloop.config import Settings
from driftloop.endpoints import listening
from driftloop.errors import ConfigError, Conflict, ConnectionError_, DataError, NotFound

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CREDENTIALS_FILE", "S3Store", "credentials", "parse_s3_uri", "wait_for_s3"]

#: the embedded SeaweedFS's credentials, made once per data_dir (mode 0600)
CREDENTIALS_FILE = Path("keys") / "s3-credentials.json"


def credentials(settings: Settings) -> tuple[str, str]:
    """(access key id, secret key): the configured ones; for the embedded S3 without configured keys,
    the data_dir's own random pair, made on first use (a fixed default pair let any local user in)."""
    configured = (settings.s3.access_key_id, settings.s3.secret_access_key.get_secret_value())
    if configured[0] or not settings.s3_is_embedded:
        return configured
    path = Path(settings.data_dir) / CREDENTIALS_FILE
    try:
        data = json.loads(path.read_text())
        return str(data["access_key_id"]), str(data["secret_access_key"])
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"cannot read the embedded S3 credentials {path} ({exc})",
            "remove the file and the data_dir's s3/ folder to start afresh, or set s3.access_key_id",
        ) from None
    pair = {"access_key_id": f"dl{secrets.token_hex(8)}", "secret_access_key": secrets.token_urlsafe(32)}
    # written whole to a temporary file, then linked into place: no reader sees half of it, and of two
    # processes making it at once the second reads the first's
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(pair))
        try:
            os.link(tmp, path)
        except FileExistsError:
            return credentials(settings)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the embedded S3 credentials {path} ({exc.strerror})",
            "choose a writable data_dir (--set data_dir=...)",
        ) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return pair["access_key_id"], pair["secret_access_key"]


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` -> ``("bucket", "a/b")``."""
    if not uri.startswith("s3://"):
        raise DataError(f"{uri!r} is not an s3:// URI", "write it as s3://bucket/key")
    bucket, _, key = uri[5:].partition("/")
    if not bucket:
        raise DataError(f"{uri!r} names no bucket", "write it as s3://bucket/key")
    return bucket, key


def _client(settings: Settings) -> Any:
    import boto3
    from botocore.config import Config

    access_key, secret_key = credentials(settings)
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint,
        region_name=settings.s3.region,
        aws_access_key_id=access_key or None,
        aws_secret_access_key=secret_key or None,
        config=Config(
            retries={"max_attempts": 4, "mode": "standard"},
            connect_timeout=3,
            read_timeout=30,
            s3={"addressing_style": "path"},
        ),
    )


def _unreachable(settings: Settings, exc: Exception) -> ConnectionError_:
    hint = (
        "start the embedded stack with `driftloop up`"
        if settings.s3_is_embedded
        else "check s3.endpoint_url / DRIFTLOOP_S3__ENDPOINT_URL and the credentials"
    )
    return ConnectionError_(f"S3 at {settings.s3_endpoint} is unreachable ({type(exc).__name__})", hint)


#: S3 error codes for a missing object, and for a failed ``If-None-Match: *`` (the object exists; AWS
#: answers 412 PreconditionFailed, or 409 ConditionalRequestConflict while a concurrent write is in flight).
_NOT_FOUND = frozenset({"NoSuchKey", "404", "NotFound"})
_EXISTS = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict", "409"})


class S3Store:
    """Objects in one bucket (``settings.s3.bucket`` unless given)."""

    def __init__(self, settings: Settings, bucket: str | None = None, client: Any = None) -> None:
        self.settings = settings
        self.bucket = bucket or settings.s3.bucket
        self._s3 = client or _client(settings)

    def with_bucket(self, bucket: str) -> S3Store:
        return S3Store(self.settings, bucket, self._s3)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    # --- errors -----------------------------------------------------------------------------------
    def _call(self, op: str, key: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

        try:
            return getattr(self._s3, op)(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _NOT_FOUND:
                raise NotFound(f"{self.uri(key)} does not exist", key=key) from None
            if code in _EXISTS:
                raise Conflict(f"{self.uri(key)} exists already") from None
            if code == "NoSuchBucket":
                raise DataError(
                    f"bucket {self.bucket!r} does not exist",
                    "create it (`driftloop up` does for the configured bucket) or fix s3.bucket",
                ) from None
            hint = "check S3 access"
            if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch") and self.settings.s3_is_embedded:
                hint = (
                    "the embedded S3's credentials belong to the data_dir of the `driftloop up` running it: "
                    "use that data_dir (--data-dir / DRIFTLOOP_DATA_DIR; this command uses "
                    f"{self.settings.data_dir})"
                )
            raise ConnectionError_(f"S3 {op} {self.uri(key)} failed: {code or exc}", hint) from exc
        except (EndpointConnectionError, BotoCoreError) as exc:
            raise _unreachable(self.settings, exc) from exc

    # --- bucket -----------------------------------------------------------------------------------
    def ensure_bucket(self) -> bool:
        """Create the bucket when missing; True when created."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._s3.head_bucket(Bucket=self.bucket)
            return False
        except ClientError:
            pass
        except BotoCoreError as exc:
            raise _unreachable(self.settings, exc) from exc
        self._call("create_bucket", "")
        return True

    # --- objects ----------------------------------------------------------------------------------
    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        self._call("put_object", key, Key=key, Body=data, ContentType=content_type)
        return self.uri(key)

    def create(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> bool:
        """Write ``key`` only if it does not exist (``If-None-Match: *``): True when written, False when
        an object was there already. Two writers racing for one key: exactly one gets True."""
        try:
            self._call("put_object", key, Key=key, Body=data, ContentType=content_type, IfNoneMatch="*")
        except Conflict:
            return False
        return True

    def get_bytes(self, key: str) -> bytes:
        body: bytes = self._call("get_object", key, Key=key)["Body"].read()
        return body

    def put_json(self, key: str, obj: Any) -> str:
        data = json.dumps(obj, indent=2, sort_keys=True, default=str).encode()
        return self.put_bytes(key, data, "application/json")

    def get_json(self, key: str) -> Any:
        raw = self.get_bytes(key)
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise DataError(f"{self.uri(key)} is not valid JSON", "rewrite the object") from exc

    def put_parquet(self, key: str, df: pd.DataFrame) -> str:
        buf = io.BytesIO()
        df.to_parquet(buf, index=False)
        return self.put_bytes(key, buf.getvalue(), "application/vnd.apache.parquet")

    def get_parquet(self, key: str) -> pd.DataFrame:
        import pandas as pd

        return pd.read_parquet(io.BytesIO(self.get_bytes(key)))

    def exists(self, key: str) -> bool:
        try:
            self._call("head_object", key, Key=key)
            return True
        except NotFound:
            return False

    def delete(self, key: str) -> None:
        self._call("delete_object", key, Key=key)

    def list(self, prefix: str = "") -> builtins.list[str]:
        keys: builtins.list[str] = []
        token: str | None = None
        while True:
            extra = {"ContinuationToken": token} if token else {}
            page = self._call("list_objects_v2", prefix, Prefix=prefix, **extra)
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
            if not page.get("IsTruncated"):
                return keys
            token = page.get("NextContinuationToken")

    # --- pointers ---------------------------------------------------------------------------------
    def put_pointer(self, key: str, target: dict[str, Any]) -> None:
        """Replace a small pointer object in one PUT (atomic for every reader)."""
        self.put_json(key, {**target, "updated_at": time.time()})

    def get_pointer(self, key: str) -> dict[str, Any] | None:
        try:
            value = self.get_json(key)
        except NotFound:
            return None
        return value if isinstance(value, dict) else None


def wait_for_s3(settings: Settings, timeout_s: float = 30.0) -> None:
    """Block until the S3 endpoint answers ListBuckets, or raise ConnectionError_."""
    from botocore.exceptions import BotoCoreError, ClientError

    client = _client(settings)
    deadline = time.monotonic() + timeout_s
    last: Exception = TimeoutError()
    while time.monotonic() < deadline:
        if not listening(settings.s3_endpoint, min(0.5, timeout_s)):
            last = ConnectionRefusedError(f"nothing listens at {settings.s3_endpoint}")
            time.sleep(0.2)
            continue
        try:
            client.list_buckets()
            return
        except (BotoCoreError, ClientError) as exc:
            last = exc
            time.sleep(0.2)
    raise _unreachable(settings, last)
