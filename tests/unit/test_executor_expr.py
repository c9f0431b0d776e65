"""The ``when`` evaluator follows govaluate as Argo uses it (bare words are strings), without eval()."""

from __future__ import annotations

import pytest

from driftloop.errors import WorkflowError
from driftloop.local.executor.expr import evaluate, evaluate_when
from driftloop.local.executor.template import render


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("heads == heads", True),
        ("tails == heads", False),
        ("false == true", False),
        ("Failed != Succeeded", True),
        ("5 > 3 && 2 < 1", False),
        ("5 > 3 || 2 < 1", True),
        ("!(1 == 2)", True),
        ("'a b' == \"a b\"", True),
        ("abc =~ '^a'", True),
        ("abc !~ '^a'", False),
        ("10 >= 10.0", True),
        ("'5' == 5", False),
        ("drift in ('drift', 'manual')", True),
        ("(1 + 2) * 3 == 9", True),
    ],
)
def test_when(text: str, expected: bool) -> None:
    assert evaluate_when(text) is expected


def test_when_rejects_non_boolean_and_garbage() -> None:
    with pytest.raises(WorkflowError, match="true or false"):
        evaluate_when("5 + 1")
    with pytest.raises(WorkflowError):
        evaluate_when("a == (b")
    with pytest.raises(WorkflowError):
        evaluate_when("__import__('os') == 1")


def test_expression_with_variables_and_ternary() -> None:
    v = {"tasks.a.outputs.result": "heads", "tasks.b.outputs.result": "B", "tasks.c.outputs.result": None}
    assert (
        evaluate("tasks.a.outputs.result == 'heads' ? tasks.b.outputs.result : tasks.c.outputs.result", v)
        == "B"
    )
    assert evaluate("tasks.c.outputs.result ?? 'none'", v) == "none"


def test_render_leaves_unknown_tags() -> None:
    assert render("{{ a }}-{{b}}-{{c.d}}", {"a": "1", "b": "2"}) == "1-2-{{c.d}}"
