"""Argo expressions (``{{=...}}``, ``valueFrom.expression``) follow expr-lang and Argo's function set.

Unit tests of the evaluator (grammar, precedence, ``??``, ternaries, member / bracket access, types,
each function) and small workflows of our own run end to end. The semantics come from expr-lang's
source (parser, checker, vm/runtime, builtins), Argo's ``util/expr/env`` and ``util/template`` and
sprig v3; an unknown name, an unsupported function or a type error is an error naming it, never a
literal string or a guessed value.
"""

from __future__ import annotations

import datetime
import hashlib
from typing import Any

import pytest

from driftloop.errors import WorkflowError
from driftloop.local.executor import run_workflow
from driftloop.local.executor.expr import (
    evaluate,
    evaluate_govaluate,
    evaluate_when,
    format_value,
    render_expression,
)
from driftloop.local.executor.exprvalues import go_json, go_sprint
from driftloop.local.executor.template import render, unresolved
from tests.unit.executor_helpers import sh, workflow

wf = workflow

SCOPE: dict[str, Any] = {
    "steps.flip-coin.outputs.result": "heads",
    "steps.flip-coin.status": "Succeeded",
    "steps.flip-coin.exitCode": "0",
    "tasks.make-num.outputs.parameters.n-value": "21",
    "inputs.parameters.should-print": "true",
    "inputs.parameters.n": "3",
    "inputs.parameters.json": '{"a": {"b": [1, 2, 3]}, "name": "x", '
    '"employees": [{"name": "Ann", "age": 43}, {"name": "Bo", "age": 50}]}',
    "inputs.parameters": '[{"name": "n", "value": "3"}]',
    "retries": "2",
    "item": "it",
    "workflow.name": "wf-1",
    "workflow.parameters.mode": "fast",
    "workflow.parameters": '[{"name": "mode", "value": "fast"}]',
    "tasks.skipped.outputs.result": None,
}


def ev(text: str, scope: dict[str, Any] | None = None) -> Any:
    """Evaluate as valueFrom.expression does (the raw expr-lang value)."""
    return evaluate(text, SCOPE if scope is None else scope)


def tag(text: str) -> str:
    """Evaluate as a ``{{=...}}`` tag does (the text Argo writes)."""
    return render_expression(text, SCOPE)


# ------------------------------------------------------------------------------------------------
# grammar


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42", 42),
        ("0x2A", 42),
        ("0o52", 42),
        ("0b101010", 42),
        ("1_000", 1000),
        ("0.5", 0.5),
        (".5", 0.5),
        ("1e3", 1000.0),
        ("'single'", "single"),
        ('"double"', "double"),
        (r"'tab\there'", "tab\there"),
        (r"'\u00e9\x41\101'", "éAA"),
        ("`raw\\n`", "raw\\n"),
        ("nil", None),
        ("true", True),
        ("false", False),
        ("[1, 'a', nil, true]", [1, "a", None, True]),
        ("[1, 2,]", [1, 2]),
        ("{a: 1, 'b-c': 2, 3: 'x'}", {"a": 1, "b-c": 2, "3": "x"}),
        ("{('k' + 'ey'): 1}", {"key": 1}),
        ("1 /* a comment */ + 1 // another", 2),
    ],
)
def test_literals(text: str, expected: Any) -> None:
    value = ev(text)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 - 2 - 3", 5),
        ("2 ** 3 ** 2", 512.0),  # right-associative
        ("-2 ** 2", -4.0),  # ** binds tighter than unary minus
        ("7 / 2", 3.5),  # / is always a float division
        ("-7 % 3", -1),  # Go: the sign follows the dividend
        ("1 + 2 == 3 && 4 > 3", True),
        ("true || false && false", True),
        ("not true == false", True),  # (not true) == false
        ("!(1 == 2)", True),
        ("1 < 2 < 3", True),  # chained comparison: 1 < 2 && 2 < 3
        ("3 > 2 > 2", False),
        ("'a' + 'b' == 'ab'", True),
        ("1..3", [1, 2, 3]),
        ("[1, 2, 3] | filter(# > 1) | map(# * 10)", [20, 30]),
        ("'x' | upper()", "X"),
        ("let x = 3; x * x", 9),
        ("if 1 > 2 { 'a' } else if false { 'b' } else { 'c' }", "c"),
        ("1 + (nil ?? 2)", 3),
    ],
)
def test_precedence_and_operators(text: str, expected: Any) -> None:
    assert ev(text) == expected


def test_ternaries() -> None:
    assert ev("steps['flip-coin'].outputs.result == 'heads' ? 'H' : 'T'") == "H"
    assert ev("1 > 2 ? 'a' : 2 > 1 ? 'b' : 'c'") == "b"  # nested, right to left
    assert ev("true ?: 'x'") is True  # Elvis form
    with pytest.raises(WorkflowError, match="non-bool expression"):
        ev("1 ? 'a' : 'b'")  # expr-lang's checker: a known non-bool condition
    with pytest.raises(WorkflowError, match="not bool"):
        ev("inputs.parameters.n ? 'a' : 'b'")  # a string at run time


