"""The bucket is not a trust boundary — on the real embedded S3, written with the bucket's own credentials.

Anyone with the S3 keys (the user's train step, a server pod) can write any object. Whatever steers
driftloop is signed with a key they do not hold (:mod:`driftloop.signing`), so:

* a submission written into ``sensor/submissions/`` is never run by the local sensor's runner;
* a rewritten alias pointer is refused and logged, and the model server keeps the last verified champion;
* a rewritten ``canary_deploy`` record (traffic routing) is refused;
* records without signatures (a registry from before) name ``driftloop registry resign``.
"""

from __future__ import annotations

import io
import logging
import time
from pathlib import Path

import joblib
import pytest

from driftloop.errors import IntegrityError
from driftloop.registry import Registry

pytestmark = pytest.mark.integration


def _model(constant: int) -> bytes:
    from sklearn.dummy import DummyClassifier

    buf = io.BytesIO()
    joblib.dump(DummyClassifier(strategy="constant", constant=constant).fit([[0], [1]], [0, 1]), buf)
    return buf.getvalue()


def _evil_workflow(name: str) -> dict[str, object]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": name},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {
                    "name": "main",
                    "container": {"image": "busybox", "command": ["sh", "-c", "echo pwned"]},
                }
            ],
        },
    }


def test_a_submission_written_through_the_bucket_is_never_executed(registry, tmp_path, caplog) -> None:
    from driftloop.local.sensor.submission import Runner, SubmissionStore

    settings = registry.store.settings
    evil = {
        "name": "evil",
        "model": "credit",
        "status": "queued",
        "created_at": time.time(),
        "workflow": _evil_workflow("evil"),
    }
    # written with the bucket's credentials, as the filer or any bucket writer could
    registry.store.put_json("sensor/submissions/evil.json", evil)
    # a signed one with its workflow swapped afterwards is refused too
    submissions = SubmissionStore(registry.store)
    assert submissions.create({**evil, "name": "swapped", "workflow": {"kind": "Workflow"}})
    swapped = registry.store.get_json("sensor/submissions/swapped.json")
    registry.store.put_json("sensor/submissions/swapped.json", {**swapped, "workflow": evil["workflow"]})

    runner = Runner(settings, submissions, tmp_path / "templates")
    with caplog.at_level(logging.ERROR, logger="driftloop.sensor"):
        resumed = runner.resume()  # what `up` does at start-up
    runner.shutdown(wait=True)
    assert resumed == 0
    # never started: a run writes its record before its first pod (a pod's own writes stay in its sandbox)
    runs = Path(settings.data_dir) / "runs"
    assert not runs.exists() or list(runs.iterdir()) == []
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert any("evil.json" in m and "not signed" in m for m in refused), refused
    assert any("swapped.json" in m and "signature does not match" in m for m in refused), refused


def test_a_forged_alias_is_refused_and_logged(registry, caplog) -> None:
    from driftloop.serving.metrics import ServingMetrics
    from driftloop.serving.slots import ModelSlots

    registry.register("credit", _model(0))
    registry.promote("credit", "v1")
    registry.register("credit", _model(1))
    registry.promote("credit", "v2")
    slots = ModelSlots(registry, "credit", ServingMetrics(), poll_s=0.1)
    slots.refresh()
    assert slots.champion is not None and slots.champion.version == "v2"

    key = "models/credit/aliases/champion.json"
    signed = registry.store.get_json(key)
    forgeries = [
        {"version": "v1", "reason": "rollback"},  # the attack: unsigned, back to an old version
        {**signed, "version": "v1"},  # a signed pointer with its version changed
    ]
    # a correctly signed pointer of another alias, copied over the champion
    registry.set_alias("credit", "canary", "v1")
    forgeries.append(registry.store.get_json("models/credit/aliases/canary.json"))
    registry.clear_alias("credit", "canary")
    for forged in forgeries:
        registry.store.put_json(key, forged)
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            with pytest.raises(IntegrityError):
                registry.get_alias("credit", "champion")
            slots.refresh()  # the server's poll
        assert slots.champion.version == "v2"  # still the last verified champion
        logged = " ".join(r.getMessage() for r in caplog.records)
        assert "refused" in logged and "champion.json" in logged, logged
    history = registry.history("credit")
    assert [h["to"] for h in history if h["alias"] == "champion"] == ["v1", "v2"]


