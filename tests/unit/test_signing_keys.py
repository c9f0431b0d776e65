"""Which key each component gets: local mode's pair in the data_dir, configured keys, and the refusals."""

from __future__ import annotations

import stat

import pytest

from driftloop.config import load_settings
from driftloop.errors import ConfigError, IntegrityError
from driftloop.signing import (
    KEY_FILE,
    generate_keypair,
    sign_record,
    signing_key,
    verify_key,
    verify_record,
)


def test_local_mode_makes_one_private_key_pair_per_data_dir(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    settings = load_settings(env={}, overrides={"data_dir": str(tmp_path)})
    doc = sign_record(signing_key(settings), "alias", "models/m/aliases/champion.json", {"version": "v1"})
    assert verify_record(verify_key(settings), "alias", "models/m/aliases/champion.json", doc) == doc
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600
    # bound to its kind and object key: not valid under another name
    with pytest.raises(IntegrityError):
        verify_record(verify_key(settings), "alias", "models/other/aliases/champion.json", doc)


def test_a_verify_only_component_cannot_sign(tmp_path) -> None:
    private, public = generate_keypair()
    signer = load_settings(env={}, overrides={"registry.signing_key": private, "data_dir": str(tmp_path)})
    verifier = load_settings(env={}, overrides={"registry.verify_key": public, "data_dir": str(tmp_path)})
    doc = sign_record(signing_key(signer), "metadata", "k", {"a": 1})
    assert verify_record(verify_key(verifier), "metadata", "k", doc)["a"] == 1
    with pytest.raises(ConfigError, match="only the verify key"):
        signing_key(verifier)
    assert not (tmp_path / KEY_FILE).exists()  # configured keys never fall back to a local pair


def test_a_pod_without_keys_is_told_which_secrets_to_create(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    settings = load_settings(env={}, overrides={"data_dir": str(tmp_path)})
    with pytest.raises(ConfigError, match="driftloop-verify"):
        verify_key(settings)
    with pytest.raises(ConfigError, match="driftloop-signing"):
        signing_key(settings)


def test_a_malformed_key_is_one_line(tmp_path) -> None:
    settings = load_settings(env={}, overrides={"registry.verify_key": "nope", "data_dir": str(tmp_path)})
    with pytest.raises(ConfigError, match=r"registry\.verify_key is not a base64 Ed25519 key"):
        verify_key(settings)


def test_the_local_executor_runs_a_step_with_an_optional_secret_unset(settings) -> None:
    """A signing step's template names the optional Secret driftloop-signing; the local executor has no
    Secrets, so it runs the step with the variable unset — as a pod without that Secret — while a
    required Secret is still refused."""
    from driftloop.errors import WorkflowError
    from driftloop.local.executor import run_workflow
    from tests.unit.executor_helpers import sh, workflow

    env = [{"name": "K", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k", "optional": True}}}]
    step = sh("main", 'test -z "${K+set}" && echo unset')
    step["container"]["env"] = env
    result = run_workflow(workflow([step]), {}, settings)
    assert result.phase == "Succeeded" and result.nodes[0].result == "unset"
    env[0]["valueFrom"]["secretKeyRef"].pop("optional")
    with pytest.raises(WorkflowError, match="valueFrom"):
        run_workflow(workflow([step]), {}, settings)


def test_keys_made_at_once_by_many_agree(tmp_path, monkeypatch) -> None:
    """Steps and the sensor start together on a new data_dir: every one gets the same signing key and
    the same embedded S3 credentials, never a half-written file."""
    from concurrent.futures import ThreadPoolExecutor

    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from driftloop.s3 import credentials

    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    settings = load_settings(env={}, overrides={"data_dir": str(tmp_path)})

    def both(_: int) -> tuple[bytes, tuple[str, str]]:
        public = signing_key(settings).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return public, credentials(settings)

    with ThreadPoolExecutor(16) as pool:
        results = set(pool.map(both, range(64)))
    assert len(results) == 1
    assert not [p for p in (tmp_path / "keys").iterdir() if p.name.startswith(".")]