def test_nil_coalescing_follows_expr_lang() -> None:
    assert ev("inputs.parameters.missing ?? 'default'") == "default"  # a missing key of a map is nil
    assert ev("tasks.skipped.outputs.result ?? 'none'") == "none"  # a present nil
    assert ev("inputs.parameters.n ?? 'default'") == "3"
    assert ev("nil ?? nil ?? 'last'") == "last"
    with pytest.raises(WorkflowError, match="unknown name undefined_name"):
        ev("undefined_name ?? 'x'")  # an unknown top-level name: expr-lang's compile error
    with pytest.raises(WorkflowError, match="cannot be mixed"):
        ev("nil ?? 1 + 1")


def test_member_and_bracket_access() -> None:
    assert ev("steps['flip-coin'].outputs.result") == "heads"
    assert ev('steps["flip-coin"]["outputs"].result') == "heads"
    assert ev("inputs.parameters['should-print'] == 'true'") is True
    assert ev("tasks['make-num'].outputs.parameters['n-value']") == "21"
    assert ev("workflow.parameters.mode") == "fast"  # the JSON list `workflow.parameters` gives way
    assert ev("[10, 20, 30][-1]") == 30
    assert ev("[10, 20, 30][1:]") == [20, 30]
    assert ev("{a: {b: 1}}.a.b") == 1
    assert ev("{a: nil}?.a?.b") is None  # optional chaining
    assert ev("$env.retries") == "2"
    with pytest.raises(WorkflowError, match="cannot fetch result from <nil>"):
        ev("steps.nope.result")  # fetching from nil is an error
    with pytest.raises(WorkflowError, match="index out of range"):
        ev("[1, 2][5]")
    with pytest.raises(WorkflowError, match="type string has no field x"):
        ev("retries.x")


def test_types_are_checked_like_expr_lang() -> None:
    assert ev("[1][0] == '1'") is False  # == never converts (types known only at run time)
    assert ev("1 == 1.0") is True
    assert ev("inputs.parameters.n == 3") is False  # a string, known only at run time
    assert ev("asInt(inputs.parameters.n) == 3") is True
    assert ev("asInt(retries) > 1") is True
    with pytest.raises(WorkflowError, match=r"invalid operation: > \(mismatched types string and int\)"):
        ev("retries > 1")  # retries is a string: expr-lang's checker refuses it
    with pytest.raises(WorkflowError, match="mismatched types string and int"):
        ev("item == 1")
    with pytest.raises(WorkflowError, match="mismatched types string and int"):
        ev("'1' == 1")  # literals: the checker knows both types
    with pytest.raises(WorkflowError, match="invalid operation: string \\+ int"):
        ev("inputs.parameters.n + 1")
    with pytest.raises(WorkflowError, match="mismatched types bool and string"):
        ev("true && 'x'")
    with pytest.raises(WorkflowError, match="integer divide by zero"):
        ev("1 % 0")


def test_syntax_errors_say_where() -> None:
    for text, message in [
        ("1 +", "unexpected token EOF"),
        ("(1", "unexpected token EOF"),
        ("'open", "literal not terminated"),
        ("1 2", 'unexpected token Number\\("2"\\)'),
    ]:
        with pytest.raises(WorkflowError, match=message):
            ev(text)


def test_python_is_never_evaluated() -> None:
    with pytest.raises(WorkflowError, match="unknown name __import__"):
        ev("__import__('os').system('true')")
    with pytest.raises(WorkflowError):
        ev("().__class__")


