"""A model file can never run code unless driftloop signed it — on the real embedded S3.

The attack: someone who can write to the bucket replaces a version's ``model.joblib`` with a pickle that
runs a command when loaded, and rewrites ``metadata.json`` with the matching sha256. The registry (the
server, ``evaluate``'s champion, ``registry promote``) must refuse it because the signature does not
match; ``evaluate`` must refuse a challenger file whose sha256 differs from the one the train step
reported (an output parameter, not a file in the bucket). The
end state: the command never ran and the champion was never replaced by an unverified artifact.
"""

from __future__ import annotations

import hashlib
import io
import pickle
from pathlib import Path

import joblib
import pytest

from driftloop.errors import IntegrityError
from driftloop.registry import Registry
from driftloop.signing import seal, signing_key, unseal
from tests.faults.hostile import Boom

pytestmark = pytest.mark.integration


def _good_model() -> bytes:
    from sklearn.dummy import DummyClassifier

    buf = io.BytesIO()
    joblib.dump(DummyClassifier().fit([[0], [1]], [0, 1]), buf)
    return buf.getvalue()


def test_replaced_file_and_metadata_are_refused_everywhere(registry: Registry, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    registry.register("credit", _good_model())
    registry.promote("credit", "v1")
    registry.register("credit", _good_model())
    # the attacker rewrites v2's file and its metadata consistently (sha256 included)
    evil = pickle.dumps(Boom(marker))
    registry.store.put_bytes("models/credit/v2/model.joblib", evil)
    meta = registry.store.get_json("models/credit/v2/metadata.json")
    meta["sha256"] = hashlib.sha256(evil).hexdigest()
    registry.store.put_json("models/credit/v2/metadata.json", meta)

    with pytest.raises(IntegrityError, match="signature does not match"):
        registry.load_model("credit", "v2")
    with pytest.raises(IntegrityError):
        registry.promote("credit", "v2")  # `registry promote` of an unverified version
    with pytest.raises(IntegrityError):
        registry.set_alias("credit", "canary", "v2")
    assert registry.get_alias("credit", "champion") == "v1" and registry.get_alias("credit", "canary") is None
    _, champion = registry.load_model("credit", "champion")  # the signed v1 still loads
    assert champion.predict([[1]]).shape == (1,)
    # stripping the signature does not help either
    meta["signature"] = ""
    registry.store.put_json("models/credit/v2/metadata.json", meta)
    with pytest.raises(IntegrityError, match="not signed"):
        registry.load_model("credit", "v2")
    assert not marker.exists()


def test_the_model_server_refuses_an_unsigned_champion(registry: Registry, tmp_path: Path) -> None:
    import httpx

    from driftloop.serving import ModelServer

    marker = tmp_path / "pwned-server"
    registry.register("credit", _good_model())
    registry.promote("credit", "v1")
    evil = pickle.dumps(Boom(marker))
    registry.store.put_bytes("models/credit/v1/model.joblib", evil)
    meta = registry.store.get_json("models/credit/v1/metadata.json")
    meta["sha256"] = hashlib.sha256(evil).hexdigest()
    registry.store.put_json("models/credit/v1/metadata.json", meta)
    settings = registry.store.settings
    with (
        ModelServer(settings, "credit", registry=registry, port=0, poll_s=0.2) as server,
        httpx.Client(base_url=server.url) as http,
    ):
        ready = http.get("/readyz")
        assert ready.status_code == 503 and "signature" in str(ready.json()["errors"]["credit"]["champion"])
    assert not marker.exists()


def test_a_challenger_changed_after_training_is_refused(registry: Registry, tmp_path: Path) -> None:
    from workflows.steps.evaluate import challenger_bytes

    good = _good_model()
    path = tmp_path / "challenger"
    path.write_bytes(good)
    reported = hashlib.sha256(good).hexdigest()  # train's model_sha256 output parameter
    assert challenger_bytes(path, reported) == good
    marker = tmp_path / "pwned-challenger"
    path.write_bytes(pickle.dumps(Boom(marker)))  # replaced in the artifact repository
    with pytest.raises(IntegrityError, match="modified after training"):
        challenger_bytes(path, reported)
    with pytest.raises(IntegrityError, match="without the train step's sha256"):
        challenger_bytes(path, "")
    assert not marker.exists()


def test_a_sealed_estimator_needs_the_signing_key(registry: Registry, tmp_path: Path) -> None:
    from driftloop.signing import generate_keypair, verify_key

    key = signing_key(registry.store.settings)
    good = _good_model()
    sealed = seal(key, good)
    pub = verify_key(registry.store.settings)
    assert unseal(pub, sealed, "estimator") == good
    evil = pickle.dumps(Boom(tmp_path / "pwned-estimator"))
    head = sealed.partition(b"\n")[0]
    with pytest.raises(IntegrityError, match="seal does not match"):
        unseal(pub, head + b"\n" + evil, "estimator")
    with pytest.raises(IntegrityError, match="not a sealed"):
        unseal(pub, evil, "estimator")
    other = registry.store.settings.model_copy(
        update={
            "registry": registry.store.settings.registry.model_copy(
                update={"verify_key": generate_keypair()[1]}
            )
        }
    )
    with pytest.raises(IntegrityError):
        unseal(verify_key(other), sealed, "estimator")


def test_alias_and_history_change_together_or_not_at_all(registry: Registry) -> None:
    from driftloop.errors import ConnectionError_

    registry.register("credit", _good_model())
    registry.promote("credit", "v1")
    registry.register("credit", _good_model())
    history = registry.history("credit")
    real_put_json = registry.store.put_json

    def failing_history(key: str, obj: object) -> str:
        if key.endswith("history.json"):
            raise ConnectionError_("S3 put_object failed: SlowDown", "check S3 access")
        return real_put_json(key, obj)

    registry.store.put_json = failing_history  # type: ignore[method-assign]
    with pytest.raises(ConnectionError_):
        registry.promote("credit", "v2")
    with pytest.raises(ConnectionError_):
        registry.set_alias("credit", "canary", "v2")
    registry.store.put_json = real_put_json  # type: ignore[method-assign]
    assert registry.aliases("credit") == {"champion": "v1", "canary": None}
    assert registry.history("credit") == history
