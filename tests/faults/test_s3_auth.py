"""The embedded S3 refuses anonymous requests: only the configured access key reads or writes."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from driftloop.s3 import S3Store

pytestmark = pytest.mark.integration


def _status(method: str, url: str, body: bytes | None = None) -> int:
    req = urllib.request.Request(url, data=body, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_anonymous_put_get_delete_are_refused(stack, bucket) -> None:
    store = S3Store(stack.settings, bucket=bucket)
    store.put_bytes("models/credit/v1/model.joblib", b"signed bytes")
    url = f"{stack.settings.s3_endpoint}/{bucket}/models/credit/v1/model.joblib"
    assert _status("PUT", url, b"evil") == 403
    assert _status("DELETE", url) == 403
    assert _status("GET", url) == 403
    assert store.get_bytes("models/credit/v1/model.joblib") == b"signed bytes"  # untouched