# ------------------------------------------------------------------------------------------------
# functions


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("len([1, 2]) + len({a: 1}) + len('héllo')", 8),
        ("type(1) + type(1.5) + type('') + type(nil)", "intfloatstringnil"),
        ("abs(-3)", 3),
        ("ceil(1.2)", 2.0),
        ("floor(-1.2)", -2.0),
        ("round(2.5) + round(-2.5)", 0.0),  # half away from zero
        ("int('12') + int(3.9)", 15),
        ("float('1.5')", 1.5),
        ("string(1.0) + ' ' + string(1234567.0) + ' ' + string([1, 'a'])", "1 1.234567e+06 [1 a]"),
        ("trim('  a  ') + trim('__b__', '_')", "ab"),
        ("trimPrefix('HelloWorld', 'Hello') + trimSuffix('HelloWorld', 'World')", "WorldHello"),
        ("upper('a') + lower('B')", "Ab"),
        ("split('a,b,c', ',')", ["a", "b", "c"]),
        ("split('a,b,c', ',', 2)", ["a", "b,c"]),
        ("splitAfter('a,b', ',')", ["a,", "b"]),
        ("replace('aaa', 'a', 'b')", "bbb"),
        ("repeat('ab', 2)", "abab"),
        ("join(['a', 'b'], '-') + join(['c'])", "a-bc"),
        ("indexOf('apple pie', 'pie') + lastIndexOf('aXa', 'a')", 8),
        ("hasPrefix('abc', 'a') && hasSuffix('abc', 'c')", True),
        ("max(1, 2.5, [3]) + min(4, [2])", 5),
        ("mean([1, 2]) + median([3, 1, 2])", 3.5),
        ("toJSON({a: [1]})", '{\n  "a": [\n    1\n  ]\n}'),
        ("fromJSON('{\"a\": 1}').a", 1.0),  # JSON numbers are float64
        ("toBase64('hi') + fromBase64('aGk=')", "aGk=hi"),
        ("first([7, 8]) + last([7, 8])", 15),
        ("first([]) ?? 'empty'", "empty"),
        ("get({a: 1}, 'a') + get([5], 0)", 6),
        ("get({a: 1}, 'b') ?? 'none'", "none"),
        ("take([1, 2, 3], 2)", [1, 2]),
        ("keys({a: 1})", ["a"]),
        ("values({a: 'v'})", ["v"]),
        ("toPairs({a: 1})", [["a", 1]]),
        ("fromPairs([['a', 1]])", {"a": 1}),
        ("reverse([1, 2])", [2, 1]),
        ("uniq([1, 1, 2])", [1, 2]),
        ("concat([1], [2])", [1, 2]),
        ("flatten([1, [2, [3]]])", [1, 2, 3]),
        ("sort([3, 1, 2])", [1, 2, 3]),
        ("sort(['b', 'a'], 'desc')", ["b", "a"]),
        ("bitand(6, 3) + bitor(4, 1) + bitxor(3, 1) + bitshl(1, 3) + bitshr(8, 2)", 2 + 5 + 2 + 8 + 2),
        ("bitnot(0)", -1),
    ],
)
def test_builtins(text: str, expected: Any) -> None:
    assert ev(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("filter([1, 2, 3], # > 1)", [2, 3]),
        ("filter([{n: 1}, {n: 2}], .n > 1)", [{"n": 2}]),
        ("map([1, 2], {# * 2})", [2, 4]),
        ("map(['a', 'b'], #index)", [0, 1]),
        ("all([1, 2], # > 0) && any([1, 2], # > 1) && none([1], # > 1) && one([1, 2], # > 1)", True),
        ("count([1, 2, 3], # > 1) + count([true, false])", 3),
        ("sum([1, 2.5]) + sum([1, 2], # * 10)", 33.5),
        ("find([1, 2, 3], # > 1)", 2),
        ("findIndex([1, 2, 3], # > 5)", -1),
        ("findLast([1, 2, 3], # < 3)", 2),
        ("findLastIndex([1, 2, 3], # < 3)", 1),
        ("groupBy(['a', 'bb', 'c'], len(#))", {1: ["a", "c"], 2: ["bb"]}),
        ("sortBy([{n: 2}, {n: 1}], .n)", [{"n": 1}, {"n": 2}]),
        ("sortBy([1, 3, 2], #, 'desc')", [3, 2, 1]),
        ("reduce(1..4, #acc + #)", 10),
        ("reduce([1, 2], #acc + #, 10)", 13),
        ("filter(['a.pdf', 'b.log'], {# endsWith '.pdf'})", ["a.pdf"]),
    ],
)
def test_predicate_builtins(text: str, expected: Any) -> None:
    assert ev(text) == expected


def test_string_and_membership_operators() -> None:
    assert ev("'abc' matches '^a' and 'abc' contains 'b' and 'abc' startsWith 'a' and 'abc' endsWith 'c'")
    assert ev("'abc' not matches 'z' and 'x' not in ['a'] and 'abc' not contains 'z'")
    assert ev("'a' in {a: 1} and 2 in [1, 2] and not (3 in [1, 2])")
    assert ev("inputs.parameters.missing matches 'x'") is False  # expr-lang: nil never matches
    with pytest.raises(WorkflowError, match="mismatched types nil and string"):
        ev("nil matches 'x'")  # ... but a nil literal is refused by the checker
    with pytest.raises(WorkflowError, match="error parsing regexp"):
        ev("'a' matches '('")


