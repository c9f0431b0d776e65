"""Go's semantics, pinned once for both of their callers: the local sensor (Argo Events' filters and Go
templates) and the local executor (Argo Workflows' expressions and sprig) — see driftloop.gosemantics."""

from __future__ import annotations

from typing import Any

import pytest

from driftloop.gosemantics import GoRegexpError, quote, regexp, trunc
from driftloop.local.executor.expr import evaluate, evaluate_govaluate
from driftloop.local.executor.exprvalues import ExprError
from driftloop.local.sensor.filters import SpecError, evaluate_filters
from driftloop.local.sensor.gotemplate import TemplateError, render


def _sensor_admits(pattern: str, value: str) -> bool:
    dependency = {"filters": {"data": [{"path": "body.model", "type": "string", "value": [pattern]}]}}
    return evaluate_filters(dependency, {"body": {"model": value}}).passed


def _executor_matches(pattern: str, value: str) -> bool:
    return bool(evaluate("sprig.regexMatch(p, v)", {"p": pattern, "v": value}))


def _sprig(fn: str, *args: Any) -> Any:
    names = [f"a{i}" for i in range(len(args))]
    return evaluate(f"sprig.{fn}({', '.join(names)})", dict(zip(names, args, strict=True)))


# --- regular expressions: RE2, `$` is the end of the text ------------------------------------------------
@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("^credit$", "credit", True),
        ("^credit$", "credit\n", False),  # Python's re would match before the final newline
        (r"^a\$$", "a$", True),
        ("[$]x$", "$x", True),
    ],
)
def test_dollar_is_the_end_of_the_text_for_both_callers(pattern: str, value: str, expected: bool) -> None:
    assert bool(regexp(pattern).search(value)) is expected
    assert _sensor_admits(pattern, value) is expected
    assert _executor_matches(pattern, value) is expected
    assert bool(evaluate_govaluate("v =~ p", {"v": value, "p": pattern})) is expected


def test_what_go_refuses_is_refused_by_both_callers() -> None:
    for pattern in ("(?=x)", r"(a)\1"):  # look-ahead and back-references are not RE2
        with pytest.raises(GoRegexpError):
            regexp(pattern)
        with pytest.raises(SpecError, match="not a regular expression"):
            _sensor_admits(pattern, "x")
        with pytest.raises(ExprError, match="error parsing regexp"):
            _sprig("mustRegexMatch", pattern, "x")


# --- strings are bytes -----------------------------------------------------------------------------------
def test_trunc_counts_bytes_for_both_callers() -> None:
    text = "éa"  # é is two bytes in UTF-8
    assert trunc(2, text) == "é" and trunc(1, text) == "\ufffd" and trunc(-1, text) == "a"
    assert trunc(10, text) == text
    assert render('{{ trunc 2 "éa" }}', {}) == "é"
    assert render("{{ .x | trunc 1 }}", {"x": text}) == "\ufffd"
    assert _sprig("trunc", 2, text) == "é" and _sprig("trunc", 1, text) == "\ufffd"


def test_quote_escapes_as_strconv_quote_for_both_callers() -> None:
    text = 'say "hi"\\\n\x01é'
    expected = '"say \\"hi\\"\\\\\\n\\x01é"'
    assert quote(text) == expected
    assert render("{{ .x | quote }}", {"x": text}) == expected
    assert _sprig("quote", text) == expected


def test_template_string_literals_read_as_strconv_unquote() -> None:
    assert render('{{ "é\\tx" }}', {}) == "é\tx"  # UTF-8 text stays text (it was read as Latin-1)
    assert render('{{ "\\xc3\\xa9" }}', {}) == "é"  # \x escapes are bytes
    assert render('{{ "\\u00e9\\101" }}', {}) == "éA"
    with pytest.raises(TemplateError, match="escape"):
        render('{{ "\\q" }}', {})
