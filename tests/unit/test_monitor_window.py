"""Inference-log windows: records shaped as the model server logs them become feature-only frames."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

from monitors import MonitorDefinition, build_profile, run_check
from monitors.datasets import FEATURES, TARGET, make_credit
from monitors.window import frame_from_records


def _logged(df: pd.DataFrame, model: str = "credit", fail_every: int = 0) -> list[dict[str, Any]]:
    """Flat records as ``driftloop.serving.service`` logs them (``error`` instead of prediction and
    probability for a failed prediction), round-tripped through JSON like the Kafka value."""
    out = []
    for i, row in enumerate(df[FEATURES].to_dict("records")):
        rec: dict[str, Any] = dict(row)
        if fail_every and i % fail_every == 0:
            rec["error"] = "ValueError: bad input"
        else:
            rec["prediction"] = i % 2
            rec["probability"] = 0.5 + (i % 7) / 20
        rec.update(
            model=model, model_version="v3", request_id=f"r-{i}", timestamp=1732500000000 + i, latency_ms=1.2
        )
        out.append(json.loads(json.dumps(rec)))
    return out


@pytest.fixture(scope="module")
def profile() -> Any:
    # As the retrain workflow registers it: inferred features, the target, no prediction column.
    return build_profile(make_credit(5000, seed=0), MonitorDefinition(model="credit", target=TARGET))


def test_logged_window_has_only_feature_columns_and_passes_an_inferred_check(profile: Any) -> None:
    records = _logged(make_credit(800, seed=1), fail_every=9)
    records += _logged(make_credit(50, seed=2), model="other")  # another model's records: skipped
    frame = frame_from_records(records, "credit")
    assert list(frame.columns) == FEATURES
    assert len(frame) == 800  # failed predictions keep their inputs
    result = run_check(profile, frame)
    assert [p.code for p in result.quality] == [], result.quality
    assert result.status == "ok"
    assert set(result.columns) == set(FEATURES)  # the absent target is not checked, not a problem
    assert result.target_drift is None


def test_logged_prediction_goes_to_the_definitions_prediction_column() -> None:
    records = _logged(make_credit(300, seed=3), fail_every=10)
    frame = frame_from_records(records, "credit", prediction="predicted_default")
    assert list(frame.columns) == [*FEATURES, "predicted_default"]
    assert frame["predicted_default"].isna().sum() == 30  # the failed ones
    nested = frame_from_records(
        [
            {
                "model": "credit",
                "features": [{"age": 30}, {"age": 40}],
                "predictions": [1, 0],
                "request_id": "x",
            }
        ],
        "credit",
        prediction="predicted_default",
    )
    assert nested.to_dict("records") == [
        {"age": 30, "predicted_default": 1},
        {"age": 40, "predicted_default": 0},
    ]


def test_logged_metadata_is_an_extra_column_problem_only_if_kept(profile: Any) -> None:
    """Guard for the test above: the same records with their metadata kept do fail the schema check."""
    frame = pd.DataFrame.from_records(_logged(make_credit(300, seed=4)))
    result = run_check(profile, frame)
    extra = next(p for p in result.quality if p.code == "extra_columns")
    for key in ("prediction", "probability", "model_version", "request_id", "latency_ms"):
        assert key in extra.message


def test_shadow_copies_are_not_traffic() -> None:
    """A shadow's record is a copy of a request the champion answered (``route: shadow``): it neither doubles
    the drift window nor adds a ``route`` column (nor a second prediction to join labels with)."""
    served = {"age": 41, "income": 5.0, "prediction": 1, "model": "credit", "model_version": "v1"}
    served["request_id"] = "r1"
    shadow = {**served, "model_version": "v2", "prediction": 0, "route": "shadow"}
    frame = frame_from_records([served, shadow], model="credit", log_fields=True)
    assert len(frame) == 1 and "route" not in frame.columns
    assert frame["prediction"].tolist() == [1]