def test_argo_functions() -> None:
    assert ev("asInt('42') + asInt(1.9)") == 43
    assert ev("asFloat('1.5') * 2") == 3.0
    assert ev("toJson([1, 'a', {b: nil}])") == '[1,"a",{"b":null}]'
    assert ev("toJson(filter([1, 3], {# > 1}))") == "[3]"
    assert ev("jsonpath(inputs.parameters.json, '$.a.b[1]')") == 2.0
    assert ev("jsonpath(inputs.parameters.json, '$.a.b[*]')") == [1.0, 2.0, 3.0]
    assert ev("jsonpath(inputs.parameters.json, '$.employees[*].name')") == ["Ann", "Bo"]
    assert ev("jsonpath(inputs.parameters.json, '$.employees[0:1]')") == [{"name": "Ann", "age": 43.0}]
    assert ev("jsonpath(inputs.parameters.json, '$.employees[?(@.age>42 && @.age<44)].age')") == [43.0]
    assert ev("jsonpath(inputs.parameters.json, \"$.employees[?(@.name=='Bo')].age\")") == [50.0]
    assert ev("jsonpath(inputs.parameters.json, '$..name')") == ["x", "Ann", "Bo"]
    assert ev("jsonpath(inputs.parameters.json, '$.a.b.length')") == 3.0
    with pytest.raises(WorkflowError, match=r"invalid operation: int\(3\.5\)"):
        ev("asInt('3.5')")  # expr-lang's int() wants a base-10 integer string
    with pytest.raises(WorkflowError, match="too many arguments to call asInt"):
        ev("asInt('1', '2')")
    with pytest.raises(WorkflowError, match="key 'nope' not found"):
        ev("jsonpath(inputs.parameters.json, '$.nope')")
    with pytest.raises(WorkflowError, match="script selectors"):
        ev("jsonpath(inputs.parameters.json, '$.a.b[(@.length-1)]')")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sprig.trim('  x  ')", "x"),
        ("sprig.upper('a') + sprig.lower('B') + sprig.title('hello world')", "AbHello World"),
        ("sprig.untitle('Hello') + sprig.substr(1, 3, 'abcd') + sprig.repeat(2, 'x')", "hellobcxx"),
        ("sprig.trimAll('$', '$5$') + sprig.trimPrefix('-', '-a') + sprig.trimSuffix('-', 'b-')", "5ab"),
        ("sprig.nospace(' a b ') + sprig.trunc(2, 'hello') + sprig.trunc(-2, 'hello')", "abhelo"),
        ("sprig.abbrev(5, 'hello world')", "he..."),
        ("sprig.contains('b', 'abc') && sprig.hasPrefix('a', 'abc') && sprig.hasSuffix('c', 'abc')", True),
        ("sprig.quote('a\"b', 1) + ' ' + sprig.squote('x')", '"a\\"b" "1" \'x\''),
        ("sprig.cat('a', nil, 1)", "a 1"),
        ("sprig.indent(2, 'a\\nb') + '|' + sprig.nindent(1, 'c')", "  a\n  b|\n c"),
        ("sprig.replace('a', 'b', 'banana')", "bbnbnb"),
        ("sprig.plural('one', 'many', 2)", "many"),
        ("sprig.toString(1.5) + sprig.toString(nil)", "1.5<nil>"),
        (
            "sprig.b64enc('hi') + sprig.b64dec('aGk=') + sprig.b32enc('a') + sprig.b32dec('ME======')",
            "aGk=hiME======a",
        ),
        ("sprig.sha256sum('x')", hashlib.sha256(b"x").hexdigest()),
        ("sprig.sha1sum('x') + sprig.adler32sum('x')", hashlib.sha1(b"x").hexdigest() + "7929977"),
        (
            "sprig.atoi('12') + sprig.int('0x10') + sprig.int('12.9') + sprig.int('bad') + sprig.int64(2.7)",
            42,
        ),
        ("sprig.float64('2.5') + sprig.float64('x')", 2.5),
        ("sprig.add(1, '2', 3.7) + sprig.add1(1) + sprig.sub(5, 2) + sprig.mul(2, 3, '4')", 6 + 2 + 3 + 24),
        ("sprig.div(7, 2) + sprig.mod(-7, 2)", 2),
        ("sprig.max(1, '5', 3) + sprig.biggest(2, 1) + sprig.min(3, '1')", 8),
        ("sprig.maxf(1, 2.5) + sprig.minf(1.5, 3)", 4.0),
        ("sprig.floor('1.7') + sprig.ceil(1.2) + sprig.round(1.2345, 2)", 4.23),
        (
            "sprig.addf(0.1, 0.2) + sprig.add1f(1) + sprig.subf(1, 0.5) + sprig.mulf(2, 0.5)",
            0.3 + 2 + 0.5 + 1,
        ),
        ("sprig.divf(1, 4)", 0.25),
        ("sprig.toDecimal('777')", 511),
        ("sprig.until(3)", [0, 1, 2]),
        ("sprig.untilStep(1, 7, 3)", [1, 4]),
        ("sprig.seq(3) + '|' + sprig.seq(5, 3)", "1 2 3|5 4 3"),
        ("sprig.split('/', 'a/b')", {"_0": "a", "_1": "b"}),
        ("sprig.splitn('/', 2, 'a/b/c')", {"_0": "a", "_1": "b/c"}),
        ("sprig.splitList(',', 'a,b')", ["a", "b"]),
        ("sprig.toStrings([1, 'a', nil])", ["1", "a"]),
        ("sprig.join(',', sprig.list(1, 'a', nil))", "1,a"),
        ("sprig.sortAlpha(['b', 'a', 1])", ["1", "a", "b"]),
        ("sprig.first([1, 2]) + sprig.last([1, 2])", 3),
        ("sprig.rest([1, 2, 3])", [2, 3]),
        ("sprig.initial([1, 2, 3])", [1, 2]),
        ("sprig.reverse([1, 2])", [2, 1]),
        ("sprig.uniq([1, 1, 2])", [1, 2]),
        ("sprig.compact(['a', '', nil, 0, 'b'])", ["a", "b"]),
        ("sprig.append([1], 2)", [1, 2]),
        ("sprig.push([1], 2)", [1, 2]),
        ("sprig.prepend([1], 0)", [0, 1]),
        ("sprig.concat([1], [2, 3])", [1, 2, 3]),
        ("sprig.has(2, [1, 2]) && !sprig.has('2', [1, 2])", True),
        ("sprig.without([1, 2, 3], 2)", [1, 3]),
        ("sprig.slice([1, 2, 3], 1)", [2, 3]),
        ("sprig.dict('a', 1, 'b')", {"a": 1, "b": ""}),
        ("sprig.get({a: 'x'}, 'a') + sprig.get({a: 'x'}, 'b')", "x"),
        ("sprig.set({a: 1}, 'b', 2)", {"a": 1, "b": 2}),
        ("sprig.unset({a: 1, b: 2}, 'a')", {"b": 2}),
        ("sprig.hasKey({a: 1}, 'a')", True),
        ("sprig.keys({a: 1})", ["a"]),
        ("sprig.values({a: 1})", [1]),
        ("sprig.pick({a: 1, b: 2}, 'a')", {"a": 1}),
        ("sprig.omit({a: 1, b: 2}, 'a')", {"b": 2}),
        ("sprig.pluck('a', {a: 1}, {b: 2})", [1]),
        ("sprig.dig('a', 'b', 'def', {a: {b: 'found'}}) + sprig.dig('x', 'def', {a: 1})", "founddef"),
        ("sprig.default('d', '') + sprig.default('d', 'given') + sprig.default('d')", "dgivend"),
        ("sprig.empty('') && sprig.empty(0) && sprig.empty([]) && !sprig.empty('x')", True),
        ("sprig.coalesce(nil, '', 'c')", "c"),
        ("sprig.all(1, 'a') && !sprig.all(1, '') && sprig.any('', 1) && !sprig.any('', 0)", True),
        ("sprig.ternary('y', 'n', false)", "n"),
        ("sprig.fromJson('[1, 2]')", [1.0, 2.0]),
        ("sprig.fromJson('bad') ?? 'nil on bad JSON'", "nil on bad JSON"),
        ("sprig.toJson({a: '<'}) + sprig.toRawJson({a: '<'})", '{"a":"\\u003c"}{"a":"<"}'),
        ("sprig.toPrettyJson({a: 1})", '{\n  "a": 1\n}'),
        ("sprig.regexMatch('^a.c$', 'abc') && !sprig.regexMatch('(', 'x')", True),
        ("sprig.regexFind('[0-9]+', 'ab12cd34')", "12"),
        ("sprig.regexFindAll('[0-9]+', 'a1b22c333', 2)", ["1", "22"]),
        ("sprig.regexReplaceAll('(a)(b)', 'xaby', '${2}$1')", "xbay"),
        ("sprig.regexReplaceAllLiteral('a', 'banana', '$1')", "b$1n$1n$1"),
        ("sprig.regexSplit(',+', 'a,,b,c', -1)", ["a", "b", "c"]),
        ("sprig.regexQuoteMeta('a.b')", "a\\.b"),
        (
            "sprig.base('/a/b.txt') + ' ' + sprig.dir('/a/b.txt') + ' ' + sprig.ext('b.tar.gz')",
            "b.txt /a .gz",
        ),
        ("sprig.clean('a//b/../c/') + ' ' + string(sprig.isAbs('/x'))", "a/c true"),
        ("sprig.typeOf(1) + sprig.kindOf([]) + string(sprig.kindIs('map', {}))", "intslicetrue"),
        ("sprig.typeIs('string', 'x') && sprig.deepEqual([1], [1]) && !sprig.deepEqual(1, 1.0)", True),
        ("len(sprig.uuidv4())", 36),
        ("sprig.hello()", "Hello!"),
        (
            "sprig.dateInZone('2006-01-02T15:04:05Z07:00 Mon Jan _2 3PM', 31539661, 'UTC')",
            "1971-01-01T01:01:01Z Fri Jan  1 1AM",
        ),
        ("sprig.dateInZone('02 Jan 06 15:04 -0700', 0, 'America/New_York')", "31 Dec 69 19:00 -0500"),
        ("sprig.htmlDateInZone(86400, 'UTC')", "1970-01-02"),
    ],
)
def test_sprig_functions(text: str, expected: Any) -> None:
    value = ev(text)
    if isinstance(expected, float):
        assert value == pytest.approx(expected)
    else:
        assert value == expected


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("sprig.nosuch('x')", "sprig.nosuch is not a function"),  # not a sprig function at all
        ("sprig.semver('1.0.0')", "sprig.semver is not supported by the local executor"),
        ("sprig.now()", "sprig.now is not supported by the local executor"),
        ("sprig.fail('boom')", "boom"),
        ("nosuchfn(1)", "unknown name nosuchfn"),
        ("now()", "the now\\(\\) function .* is not supported by the local executor"),
        ("duration('1h')", "the duration\\(\\) function"),
        ("b'bytes'", "bytes literals"),
        ("sprig.trim(5)", "reflect: Call using int as type string"),  # a Go type error, as reflect.Call
        ("upper(1)", "cannot use int as argument \\(type string\\) to call upper"),
        ("len(1)", "invalid argument for len \\(type int\\)"),
        ("filter('abc', # == 'a')", "builtin filter takes only array \\(got string\\)"),
    ],
)
def test_unsupported_or_wrong_things_are_errors_naming_them(text: str, named: str) -> None:
    with pytest.raises(WorkflowError, match=named):
        ev(text)


