"""Argo's two expression languages: govaluate for ``when``, expr-lang for everything else.

``when`` (:func:`evaluate_when`): Argo substitutes the ``{{...}}`` tags of the condition (an
``{{=...}}`` tag is an expr-lang expression, see :func:`render_expression`), then evaluates the text
with govaluate, turning every govaluate *variable* token into a string, so ``heads == heads`` compares
two strings without quotes (``shouldExecute`` in argo-workflows ``workflow/controller/steps.go``). We do
the same: a bare word is a string unless it is ``true``/``false`` or a number. Supported there:
numbers, quoted strings, ``true``/``false``, ``== != < <= > >= =~ !~``, ``&& || !`` (also ``and or
not``), ``+ - * / %``, ``in (a, b)``, ``c ? a : b``, ``??`` and parentheses. A tag left unresolved
(such as ``{{steps['x'].outputs.result}}``, which is not a simple tag) makes the condition an error,
as on Argo, whose govaluate cannot parse it. :func:`evaluate_govaluate` is the same language with
named parameters, as Argo Events evaluates a Sensor's ``exprs`` filters.

``{{=...}}`` tags, ``valueFrom.expression`` and ``retryStrategy.expression`` (:func:`evaluate`,
:func:`render_expression`) use expr-lang, implemented in :mod:`.exprlang` (grammar and semantics) with
Argo's functions in :mod:`.exprfuncs` (``asInt``, ``asFloat``, ``jsonpath``, ``toJson``, ``sprig.*``
and expr-lang's builtins). The variables are Argo's, as nested maps: ``steps['flip-coin'].outputs.result``
and ``steps.flip.outputs.result`` both work. An unknown name, an unsupported function or a type error
is an error naming it, never a guessed value. Nothing is ever passed to Python's ``eval``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from driftloop.errors import WorkflowError
from driftloop.local.executor import exprlang
from driftloop.local.executor.exprfuncs.regexes import go_regex
from driftloop.local.executor.exprvalues import ExprError, go_json, go_sprint

__all__ = ["evaluate", "evaluate_govaluate", "evaluate_when", "format_value", "render_expression"]

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<num>\d+(?:\.\d+)?(?![\w.]))
    | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<op>==|!=|<=|>=|=~|!~|&&|\|\||\?\?|[<>!()+\-*/%?:,\[\]])
    | (?P<word>[A-Za-z_][\w.\-]*(?:\[['"][^'"]*['"]\][\w.\-]*)*|[\w.\-]+)
    )""",
    re.VERBOSE,
)
_WORD_OPS = {"and": "&&", "or": "||", "not": "!", "in": "in"}


@dataclass(frozen=True)
class _Tok:
    kind: str  # num | str | op | word | end
    text: str


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise WorkflowError(
                f"cannot parse expression {text!r} at position {pos}",
                "quote string values that contain special characters",
            )
        pos = m.end()
        kind = m.lastgroup or "op"
        value = m.group(kind)
        if kind == "word" and value.lower() in _WORD_OPS:
            toks.append(_Tok("op", _WORD_OPS[value.lower()]))
        else:
            toks.append(_Tok(kind, value))
    toks.append(_Tok("end", ""))
    return toks


_BINARY = [  # lowest precedence first
    {"??"},
    {"||"},
    {"&&"},
    {"==", "!=", "<", "<=", ">", ">=", "=~", "!~", "in"},
    {"+", "-"},
    {"*", "/", "%"},
]


class _Parser:
    """govaluate: with no ``parameters`` as Argo's ``when`` uses it (every variable token is a string),
    with ``parameters`` as Argo Events' expr filters do (a variable must be one of them)."""

    def __init__(self, text: str, parameters: Mapping[str, Any] | None = None) -> None:
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0
        self.parameters = parameters

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, text: str) -> None:
        tok = self.take()
        if tok.text != text or tok.kind not in ("op",):
            raise WorkflowError(f"expected {text!r} in expression {self.text!r}, found {tok.text!r}")

    def parse(self) -> Any:
        value = self.ternary()
        if self.peek().kind != "end":
            raise WorkflowError(
                f"unexpected {self.peek().text!r} in expression {self.text!r}",
                "quote string values that contain spaces or operators",
            )
        return value

    def ternary(self) -> Any:
        cond = self.binary(0)
        if self.peek().kind == "op" and self.peek().text == "?":
            self.take()
            yes = self.ternary()
            self.expect(":")
            no = self.ternary()
            return yes if _truthy(cond) else no
        return cond

    def binary(self, level: int) -> Any:
        if level == len(_BINARY):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek().kind == "op" and self.peek().text in _BINARY[level]:
            op = self.take().text
            if op == "in":
                right: Any = self.in_list()
            else:
                right = self.binary(level + 1)
            left = _apply(op, left, right, self.text)
        return left

    def in_list(self) -> list[Any]:
        opener = self.take().text
        if opener not in ("(", "["):
            raise WorkflowError(f"'in' needs a list in expression {self.text!r}")
        closer = ")" if opener == "(" else "]"
        items: list[Any] = []
        while not (self.peek().kind == "op" and self.peek().text == closer):
            items.append(self.ternary())
            if self.peek().text == ",":
                self.take()
        self.take()
        return items

    def unary(self) -> Any:
        tok = self.peek()
        if tok.kind == "op" and tok.text == "!":
            self.take()
            return not _truthy(self.unary())
        if tok.kind == "op" and tok.text == "-":
            self.take()
            return -_num(self.unary(), self.text)
        return self.primary()

    def primary(self) -> Any:
        tok = self.take()
        if tok.kind == "num":
            return float(tok.text)
        if tok.kind == "str":  # govaluate: a backslash keeps the next character as it is
            return re.sub(r"\\(.)", r"\1", tok.text[1:-1], flags=re.DOTALL)
        if tok.kind == "op" and tok.text == "(":
            value = self.ternary()
            self.expect(")")
            return value
        if tok.kind == "word":
            low = tok.text.lower()
            if low in ("true", "false"):
                return low == "true"
            if self.parameters is None:
                return tok.text  # govaluate variables become strings in Argo's `when`
            if tok.text not in self.parameters:
                raise WorkflowError(f"No parameter {tok.text!r} found (in expression {self.text!r})")
            return self.parameters[tok.text]
        raise WorkflowError(f"unexpected {tok.text or 'end of input'!r} in expression {self.text!r}")


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def _num(value: Any, text: str) -> float:
    if isinstance(value, bool):
        raise WorkflowError(f"cannot use a boolean as a number in expression {text!r}")
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise WorkflowError(f"{value!r} is not a number in expression {text!r}") from None


