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


# --- the inner ports: SeaweedFS's filer, master and volume server (driftloop.local.weedsec) ----------

_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def _answer(port: int, payload: bytes, tls: bool) -> bytes:
    """What the port answers to ``payload`` from a client without credentials (b"" when it closes or
    fails the handshake)."""
    import socket
    import ssl

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            if tls:
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                with ctx.wrap_socket(raw) as sock:
                    sock.sendall(payload)
                    return sock.recv(4096)
            raw.sendall(payload)
            return raw.recv(4096)
    except (OSError, ssl.SSLError):
        return b""


def _http(port: int, request: str, tls: bool) -> int:
    """The HTTP status a request without credentials gets (0: refused at the TLS handshake)."""
    head = _answer(port, request.encode(), tls)
    parts = head.split(b" ", 2)
    return int(parts[1]) if head.startswith(b"HTTP/") and len(parts) > 1 else 0


def test_filer_master_and_volume_refuse_clients_without_credentials(stack, bucket) -> None:
    e = stack.settings.embedded
    store = S3Store(stack.settings, bucket=bucket)
    store.put_bytes("sensor/submissions/kept.json", b"{}")
    listing = f"GET /buckets/{bucket}/sensor/submissions/ HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n"
    body = '{"workflow": "evil"}'
    upload = (
        f"PUT /buckets/{bucket}/sensor/submissions/evil.json HTTP/1.1\r\nHost: x\r\n"
        f"Content-Length: {len(body)}\r\n\r\n{body}"
    )
    for tls in (False, True):
        # the filer: no listing, no read, no write over HTTP
        assert _http(e.weed_filer_port, listing, tls) not in range(200, 300)
        assert _http(e.weed_filer_port, upload, tls) not in range(200, 300)
        # the master: no file ids handed out, no collection (bucket) dropped
        for path in ("/dir/assign", f"/col/delete?collection={bucket}", "/dir/status"):
            assert _http(e.weed_master_port, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n", tls) not in range(
                200, 300
            )
        # the volume server: no status, no blob read
        status = _http(e.weed_volume_port, "GET /status HTTP/1.1\r\nHost: x\r\n\r\n", tls)
        assert status not in range(200, 300)
    # every gRPC port (HTTP port + 10000) speaks only mutual TLS: a plaintext HTTP/2 client gets no
    # SETTINGS frame, a TLS client without the data_dir's certificate is dropped
    for port in (e.weed_master_port, e.weed_volume_port, e.weed_filer_port, e.s3_port):
        for tls in (False, True):
            answer = _answer(port + 10000, _H2_PREFACE, tls)
            assert not answer.startswith(b"\x00\x00"), (port + 10000, tls, answer[:20])
    assert not store.exists("sensor/submissions/evil.json")
    assert store.exists("sensor/submissions/kept.json")  # the collection was not dropped


def test_embedded_credentials_are_random_per_data_dir(tmp_path) -> None:
    import stat

    from driftloop.config import load_settings
    from driftloop.s3 import CREDENTIALS_FILE, credentials

    one = load_settings(env={}, overrides={"data_dir": str(tmp_path / "a")})
    two = load_settings(env={}, overrides={"data_dir": str(tmp_path / "b")})
    pair = credentials(one)
    assert pair == credentials(one)  # made once, then read
    assert pair != credentials(two)
    assert "driftloop" not in pair and "driftloop-secret" not in pair
    assert stat.S_IMODE((tmp_path / "a" / CREDENTIALS_FILE).stat().st_mode) == 0o600
    configured = load_settings(env={}, overrides={"data_dir": str(tmp_path / "a"), "s3.access_key_id": "k"})
    assert credentials(configured)[0] == "k"


def test_seaweedfs_data_is_private_to_the_user_of_up(stack) -> None:
    import stat
    from pathlib import Path

    weed_dir = Path(stack.settings.data_dir) / "s3"
    assert stat.S_IMODE(weed_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((weed_dir / "security").stat().st_mode) == 0o700
    # SeaweedFS's own unix sockets in /tmp (gRPC without TLS): only the user of `up` may connect. Named by
    # role and port: a wildcard matched a stale socket of another weed whose volume port was this master's.
    e = stack.settings.embedded
    sockets = [
        Path(f"/tmp/seaweedfs-master-grpc-{e.weed_master_port + 10000}.sock"),
        Path(f"/tmp/seaweedfs-volume-grpc-{e.weed_volume_port + 10000}.sock"),
        Path(f"/tmp/seaweedfs-s3-{e.s3_port}.sock"),
    ]
    for sock in sockets:
        assert stat.S_IMODE(sock.stat().st_mode) & 0o077 == 0, (sock, oct(sock.stat().st_mode))


def test_another_data_dirs_credentials_get_a_hint(stack, bucket, tmp_path) -> None:
    """A command run with another data_dir than `up`'s holds other credentials: its one-line error says
    which data_dir to use."""
    from driftloop.config import load_settings
    from driftloop.errors import ConnectionError_

    overrides = {k: v for k, v in stack.overrides.items() if not k.startswith("s3.")}
    other = load_settings(env={}, overrides={**overrides, "data_dir": str(tmp_path / "other")})
    with pytest.raises(ConnectionError_, match="data_dir"):
        S3Store(other, bucket=bucket).get_bytes("anything")


def test_the_security_set_is_made_once_and_never_mixed(tmp_path) -> None:
    """Made once per data_dir; a second maker (another `up` racing on a new data_dir) keeps the first
    complete set, so the CA always signed the certificate next to it."""
    from cryptography import x509

    from driftloop.local.weedsec import _make, weed_security_env

    first = weed_security_env(tmp_path)
    folder = tmp_path / "security"
    ca_before = (folder / "ca.crt").read_bytes()
    _make(folder)  # the racing process
    assert weed_security_env(tmp_path) == first
    assert (folder / "ca.crt").read_bytes() == ca_before
    ca = x509.load_pem_x509_certificate((folder / "ca.crt").read_bytes())
    cert = x509.load_pem_x509_certificate((folder / "weed.crt").read_bytes())
    cert.verify_directly_issued_by(ca)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left