# ------------------------------------------------------------------------------------------------
# {{=...}} tags and valueFrom.expression results


def test_tag_results_are_written_as_argo_writes_them() -> None:
    assert tag("steps['flip-coin'].outputs.result") == "heads"  # a string as is
    assert tag("asInt(inputs.parameters.n) * 2") == "6"
    assert tag("7 / 2") == "3.5"
    assert tag("1e21 + 0") == "1e+21"  # Go's encoding/json float format
    assert tag("1 == 1") == "true"
    assert tag("[1, 'a', nil]") == '[1,"a",null]'
    assert tag("{b: 1, a: 'x<y'}") == '{"a":"x\\u003cy","b":1}'  # sorted keys, HTML-escaped as Go
    assert tag("toJson([1, 2])") == "[1,2]"
    with pytest.raises(WorkflowError, match="evaluated to nil"):
        tag("inputs.parameters.missing")
    assert tag("inputs.parameters.missing ?? ''") == ""


def test_tag_refuses_a_step_or_task_output_that_is_not_there() -> None:
    with pytest.raises(WorkflowError, match=r"steps\.flip-coin\.outputs\.reslt is missing"):
        tag("steps['flip-coin'].outputs.reslt == 'heads' ? 'a' : 'b'")  # never the wrong branch
    with pytest.raises(WorkflowError, match=r"tasks\.other is missing"):
        tag("tasks.other.outputs.result")
    # guarded by ??, the path may be absent, but fetching from the nil `tasks.other` still fails
    with pytest.raises(WorkflowError, match="cannot fetch outputs from <nil>"):
        tag("tasks.other.outputs.result ?? 'fallback'")
    assert tag("tasks.other?.outputs?.result ?? 'fallback'") == "fallback"
    assert tag("tasks.skipped.outputs.result ?? 'none'") == "none"


