"""The embedded SeaweedFS's certificate names the address its servers bind (embedded.host)."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509

from driftloop.local.weedsec import SECURITY_DIR, weed_security_env


def _ips(weed_dir: Path) -> set[str]:
    cert = x509.load_pem_x509_certificate((weed_dir / SECURITY_DIR / "weed.crt").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}


def test_certificate_names_a_non_loopback_host(tmp_path: Path) -> None:
    # weed's servers dial each other at embedded.host; a loopback-only certificate failed every S3 write
    # ("x509: certificate is valid for 127.0.0.1, not 10.244.0.1") when `up` bound the cluster's bridge
    weed_security_env(tmp_path, "10.244.0.1")
    assert _ips(tmp_path) == {"127.0.0.1", "10.244.0.1"}


def test_loopback_default_and_remade_for_a_new_host(tmp_path: Path) -> None:
    first = weed_security_env(tmp_path)
    assert _ips(tmp_path) == {"127.0.0.1"}
    assert weed_security_env(tmp_path) == first  # same host: the same set, not remade
    jwt_before = (tmp_path / SECURITY_DIR / "jwt.json").read_text()
    weed_security_env(tmp_path, "10.0.0.7")
    assert "10.0.0.7" in _ips(tmp_path)
    assert (tmp_path / SECURITY_DIR / "jwt.json").read_text() != jwt_before
