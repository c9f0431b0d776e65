"""A small, safe evaluator for Argo's ``when`` conditions and simple ``expression`` fields.

Argo evaluates ``when`` with govaluate after ``{{...}}`` substitution. Argo turns every govaluate
*variable* token into a string, so ``heads == heads`` compares two strings without quotes (see
``shouldExecute`` in argo-workflows ``workflow/controller/steps.go``). We do the same: a bare word is a
string unless it is ``true``/``false`` or a number. ``valueFrom.expression`` and ``retryStrategy.expression``
use expr-lang; for those, :func:`evaluate` takes ``variables`` and bare (dotted) words are looked up there.

Supported: numbers, quoted strings, ``true``/``false``, ``== != < <= > >= =~ !~``, ``&& || !`` (also
``and or not``), ``+ - * / %``, ``in (a, b)``, ``c ? a : b`` and parentheses. Nothing is ever passed to
Python's ``eval``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from driftloop.errors import WorkflowError

__all__ = ["evaluate", "evaluate_when"]

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
    def __init__(self, text: str, variables: Mapping[str, Any] | None) -> None:
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0
        self.variables = variables

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
        if tok.kind == "str":
            return bytes(tok.text[1:-1], "utf-8").decode("unicode_escape")
        if tok.kind == "op" and tok.text == "(":
            value = self.ternary()
            self.expect(")")
            return value
        if tok.kind == "word":
            low = tok.text.lower()
            if low in ("true", "false"):
                return low == "true"
            if self.variables is not None and tok.text in self.variables:
                return self.variables[tok.text]
            if self.variables is not None and low in ("nil", "null"):
                return None
            return tok.text  # govaluate variables become strings in Argo's `when`
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
        found = re.search(str(right), str(left)) is not None
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
    """Evaluate ``text``; with ``variables``, bare words found there are looked up (expr-lang style)."""
    return _Parser(text, variables).parse()


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
    """Format an evaluated value as Argo would put it into a parameter."""
    return _fmt(value)