def test_format_value_is_go_percent_v() -> None:
    """valueFrom.expression results are stored with fmt's %v (AnyStringPtr)."""
    assert format_value("s") == "s"
    assert format_value(3) == "3"
    assert format_value(3.0) == "3"
    assert format_value(0.1) == "0.1"
    assert format_value(1234567.0) == "1.234567e+06"
    assert format_value(0.00001) == "1e-05"
    assert format_value(True) == "true"
    assert format_value([1, "a", None]) == "[1 a <nil>]"
    assert format_value({"b": 1, "a": [2]}) == "map[a:[2] b:1]"
    with pytest.raises(WorkflowError, match="nil"):
        format_value(None)


def test_go_value_formatting_helpers() -> None:
    assert go_sprint(100000.0) == "100000"
    assert go_sprint(-0.0001) == "-0.0001"
    assert go_json(1e-7) == "1e-7"
    assert go_json(123456789.0) == "123456789"
    assert (
        go_json({"a": [1, {"b": None}]}, indent="  ")
        == '{\n  "a": [\n    1,\n    {\n      "b": null\n    }\n  ]\n}'
    )
    with pytest.raises(WorkflowError, match="unsupported value"):
        go_json(float("inf"))


def test_render_substitutes_simple_and_expression_tags() -> None:
    scope = {k: v for k, v in SCOPE.items() if v is not None}
    text = "{{workflow.name}}:{{=upper(workflow.parameters.mode)}}:{{ inputs.parameters.n }}"
    assert render(text, scope) == "wf-1:FAST:3"
    # Bracket syntax is not a simple tag: Argo leaves it (and its validator does not check it).
    assert render("{{steps['flip-coin'].outputs.result}}", scope) == "{{steps['flip-coin'].outputs.result}}"
    assert unresolved("{{steps['x'].outputs.result}} == heads") == ["steps['x'].outputs.result"]
    # `{{ =x}}` (a space before =) is a simple tag named "=x" on Argo, not an expression.
    assert render("{{ =1+1}}", scope) == "{{ =1+1}}"
    with pytest.raises(
        WorkflowError, match=r"cannot evaluate expression tag .*sprig\.nosuch is not a function"
    ):
        render("{{=sprig.nosuch('x')}}", scope)