def test_a_forged_canary_deploy_record_is_refused(registry) -> None:
    registry.register("credit", _model(0))
    registry.promote("credit", "v1")
    registry.register("credit", _model(1))
    registry.set_alias("credit", "canary", "v2")
    registry.record("credit", "v2", "canary_deploy", {"strategy": "canary", "fraction": 0.1})
    assert registry.get("credit", "v2").records["canary_deploy"]["fraction"] == 0.1
    key = "models/credit/v2/metadata.json"
    meta = registry.store.get_json(key)
    meta["records"]["canary_deploy"]["fraction"] = 1.0  # all traffic to the canary
    registry.store.put_json(key, meta)
    with pytest.raises(IntegrityError, match="signature does not match"):
        registry.get("credit", "v2")


def test_unsigned_records_name_resign_and_resign_signs_them(registry, tmp_path) -> None:
    from driftloop.registry_resign import resign

    registry.register("credit", _model(0))
    registry.promote("credit", "v1")
    store = registry.store
    # a registry written before signing: no signatures, the old pointer and history shapes
    meta = store.get_json("models/credit/v1/metadata.json")
    store.put_json("models/credit/v1/metadata.json", {**meta, "signature": ""})
    store.put_json("models/credit/aliases/champion.json", {"version": "v1", "reason": "promote"})
    store.put_json("models/credit/history.json", [{"alias": "champion", "from": None, "to": "v1", "at": 1.0}])
    with pytest.raises(IntegrityError, match="driftloop registry resign"):
        Registry(store).get_alias("credit", "champion")
    # a model file that no longer matches its recorded sha256 is not signed by resign
    registry.register("credit", _model(1))
    meta2 = store.get_json("models/credit/v2/metadata.json")
    store.put_json("models/credit/v2/metadata.json", {**meta2, "signature": ""})
    store.put_bytes("models/credit/v2/model.joblib", b"changed")

    report = resign(Registry(store))
    fresh = Registry(store)
    assert fresh.get_alias("credit", "champion") == "v1"
    assert fresh.history("credit")[0]["to"] == "v1"
    assert fresh.load_model("credit", "champion")[1].predict([[0]]).tolist() == [0]
    assert any("v2" in line and "sha256" in line for line in report.skipped), report
    with pytest.raises(IntegrityError):
        fresh.get("credit", "v2")


def test_a_forged_run_record_is_not_trusted_and_keyless_steps_report_apart(registry, caplog) -> None:
    """The run record feeds the outcome event and the CLI's report: written through the bucket it is
    ignored (logged); a keyless step's writes (the user's evaluate, a train error) land in its unsigned
    part, where only the error lines are read as the step's own words."""
    from driftloop.s3 import S3Store
    from driftloop.signing import generate_keypair
    from workflows.steps.context import read_run_record, record_error, update_run_record
    from workflows.steps.outcome import outcome_event

    settings = registry.store.settings
    from pydantic import SecretStr

    signing, verify = generate_keypair()
    keys = {"signing_key": SecretStr(signing), "verify_key": verify}
    signer = settings.model_copy(update={"registry": settings.registry.model_copy(update=keys)})
    keyless = settings.model_copy(
        update={"registry": settings.registry.model_copy(update={"verify_key": verify})}
    )
    run = f"retrain-credit-{time.time_ns()}"
    update_run_record(signer, "credit", run, version="v3", verdict="promote", promoted="v3")
    update_run_record(keyless, "credit", run, evaluate={"gate": {"passed": True, "reason": "trust me"}})
    record_error(keyless, "credit", run, "train", "the trainer raised ValueError")
    record = read_run_record(keyless, "credit", run)
    assert record["version"] == "v3" and record["promoted"] == "v3"
    assert record["errors"] == {"train": "the trainer raised ValueError"}
    assert "evaluate" not in record and record["reported"]["evaluate"]["gate"]["reason"] == "trust me"

    # a bucket writer rewrites the signed record: it is ignored, and said so
    key = f"retrain-runs/credit/{run}.json"
    forged = {**S3Store(settings).get_json(key), "version": "v1", "promoted": "v1"}
    S3Store(settings).put_json(key, forged)
    caplog.set_level(logging.WARNING)
    record = read_run_record(keyless, "credit", run)
    assert "version" not in record and "promoted" not in record
    assert "run record" in caplog.text and "signature does not match" in caplog.text
    event = outcome_event("credit", "Succeeded", record, workflow_name=run)
    assert event.data["version"] == "" and event.data["stage"] != "promoted"
