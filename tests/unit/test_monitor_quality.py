"""Bad windows give a data-quality result (or a clear error) and never a drift event."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from driftloop.errors import DataError
from driftloop.events import DATA_QUALITY
from monitors import MonitorDefinition, build_profile, run_check
from monitors.datasets import make_credit


@pytest.fixture(scope="module")
def profile():  # type: ignore[no-untyped-def]
    return build_profile(make_credit(5000, seed=0), MonitorDefinition(model="credit", min_rows=200))


@pytest.fixture
def window() -> pd.DataFrame:
    # A strongly drifted window: each bad-input case below must still yield no drift event.
    return make_credit(3000, seed=1, drift=1.0)


def _codes(result) -> set[str]:  # type: ignore[no-untyped-def]
    return {p.code for p in result.quality if p.severity == "error"}


def _assert_quality(result, code: str) -> None:  # type: ignore[no-untyped-def]
    assert result.status == "quality"
    assert code in _codes(result)
    assert result.dataset_drift is False
    assert result.columns == {}
    event = result.to_event()
    assert event.type == DATA_QUALITY


def test_drifted_window_is_drift(profile, window) -> None:  # type: ignore[no-untyped-def]
    assert run_check(profile, window).status == "drift"  # the control for the cases below


def test_empty_window(profile, window) -> None:  # type: ignore[no-untyped-def]
    _assert_quality(run_check(profile, window.iloc[:0]), "empty_window")


def test_window_below_minimum(profile, window) -> None:  # type: ignore[no-untyped-def]
    _assert_quality(run_check(profile, window.iloc[:199]), "too_few_rows")


def test_missing_column(profile, window) -> None:  # type: ignore[no-untyped-def]
    _assert_quality(run_check(profile, window.drop(columns=["income"])), "missing_columns")


def test_extra_column(profile, window) -> None:  # type: ignore[no-untyped-def]
    _assert_quality(run_check(profile, window.assign(request_id=range(len(window)))), "extra_columns")


def test_extra_column_listed_in_ignore_columns_is_fine(window) -> None:  # type: ignore[no-untyped-def]
    definition = MonitorDefinition(model="credit", ignore_columns=("request_id",))
    prof = build_profile(make_credit(5000, seed=0), definition)
    result = run_check(prof, window.assign(request_id=range(len(window))))
    assert result.status == "drift"


def test_all_nan_column(profile, window) -> None:  # type: ignore[no-untyped-def]
    _assert_quality(run_check(profile, window.assign(income=np.nan)), "all_missing")


def test_mostly_missing_column(profile, window) -> None:  # type: ignore[no-untyped-def]
    w = window.copy()
    w.loc[w.index[: int(len(w) * 0.8)], "credit_score"] = np.nan
    _assert_quality(run_check(profile, w), "missing_values")


def test_wrong_dtype(profile, window) -> None:  # type: ignore[no-untyped-def]
    _assert_quality(
        run_check(profile, window.assign(age=window["age"].astype(str) + " years")), "dtype_mismatch"
    )


def test_categorical_with_a_million_values(profile) -> None:  # type: ignore[no-untyped-def]
    n = 1_000_000
    w = make_credit(n, seed=3)
    w["region"] = pd.Series(np.arange(n)).astype(str).radd("r")
    result = run_check(profile, w)
    _assert_quality(result, "too_many_categories")
    assert result.duration_s < 30


def test_unseen_categories(profile, window) -> None:  # type: ignore[no-untyped-def]
    _assert_quality(run_check(profile, window.assign(purpose="crypto")), "unseen_categories")


def test_a_few_unseen_categories_are_a_warning(profile) -> None:  # type: ignore[no-untyped-def]
    w = make_credit(3000, seed=4)
    w.loc[w.index[:30], "purpose"] = "crypto"
    result = run_check(profile, w)
    assert result.status == "ok"
    assert [p.code for p in result.quality if p.severity == "warning"] == ["unseen_categories"]


def test_reference_with_an_empty_column_is_an_error() -> None:
    ref = make_credit(2000, seed=0).assign(income=np.nan)
    with pytest.raises(DataError, match="income"):
        build_profile(ref, MonitorDefinition(model="credit"))


def test_empty_reference_is_an_error() -> None:
    with pytest.raises(DataError, match="empty"):
        build_profile(make_credit(10).iloc[:0], MonitorDefinition(model="credit"))
