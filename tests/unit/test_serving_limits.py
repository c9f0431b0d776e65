"""What one request body and one feature value may be (pure functions, no server): the JSON value count and
nesting limits of :func:`driftloop.serving.app.parse_json`, the INT*/UINT* ranges of V2 tensors and the
scalar check of V1 feature values — all one-line 4xx errors, never a model error."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from driftloop.errors import DataError
from driftloop.serving.app import BodyError, BodyLimits, parse_json
from driftloop.serving.protocol import v2_instances
from driftloop.serving.service import PredictionService

LIMITS = BodyLimits(max_body=1 << 20, max_values=1000, max_depth=8)


def test_a_body_within_the_limits_parses_with_a_stable_digest() -> None:
    raw = json.dumps({"instances": [{"a": i, "b": "x,y[z]{"} for i in range(100)]}).encode()
    value, digest = parse_json(raw, LIMITS)
    assert len(value["instances"]) == 100
    assert digest == parse_json(raw, LIMITS)[1] != parse_json(raw + b" ", LIMITS)[1]


def test_the_value_count_is_an_upper_bound_in_c_time_even_for_millions_of_strings() -> None:
    """Commas and brackets count inside strings too (cheaply: no regular expression over the strings,
    which took 8 s on 8M short strings, holding the GIL)."""
    raw = b"[" + b",".join([b'"a"'] * 4_000_000) + b"]"
    started = time.perf_counter()
    with pytest.raises(BodyError, match="more than 1000 JSON values"):
        parse_json(raw, LIMITS)
    assert time.perf_counter() - started < 2.0
    assert parse_json(json.dumps({"text": "," * 500}).encode(), LIMITS)[0]["text"] == "," * 500


@pytest.mark.parametrize(
    ("raw", "status", "says"),
    [
        (b"[" + b",".join([b"[1]"] * 2000) + b"]", 413, "more than 1000 JSON values"),
        (b"[" * 9 + b"1" + b"]" * 9, 400, "over 8 deep"),
        (b'{"a":' * 9 + b"1" + b"}" * 9, 400, "over 8 deep"),
        (b"[" * 100_000 + b"]" * 100_000, 413, "JSON values"),
        (b"{not json", 400, "not valid JSON"),
    ],
)
def test_bodies_over_the_limits_are_refused_in_one_line(raw: bytes, status: int, says: str) -> None:
    with pytest.raises(BodyError) as info:
        parse_json(raw, LIMITS)
    assert info.value.status == status and says in info.value.message
    assert "\n" not in info.value.message


def test_deep_nesting_within_the_value_limit_is_refused_not_a_recursion_crash() -> None:
    deep = BodyLimits(max_body=1 << 22, max_values=1_000_000, max_depth=32)
    with pytest.raises(BodyError, match="over 32 deep"):
        parse_json(b"[" * 200_000 + b"]" * 200_000, deep)


@pytest.mark.parametrize(
    ("datatype", "value", "ok"),
    [
        ("INT8", 127, True),
        ("INT8", 128, False),
        ("UINT8", -1, False),
        ("INT64", 2**63 - 1, True),
        ("INT64", 2**63, False),
        ("INT64", 10**400, False),
        ("UINT64", 2**64 - 1, True),
        ("FP64", 10**400, False),
    ],
)
def test_v2_values_beyond_their_datatype_are_a_data_error(datatype: str, value: int, ok: bool) -> None:
    body = {"inputs": [{"name": "a", "shape": [1], "datatype": datatype, "data": [value]}]}
    if ok:
        assert v2_instances(body, ["a"])[0] == [{"a": value}]
    else:
        with pytest.raises(DataError, match="beyond") as info:
            v2_instances(body, ["a"])
        assert len(info.value.message) < 200


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ({"x": 1}, "an object"),
        ([], "an array"),
        (10**400, "beyond 64 bits"),
        (-(2**63) - 1, "beyond 64 bits"),
        (float("nan"), "NaN"),
    ],
)
def test_v1_feature_values_must_be_scalars_within_64_bits(value: Any, says: str) -> None:
    with pytest.raises(DataError, match=says):
        PredictionService._parse({"instances": [{"age": value}]})


@pytest.mark.parametrize("value", [None, True, "text", 2**64 - 1, -(2**63), 1.5])
def test_v1_scalar_feature_values_pass(value: Any) -> None:
    assert PredictionService._parse({"instances": [{"age": value}]})[0] == [{"age": value}]


class _Fitted:
    """Stands for an estimator fitted on two named features (only its attributes are read here)."""

    feature_names_in_ = ("a", "b")


def test_kinds_scored_are_learned_for_the_models_features_only() -> None:
    from driftloop.serving.slots import LoadedModel

    served = LoadedModel("m", "v1", _Fitted())
    served.note_scored([{"a": 1, "b": "x", f"extra-{i}": i} for i in range(1000)])
    assert served.scored_kinds == {"a": {"a number"}, "b": {"a string"}}  # a client's extra keys: not kept
    assert served.unscored_kind([{"a": 2.5, "b": "y", "zzz": []}]) is None
    blamed = served.unscored_kind([{"a": 1, "b": 3}])
    assert blamed == "instances[0].b is a number, and m v1 has only scored a string"
