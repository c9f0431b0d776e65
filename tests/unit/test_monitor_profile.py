"""Reference profile: serialisation, integrity, inference of column kinds, definitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from driftloop.errors import DataError, IntegrityError
from monitors import ColumnSpec, MonitorDefinition, ReferenceProfile, build_profile, run_check
from monitors.datasets import make_credit


def test_roundtrip_keeps_everything() -> None:
    ref = make_credit(3000, seed=0)
    prof = build_profile(ref, MonitorDefinition(model="credit", target="default"), model_version="7")
    back = ReferenceProfile.from_bytes(prof.to_bytes())
    assert back.fingerprint == prof.fingerprint
    assert back.model_version == "7"
    assert back.definition == prof.definition
    assert np.array_equal(back.columns["income"].values, np.sort(ref["income"].to_numpy()))
    assert back.columns["employment"].counts == ref["employment"].value_counts().to_dict()
    assert back.columns["default"].role == "target"
    assert back.sample is not None and len(back.sample) == 3000
    w = make_credit(1000, seed=5)
    assert run_check(back, w).to_dict()["columns"] == run_check(prof, w).to_dict()["columns"]


def test_tampered_profile_is_rejected() -> None:
    raw = bytearray(build_profile(make_credit(2000), MonitorDefinition(model="credit")).to_bytes())
    raw[-10] ^= 0xFF
    with pytest.raises(IntegrityError):
        ReferenceProfile.from_bytes(bytes(raw))
    with pytest.raises(DataError):
        ReferenceProfile.from_bytes(b"not a profile")


def test_kind_inference_follows_evidently() -> None:
    from evidently.core.datasets import infer_column_type

    df = pd.DataFrame(
        {
            "f": np.linspace(0, 1, 100),
            "i_few": np.arange(100) % 5,
            "i_many": np.arange(100),
            "s": ["a", "b"] * 50,
            "b": [True, False] * 50,
        }
    )
    prof = build_profile(df, MonitorDefinition(model="m"))
    for name in df.columns:
        assert prof.columns[name].kind[:3] == infer_column_type(df[name]).value, name


def test_declared_kind_and_stattest_are_used() -> None:
    ref = make_credit(3000, seed=0)
    definition = MonitorDefinition(
        model="credit",
        features=[
            ColumnSpec(name="open_accounts", kind="categorical"),
            ColumnSpec(name="income", stattest="psi", threshold=0.2),
            "age",
        ],
    )
    result = run_check(build_profile(ref, definition), make_credit(2000, seed=1, drift=0.8))
    assert set(result.columns) == {"open_accounts", "income", "age"}
    assert result.columns["open_accounts"].kind == "categorical"
    assert result.columns["income"].test == "psi"
    assert result.columns["income"].threshold == 0.2


def test_definition_validation_and_hash() -> None:
    a = MonitorDefinition(model="credit")
    assert a.config_hash() == MonitorDefinition(model="credit", schedule="*/5 * * * *").config_hash()
    assert a.config_hash() != MonitorDefinition(model="credit", drift_share=0.3).config_hash()
    assert a.drift_share == 0.5 and a.schedule == "0 * * * *"
    with pytest.raises(ValidationError):
        MonitorDefinition(model="credit", schedule="hourly")
    with pytest.raises(ValidationError):
        MonitorDefinition(model="credit", features=["a", "a"])
    with pytest.raises(ValidationError):
        MonitorDefinition(model="credit", unknown=1)  # type: ignore[call-arg]
