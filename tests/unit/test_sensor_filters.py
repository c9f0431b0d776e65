"""Argo Events filter semantics, parameter mapping and the Go template subset of the local sensor."""

from __future__ import annotations

import hashlib

import pytest

from driftloop.local.sensor.filters import SpecError, evaluate_filters
from driftloop.local.sensor.gotemplate import TemplateError, render
from driftloop.local.sensor.mapping import MappingError, apply_parameters, resolve_source
from driftloop.local.sensor.path import MISSING, as_string, get

DATA = {
    "body": {
        "id": "ev-1",
        "type": "io.driftloop.drift.detected",
        "data": {
            "model": "credit",
            "dataset_drift": True,
            "drift_share": 0.6,
            "report_uri": None,
            "cols": [1, 2],
        },
    }
}


def dep(data=None, exprs=None, **ops):
    filters = {k: v for k, v in {"data": data, "exprs": exprs}.items() if v is not None}
    filters.update({k: v for k, v in ops.items() if k != "filtersLogicalOperator"})
    out = {"name": "d", "filters": filters}
    if "filtersLogicalOperator" in ops:
        out["filtersLogicalOperator"] = ops["filtersLogicalOperator"]
    return out


def passed(data=None, exprs=None, **ops) -> bool:
    return evaluate_filters(dep(data, exprs, **ops), DATA).passed


def test_paths_follow_gjson() -> None:
    assert get(DATA, "body.data.model") == "credit"
    assert get(DATA, "body.data.cols.1") == 2
    assert get(DATA, "body.data.cols.#") == 2
    assert get(DATA, "body.data.mod*") == "credit"
    assert get(DATA, "body.nope") is MISSING
    assert get({"a.b": 1}, "a\\.b") == 1
    assert as_string(1.0) == "1" and as_string(None) == "" and as_string({"a": 1}) == '{"a":1}'


def test_string_values_are_unanchored_regexes() -> None:
    assert passed([{"path": "body.data.model", "type": "string", "value": ["red"]}])  # like regexp.Match
    assert not passed([{"path": "body.data.model", "type": "string", "value": ["^red"]}])
    assert passed([{"path": "body.data.model", "type": "string", "value": ["^x$", "^credit$"]}])
    assert passed([{"path": "body.data.model", "type": "string", "comparator": "!=", "value": ["^iris$"]}])
    assert not passed(
        [{"path": "body.data.model", "type": "string", "comparator": "!=", "value": ["credit"]}]
    )


@pytest.mark.parametrize(
    ("comparator", "value", "expected"),
    [
        (">=", "0.6", True),
        (">", "0.6", False),
        ("=", "0.6", True),
        ("", "0.6", True),
        ("!=", "0.6", False),
        ("<", "0.7", True),
        ("<=", "0.5", False),
    ],
)
def test_number_comparators(comparator: str, value: str, expected: bool) -> None:
    f = {"path": "body.data.drift_share", "type": "number", "comparator": comparator, "value": [value]}
    assert passed([f]) is expected


def test_bool_missing_path_and_template() -> None:
    assert passed([{"path": "body.data.dataset_drift", "type": "bool", "value": ["true"]}])
    assert not passed([{"path": "body.data.dataset_drift", "type": "bool", "value": ["false"]}])
    assert not passed([{"path": "body.data.absent", "type": "bool", "value": ["true"]}])
    upper = {
        "path": "body.data.model",
        "type": "string",
        "value": ["^CREDIT$"],
        "template": "{{ .Input | upper }}",
    }
    assert passed([upper])


def test_logical_operators() -> None:
    good = {"path": "body.data.model", "type": "string", "value": ["^credit$"]}
    bad = {"path": "body.data.model", "type": "string", "value": ["^iris$"]}
    assert not passed([good, bad])
    assert passed([good, bad], dataLogicalOperator="or")
    share = [{"expr": "s >= 0.9", "fields": [{"name": "s", "path": "body.data.drift_share"}]}]
    assert not passed([good], share)
    assert passed([good], share, filtersLogicalOperator="or")
    with pytest.raises(SpecError):
        passed([good], dataLogicalOperator="AND")


def test_expr_filters() -> None:
    def expr(text: str, *fields: tuple[str, str]) -> bool:
        return passed(exprs=[{"expr": text, "fields": [{"name": n, "path": p} for n, p in fields]}])

    assert expr("s >= 0.5 && m == 'credit'", ("s", "body.data.drift_share"), ("m", "body.data.model"))
    assert not expr("s > 0.6", ("s", "body.data.drift_share"))
    assert not expr("s > 0", ("s", "body.data.nothing"))  # a missing path is false, not an error
    assert not expr("__import__('os')", ("s", "body.data.drift_share"))  # never eval


def test_templates() -> None:
    name = render(
        "retrain-{{ .Input.body.data.model | lower }}-{{ .Input.body.id | sha256sum | trunc 10 }}",
        {"Input": DATA},
    )
    assert name == "retrain-credit-" + hashlib.sha256(b"ev-1").hexdigest()[:10]
    assert render("{{ .Input.x }}", {"Input": {}}) == "<no value>"
    assert (
        render('{{ .Input.x | default "none" }}|{{ quote "a" }}|{{ upper "b" }}', {"Input": {}})
        == 'none|"a"|B'
    )
    with pytest.raises(TemplateError):
        render("{{ exec .Input }}", {"Input": {}})


def test_parameter_sources_fall_through_like_argo() -> None:
    assert resolve_source({"dataKey": "body.data.model"}, DATA) == "credit"
    assert resolve_source({"dataTemplate": "{{ .Input.body.nope }}", "dataKey": "body.id"}, DATA) == "ev-1"
    assert resolve_source({"dataKey": "body.nope", "value": "dflt"}, DATA) == "dflt"
    assert resolve_source({"dataKey": "body.data.report_uri", "value": "x"}, DATA) == ""  # null exists
    with pytest.raises(MappingError):
        resolve_source({"dataKey": "body.nope"}, DATA)


def test_dest_and_operations() -> None:
    resource = {
        "metadata": {"name": "x"},
        "spec": {"arguments": {"parameters": [{"name": "a", "value": "1"}]}},
    }
    params = [
        {"src": {"dataKey": "body.id"}, "dest": "metadata.name"},
        {"src": {"value": "-s"}, "dest": "metadata.name", "operation": "append"},
        {"src": {"value": "p-"}, "dest": "metadata.name", "operation": "prepend"},
        {"src": {"dataKey": "body.data.model"}, "dest": "spec.arguments.parameters.0.value"},
        {"src": {"value": "new"}, "dest": "metadata.labels.k"},
    ]
    out, applied = apply_parameters(resource, params, DATA)
    assert out["metadata"]["name"] == "p-ev-1-s"
    assert out["spec"]["arguments"]["parameters"][0] == {"name": "a", "value": "credit"}
    assert out["metadata"]["labels"] == {"k": "new"}
    assert resource["metadata"]["name"] == "x"  # the spec's resource is never mutated
    assert applied["spec.arguments.parameters.0.value"] == "credit"