def _apply(op: str, left: Any, right: Any, text: str) -> Any:
    if op == "&&":
        return _truthy(left) and _truthy(right)
    if op == "||":
        return _truthy(left) or _truthy(right)
    if op == "??":
        return right if left is None else left
    if op == "==":
        return _same(left, right)
    if op == "!=":
        return not _same(left, right)
    if op in ("=~", "!~"):
        found = go_regex(str(right)).search(str(left)) is not None
        return found if op == "=~" else not found
    if op == "in":
        return any(_same(left, item) for item in right)
    if op in ("<", "<=", ">", ">="):
        if isinstance(left, str) and isinstance(right, str):
            a: Any = left
            b: Any = right
        else:
            a, b = _num(left, text), _num(right, text)
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    if op == "+" and (isinstance(left, str) or isinstance(right, str)):
        return f"{_fmt(left)}{_fmt(right)}"
    a, b = _num(left, text), _num(right, text)
    if op in ("/", "%") and b == 0:
        raise WorkflowError(f"division by zero in expression {text!r}")
    return {"+": a + b, "-": a - b, "*": a * b, "/": a / b, "%": a % b}[op]


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, float | int) and isinstance(right, float | int):
        return float(left) == float(right)
    return left == right  # like govaluate's DeepEqual: "5" != 5


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def evaluate(text: str, variables: Mapping[str, Any] | None = None) -> Any:
    """Evaluate ``text``: with ``variables`` as an expr-lang expression, without as govaluate.

    ``variables`` is a flat scope (``{"tasks.a.outputs.result": "heads", ...}``); dotted names become
    nested maps, as Argo builds its environment, and Argo's functions are added. expr-lang's rules
    apply as they do for ``valueFrom.expression`` on Argo: an unknown top-level name is an error, a
    missing key of a map is ``nil`` (``tasks.x.outputs.result ?? 'none'``), fetching from ``nil`` is an
    error.
    """
    if variables is None:
        return _Parser(text).parse()
    try:
        program = exprlang.compile_expr(text)
        return exprlang.run(program, exprlang.argo_env(variables))
    except ExprError as exc:
        raise ExprError(f"cannot evaluate expression {text!r}: {exc.message}", exc.hint or _HINT) from None


_HINT = "see https://expr-lang.org/docs/language-definition and Argo's variables docs"


def render_expression(expression: str, scope: Mapping[str, Any]) -> str:
    """The text an ``{{=expression}}`` tag becomes, as Argo's template substitution writes it.

    expr-lang's rules apply (see :func:`evaluate`). In addition, every ``steps.*`` / ``tasks.*`` path
    the expression uses must exist, as in Argo's strict substitution of step and task references
    (``steps['a'].outputs.reslt`` is an error, not ``nil``); a path on the left of ``??`` or behind
    ``?.`` may be absent. A ``nil`` result is an error; a string is written as is and anything else
    as JSON (``[1,2]``, ``true``, ``3``), as Argo writes it.
    """
    program = exprlang.compile_expr(expression)
    env = exprlang.argo_env(scope)
    missing = [
        name
        for name in exprlang.missing_identifiers(program, env)
        if name in ("steps", "tasks") or name.startswith(("steps.", "tasks."))
    ]
    if missing:
        raise ExprError(
            f"{missing[0]} is missing (no such step/task output here)",
            "check the name; a hyphenated name needs brackets, e.g. steps['my-step'].outputs.result; "
            "use ?? to give a default for an optional output",
        )
    value = exprlang.run(program, env)
    if value is None:
        raise ExprError(
            "the expression evaluated to nil", "give a default with ??, e.g. tasks.a.outputs.result ?? ''"
        )
    if isinstance(value, str):
        return value
    return go_json(value)


def evaluate_govaluate(text: str, parameters: Mapping[str, Any]) -> Any:
    """Evaluate a govaluate expression with named ``parameters`` (Argo Events' ``exprs`` filters).

    A word that is not ``true``/``false`` must be one of the parameters; operators as for ``when``.
    """
    return _Parser(text, parameters).parse()


def evaluate_when(text: str) -> bool:
    """Evaluate a rendered ``when`` condition the way Argo does (bare words are strings)."""
    if not text.strip():
        return True
    value = evaluate(text)
    if not isinstance(value, bool):
        raise WorkflowError(
            f"when condition {text!r} does not evaluate to true or false",
            'write a comparison, e.g. "{{inputs.parameters.x}} == yes"',
        )
    return value


def format_value(value: Any) -> str:
    """An expression's value as Argo stores it in an output parameter (``fmt.Sprintf("%v")``).

    A ``nil`` result is an error (Argo: "failed to evaluate expression").
    """
    if value is None:
        raise ExprError(
            "the expression evaluated to nil", "give a default with ??, e.g. tasks.a.outputs.result ?? ''"
        )
    return go_sprint(value)
