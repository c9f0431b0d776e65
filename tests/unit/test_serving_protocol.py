"""The V1 / V2 request shapes, the canary plan read from the registry record, and the shadow queue's
bound — pure functions and objects, no services."""

from __future__ import annotations

from typing import Any

import pytest

from driftloop.errors import DataError
from driftloop.serving.metrics import ServingMetrics
from driftloop.serving.protocol import v1_instances, v2_datatype, v2_instances, v2_response
from driftloop.serving.shadow import ShadowJob, ShadowRunner
from driftloop.serving.slots import CanaryPlan, LoadedModel

FEATURES = ["a", "b"]


def tensor(name: str, shape: list[int], datatype: str, data: Any) -> dict[str, Any]:
    return {"name": name, "shape": shape, "datatype": datatype, "data": data}


def test_one_tensor_per_feature() -> None:
    body = {
        "id": "r1",
        "inputs": [tensor("a", [2], "INT64", [1, 2]), tensor("b", [2, 1], "BYTES", ["x", "y"])],
    }
    assert v2_instances(body, FEATURES) == ([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}], "r1")


@pytest.mark.parametrize("data", [[[1.5, 2.5], [3.5, 4.5], [5.5, 6.5]], [1.5, 2.5, 3.5, 4.5, 5.5, 6.5]])
def test_one_2d_tensor_nested_or_flat_row_major(data: Any) -> None:
    rows, rid = v2_instances({"inputs": [tensor("x", [3, 2], "FP32", data)]}, FEATURES)
    assert rows == [{"a": 1.5, "b": 2.5}, {"a": 3.5, "b": 4.5}, {"a": 5.5, "b": 6.5}] and rid is None


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"inputs": []}, '"inputs"'),
        ({"inputs": [tensor("x", [3, 3], "FP32", [0.0] * 9)]}, "has 3 columns, the model has 2 features"),
        ({"inputs": [tensor("a", [2], "FP64", [1.0])]}, "has 1 values, shape [2] needs 2"),
        ({"inputs": [tensor("a", [2], "INT32", [1, 2.5])]}, "data[1] is 2.5, not an integer"),
        ({"inputs": [tensor("a", [1], "BOOL", [1])]}, "not true/false"),
        ({"inputs": [tensor("a", [1], "FP64", [float("-inf")])]}, "is -Infinity"),
        ({"inputs": [tensor("a", [1, 2, 3], "FP64", [0.0] * 6)]}, "shape must be [N] or [N, F]"),
        (
            {"inputs": [tensor("a", [2], "FP64", [1.0, 2.0]), tensor("b", [3], "FP64", [1.0] * 3)]},
            "[2] or [2, 1]",
        ),
        ({"inputs": [tensor("a", [1], "FP64", [1.0]), tensor("a", [1], "FP64", [2.0])]}, "twice"),
        ({"inputs": [{"name": "a", "shape": [1], "data": [1]}]}, "inputs[0] lacks datatype"),
        ({"id": 7, "inputs": [tensor("a", [1], "FP64", [1.0])]}, "id must be a non-empty string"),
    ],
)
def test_malformed_v2_is_one_line_naming_the_field(body: Any, says: str) -> None:
    with pytest.raises(DataError) as err:
        v2_instances(body, FEATURES)
    assert says in err.value.message and "\n" not in err.value.message, err.value.message


def test_v1_rows_become_feature_objects() -> None:
    assert v1_instances({"instances": [[1, 2], {"a": 3, "b": 4}]}, FEATURES) == {
        "instances": [{"a": 1, "b": 2}, {"a": 3, "b": 4}]
    }
    with pytest.raises(DataError, match="instances\\[0\\] has 3 values"):
        v1_instances({"instances": [[1, 2, 3]]}, FEATURES)


def test_v2_response_shape() -> None:
    reply = {
        "model": "m",
        "model_version": "v2",
        "route": "champion",
        "request_id": "r",
        "ids": ["r-0", "r-1"],
        "predictions": [0, 1],
        "probabilities": [0.9, 0.8],
    }
    out = v2_response(reply)
    assert (out["model_name"], out["model_version"], out["id"]) == ("m", "v2", "r")
    assert out["outputs"][0] == {"name": "predict", "shape": [2], "datatype": "INT64", "data": [0, 1]}
    assert out["outputs"][1]["name"] == "probability"
    assert [v2_datatype(v) for v in ([True], [1.5, 2], ["x"])] == ["BOOL", "FP64", "BYTES"]


def test_canary_plan_from_the_record_with_defaults_for_bad_fields() -> None:
    assert CanaryPlan.from_record({"strategy": "shadow", "fraction": 0.5, "step": 2}) == CanaryPlan(
        "shadow", 0.5, 2
    )
    assert CanaryPlan.from_record({"fraction": 0.2, "target": "local"}) == CanaryPlan("canary", 0.2, 0)
    assert CanaryPlan.from_record({"strategy": "blue-green", "fraction": 7, "step": "x"}) == CanaryPlan()
    assert CanaryPlan.from_record(None) == CanaryPlan()


def test_canary_plan_reads_as_words_in_the_log() -> None:
    assert str(CanaryPlan("canary", 0.1, 2)) == "canary 10% of requests (step 2)"
    assert str(CanaryPlan()) == "canary the server's canary_fraction"
    assert str(CanaryPlan("shadow")) == "shadow (every request, mirrored)"
    assert "CanaryPlan(" not in f"{CanaryPlan('shadow', 0.5)}"


class _Model:
    feature_names_in_ = FEATURES

    def predict(self, x: Any) -> Any:
        return [0] * len(x)


def test_a_full_shadow_queue_drops_and_counts() -> None:
    metrics = ServingMetrics()
    runner = ShadowRunner(metrics, lambda *a: None, queue_size=1)  # not started: nothing drains it
    job = ShadowJob(LoadedModel("m", "v2", _Model()), [{"a": 1, "b": 2}], ["r"])
    assert runner.submit(job) is True
    assert runner.submit(job) is False
    assert metrics.shadow.labels("m", "v2", "dropped")._value.get() == 1