def test_when_keeps_govaluate_semantics() -> None:
    assert evaluate_when("heads == heads")  # bare words are strings
    assert not evaluate_when("tails == heads")
    rendered = render("{{=steps['flip-coin'].outputs.result == 'heads'}}", SCOPE)
    assert rendered == "true" and evaluate_when(rendered)
    rendered = render("{{=inputs.parameters['should-print']}} == true", SCOPE)
    assert evaluate_when(rendered)


def test_sprig_date_of_a_string_is_now_as_in_sprig() -> None:
    """Argo's example ``sprig.date('2006', workflow.creationTimestamp)``: sprig formats *now* for a string."""
    year = datetime.datetime.now().astimezone().year
    assert ev("sprig.date('2006', workflow.name)") in (str(year), str(year + 1))


def test_retry_expressions_see_argo_strings() -> None:
    """retryStrategy.expression: Argo's variables are strings (``lastRetry.exitCode`` is ``"1"``)."""
    scope = {
        "retries": "1",
        "lastRetry.exitCode": "2",
        "lastRetry.status": "Failed",
        "lastRetry.message": "x",
    }
    assert evaluate("asInt(lastRetry.exitCode) > 1 && lastRetry.status != 'Error'", scope) is True
    assert evaluate("lastRetry.exitCode != '2'", scope) is False
    assert evaluate("lastRetry.message matches 'imminent node shutdown|pod deleted'", scope) is False
    with pytest.raises(WorkflowError, match="mismatched types string and int"):
        evaluate("asInt(retries) < 3 && retries < 3", scope)


def test_govaluate_with_parameters_for_event_filters() -> None:
    """Argo Events' ``exprs`` filters are govaluate with named parameters (not expr-lang)."""
    params = {"s": 0.7, "m": "credit"}
    assert evaluate_govaluate("s >= 0.5 && m == 'credit'", params) is True
    assert evaluate_govaluate("m =~ '^cre'", params) is True
    assert evaluate_govaluate("m in ('debit', 'credit')", params) is True
    with pytest.raises(WorkflowError, match="No parameter 'x' found"):
        evaluate_govaluate("x > 1", params)
    assert evaluate_when("'caf\u00e9' == 'caf\u00e9' && 'a\\'b' == \"a'b\"")  # no escape decoding


# ------------------------------------------------------------------------------------------------
# workflows run end to end


def _coin_workflow(side: str) -> dict[str, Any]:
    """A coin whose side comes from a parameter; the chosen branch is picked by bracket-indexed ternaries."""
    main = {
        "name": "main",
        "steps": [
            [{"name": "flip-coin", "template": "flip"}],
            [
                {
                    "name": "heads",
                    "template": "say",
                    "when": "{{steps.flip-coin.outputs.result}} == heads",
                    "arguments": {"parameters": [{"name": "msg", "value": "it was heads"}]},
                },
                {
                    "name": "tails",
                    "template": "say",
                    "when": "{{steps.flip-coin.outputs.result}} == tails",
                    "arguments": {"parameters": [{"name": "msg", "value": "it was tails"}]},
                },
                {
                    "name": "announce",
                    "template": "say",
                    "arguments": {
                        "parameters": [
                            {
                                "name": "msg",
                                "value": "{{=steps['flip-coin'].outputs.result == 'heads' ? 'picked-heads' : "
                                "'picked-tails'}}",
                            }
                        ]
                    },
                },
            ],
        ],
        "outputs": {
            "parameters": [
                {
                    "name": "stem",
                    "valueFrom": {
                        "expression": "steps['flip-coin'].outputs.result == 'heads' ? "
                        "steps.heads.outputs.result : steps.tails.outputs.result"
                    },
                },
                {
                    "name": "upper",
                    "valueFrom": {"expression": "sprig.upper(steps['flip-coin'].outputs.result)"},
                },
            ]
        },
    }
    flip = sh("flip", "echo {{workflow.parameters.side}}")
    say = sh("say", "echo {{inputs.parameters.msg}}", inputs={"parameters": [{"name": "msg"}]})
    return wf([main, flip, say], arguments={"parameters": [{"name": "side", "value": side}]})


