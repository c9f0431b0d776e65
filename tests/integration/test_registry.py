from __future__ import annotations

import io

import joblib
import pytest

from driftloop.errors import DataError, IntegrityError, UsageError
from driftloop.registry import Registry
from driftloop.s3 import S3Store

pytestmark = pytest.mark.integration


def model_bytes(value: int) -> bytes:
    buf = io.BytesIO()
    joblib.dump({"weights": [value]}, buf)
    return buf.getvalue()


def test_versions_aliases_promote_rollback(stack, bucket) -> None:
    reg = Registry(S3Store(stack.settings, bucket=bucket))
    v1 = reg.register(
        "churn",
        model_bytes(1),
        metrics={"auc": 0.8},
        lineage={"event_id": "e1", "reason": "manual"},
        reference_profile=b"profile",
        data_snapshots=["s3://x/d1.parquet"],
    )
    v2 = reg.register(
        "churn", model_bytes(2), metrics={"auc": 0.85}, lineage={"event_id": "e2", "reason": "drift"}
    )
    assert (v1.version, v2.version) == ("v1", "v2")
    assert [v.version for v in reg.versions("churn")] == ["v1", "v2"]
    assert reg.models() == ["churn"]
    assert reg.get_file("churn", "v1", "reference_profile.bin") == b"profile"
    assert reg.get("churn", "v2").lineage["event_id"] == "e2"

    reg.promote("churn", "v1")
    reg.set_alias("churn", "canary", "v2")
    assert reg.aliases("churn") == {"champion": "v1", "canary": "v2"}
    assert reg.load_model("churn", "canary")[1] == {"weights": [2]}
    assert reg.rollback("churn") == "v1"  # drops the canary
    assert reg.aliases("churn") == {"champion": "v1", "canary": None}
    reg.promote("churn", "v2")
    assert reg.rollback("churn") == "v1"  # no canary: previous champion comes back
    assert reg.resolve("churn", "latest").version == "v2"
    reg.record("churn", "v2", "canary_analysis", {"verdict": "rollback"})
    assert reg.get("churn", "v2").records["canary_analysis"]["verdict"] == "rollback"


def test_tampered_model_is_refused(stack, bucket) -> None:
    store = S3Store(stack.settings, bucket=bucket)
    reg = Registry(store)
    reg.register("fraud", model_bytes(7))
    store.put_bytes("models/fraud/v1/model.joblib", model_bytes(8))  # someone swaps the file
    with pytest.raises(IntegrityError, match="sha256"):
        reg.load_model("fraud", "v1")


def test_bad_names_and_missing_versions(stack, bucket) -> None:
    reg = Registry(S3Store(stack.settings, bucket=bucket))
    with pytest.raises(UsageError):
        reg.register("Bad_Name", b"x")
    with pytest.raises(DataError, match="no version"):
        reg.get("ghost", "v1")
    with pytest.raises(DataError, match="no champion"):
        reg.resolve("ghost", "champion")
