"""What one request body and one feature value may be (pure functions, no server): the JSON value count and
nesting limits of :func:`driftloop.serving.app.parse_json`, the INT*/UINT* ranges of V2 tensors and the
scalar check of V1 feature values — all one-line 4xx errors, never a model error."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftloop.errors import DataError
from driftloop.serving.app import BodyError, BodyLimits, parse_json
from driftloop.serving.body import SPLIT_BYTES, _Splitter
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


# --- a large body is parsed in pieces: the same values as json.loads, and the event loop keeps its turns ---
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False)
    | st.text(alphabet=st.sampled_from('ab,[]{}":\\ é\n'), max_size=8),
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=4), children, max_size=6)
    ),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(value=JSON_VALUES, indent=st.sampled_from([None, 0, 2]), piece=st.sampled_from([1, 4, 16, 1 << 16]))
def test_the_splitter_reads_what_json_loads_reads(value: Any, indent: int | None, piece: int) -> None:
    text = json.dumps(value, indent=indent, ensure_ascii=False)
    assert _Splitter(text, 64, piece).parse() == json.loads(text)


@settings(max_examples=300, deadline=None)
@given(
    value=JSON_VALUES,
    at=st.integers(min_value=0),
    cut=st.integers(0, 2),
    insert=st.sampled_from(list(',]}[{" x')),
)
def test_the_splitter_refuses_what_json_loads_refuses(value: Any, at: int, cut: int, insert: str) -> None:
    text = json.dumps(value)
    at %= len(text) + 1
    broken = text[:at] + insert + text[at + cut :]
    try:
        expected: Any = json.loads(broken)
    except ValueError:
        expected = ValueError
    for piece in (1, 8, 1 << 16):
        try:
            got: Any = _Splitter(broken, 64, piece).parse()
        except ValueError:
            got = ValueError
        assert got == expected, (broken, piece)


@pytest.mark.parametrize(
    "text",
    ["[1,2,]", "[1,,2]", "[,1]", '{"a":1,}', "[1 2]", '{"a" 1}', "[1]x", "", "  ", "[", '{"a":[1,2,]}'],
)
def test_the_splitter_refuses_malformed_json(text: str) -> None:
    for piece in (1, 2, 1 << 16):
        with pytest.raises(ValueError):
            _Splitter(text, 64, piece).parse()


@pytest.mark.parametrize("layout", ["v1 objects", "v1 rows", "v2 flat", "v2 nested", "v2 strings"])
def test_a_large_body_is_parsed_in_pieces_of_at_most_64_kb(layout: str, monkeypatch: Any) -> None:
    """What bounds the event loop's pause while a thread parses: no single call into json's C code (which
    holds the GIL throughout) parses more than a piece of the body."""
    row = [12345.678] * 25
    v2: Any = {"name": "x", "shape": [10_000, 25], "datatype": "FP64"}
    body: Any = {
        "v1 objects": {"instances": [{f"f{j}": v for j, v in enumerate(row)} for _ in range(10_000)]},
        "v1 rows": {"instances": [row] * 10_000},
        "v2 flat": {"inputs": [{**v2, "data": row * 10_000}]},
        "v2 nested": {"inputs": [{**v2, "data": [row] * 10_000}]},
        "v2 strings": {"inputs": [{**v2, "datatype": "BYTES", "data": ["a,]}[b"] * 250_000}]},
    }[layout]
    raw = json.dumps(body).encode()
    assert len(raw) > SPLIT_BYTES
    spans: list[int] = []
    loads = json.loads
    monkeypatch.setattr(json, "loads", lambda text: spans.append(len(text)) or loads(text))
    splitter = _Splitter(raw.decode(), 32)
    scan = splitter.scan

    def recorded(text: str, i: int) -> Any:
        value, end = scan(text, i)
        spans.append(end - i)
        return value, end

    splitter.scan = recorded
    assert splitter.parse() == body
    assert spans and max(spans) <= 64 * 1024 + 2, max(spans)


def test_a_v2_tensor_of_too_many_rows_is_refused_before_its_values_are_copied() -> None:
    body = {"inputs": [{"name": "a", "shape": [10_001], "datatype": "FP64", "data": [1.0] * 10_001}]}
    with pytest.raises(DataError, match="10001 rows: send at most 10000"):
        v2_instances(body, ["a"], max_rows=10_000)