@pytest.mark.parametrize("side", ["heads", "tails"])
def test_conditional_parameter_picks_the_branch_argo_picks(settings, side: str) -> None:
    other = "tails" if side == "heads" else "heads"
    result = run_workflow(_coin_workflow(side), {}, settings)
    assert result.phase == "Succeeded", [(n.display_name, n.phase, n.message) for n in result.nodes]
    assert result.node("announce").result == f"picked-{side}"  # never the literal expression
    assert result.node(side).phase == "Succeeded"
    assert result.node(other).phase == "Skipped"
    assert result.nodes[0].parameters == {"stem": f"it was {side}", "upper": side.upper()}


def test_when_with_an_expression_runs_the_step_argo_runs(settings) -> None:
    main = {
        "name": "main",
        "inputs": {
            "parameters": [{"name": "should-print", "value": "true"}, {"name": "count", "value": "3"}]
        },
        "steps": [
            [
                # expr form: a hyphenated parameter needs brackets; the tag renders "true"
                {
                    "name": "print",
                    "template": "ok",
                    "when": "{{=inputs.parameters['should-print'] == 'true'}}",
                },
                # a typed comparison through asInt: 3 > 2
                {"name": "count", "template": "ok", "when": "{{=asInt(inputs.parameters.count) > 2}}"},
                # a comparison Argo evaluates as false: the step is skipped
                {
                    "name": "quiet",
                    "template": "ok",
                    "when": "{{=inputs.parameters['should-print'] == 'false'}}",
                },
            ]
        ],
    }
    result = run_workflow(wf([main, sh("ok", "echo ran")]), {}, settings)
    assert result.phase == "Succeeded"
    assert result.node("print").phase == "Succeeded" and result.node("print").result == "ran"
    assert result.node("count").phase == "Succeeded"
    assert result.node("quiet").phase == "Skipped"


def test_dag_task_outputs_with_brackets_and_typed_value_from(settings) -> None:
    make = sh("make", "echo 21")
    main = {
        "name": "main",
        "dag": {
            "tasks": [
                {"name": "make-num", "template": "make"},
                {
                    "name": "double",
                    "depends": "make-num",
                    "template": "say",
                    "arguments": {
                        "parameters": [
                            {"name": "msg", "value": "{{=asInt(tasks['make-num'].outputs.result) * 2}}"}
                        ]
                    },
                },
            ]
        },
        "outputs": {
            "parameters": [
                {"name": "total", "valueFrom": {"expression": "asInt(tasks.double.outputs.result) + 0.5"}},
                {"name": "items", "valueFrom": {"expression": "map(1..3, # * 2)"}},
            ]
        },
    }
    say = sh("say", "echo {{inputs.parameters.msg}}", inputs={"parameters": [{"name": "msg"}]})
    result = run_workflow(wf([main, make, say]), {}, settings)
    assert result.phase == "Succeeded", [(n.display_name, n.phase, n.message) for n in result.nodes]
    assert result.node("double").result == "42"
    assert result.nodes[0].parameters == {"total": "42.5", "items": "[2 4 6]"}  # Go's %v


def test_unsupported_function_errors_that_node_and_others_behave_as_argo(settings) -> None:
    """The node whose template uses an unknown function is an Error naming it (Argo would leave the
    tag as literal text in the pod; we refuse instead); its sibling runs, the next group does not."""
    main = {
        "name": "main",
        "steps": [
            [{"name": "good", "template": "ok"}, {"name": "bad", "template": "uses-nosuch"}],
            [{"name": "after", "template": "ok"}],
        ],
    }
    bad = sh("uses-nosuch", "echo {{=sprig.nosuch(workflow.name)}}")
    result = run_workflow(wf([main, sh("ok", "echo ran"), bad]), {}, settings)
    assert result.node("good").phase == "Succeeded" and result.node("good").result == "ran"
    node = result.node("bad")
    assert node.phase == "Error"
    assert "sprig.nosuch" in node.message
    assert node.result is None  # the pod never ran with a literal "{{=...}}"
    with pytest.raises(KeyError):
        result.node("after")  # the failed group ends the steps template, as on Argo
    assert result.phase == "Failed"  # Argo marks a step group with a failed or errored child Failed


def test_a_bracket_indexed_simple_tag_in_when_is_an_error_as_on_argo(settings) -> None:
    """``{{steps['flip-coin'].outputs.result}}`` is not a simple tag: it stays unresolved and Argo's
    govaluate cannot parse the condition, so the step errors instead of being skipped or run."""
    main = {
        "name": "main",
        "steps": [
            [{"name": "flip-coin", "template": "ok"}],
            [{"name": "check", "template": "ok", "when": "{{steps['flip-coin'].outputs.result}} == ran"}],
        ],
    }
    result = run_workflow(wf([main, sh("ok", "echo ran")]), {}, settings)
    node = result.node("check")
    assert node.phase == "Error"
    assert "steps['flip-coin'].outputs.result" in node.message
