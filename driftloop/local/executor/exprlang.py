"""An expr-lang (github.com/expr-lang/expr v1.17) parser, checker and interpreter, for Argo expressions.

Argo evaluates ``{{=...}}`` tags, ``valueFrom.expression``, ``retryStrategy.expression`` and hook
expressions with expr-lang over an environment of nested maps (``inputs.parameters.x`` is
``inputs["parameters"]["x"]``) plus its functions (:mod:`.exprfuncs`). This module follows expr-lang's
grammar and semantics; it is hand-written (nothing reaches Python's ``eval``):

* literals: ``nil``, ``true``/``false``, integers (``42``, ``0x2A``, ``0o52``, ``0b101010``, ``1_000``),
  floats (``0.5``, ``.5``, ``1e3``), strings (``'...'``, ``"..."`` with Go escapes, raw ```...```),
  arrays ``[1, 'a']`` and maps ``{a: 1, 'b-c': 2, (k): v}``; comments ``//`` and ``/* */``;
* operators by precedence (loosest first): ``|`` (pipe), ``or ||``, ``and &&``,
  ``== != < > <= >= in matches contains startsWith endsWith`` (and ``not in``, ``not matches``...;
  ``a < b < c`` chains), ``..`` (range), ``+ -``, ``* / %``, unary ``not ! - +``, ``** ^``, ``??``;
  then ``c ? a : b`` (and ``c ?: b``), ``if c {a} else {b}``, ``let x = v; expr``, ``a; b``;
* member access ``a.b``, ``a['b-c']``, ``a[0]``, ``a[-1]``, optional ``a?.b`` / ``a?.[k]``, slices
  ``a[1:3]``, calls ``f(x)``, ``sprig.trim(x)``, predicates ``filter(xs, {# > 1})``, ``map(xs, .name)``
  with ``#``, ``#index``, ``#acc``.

Semantics follow expr-lang: a missing key of a map is ``nil``; fetching from ``nil`` is an error
(``a?.b`` is not); ``==`` compares numbers by value, other types must match (``'1' == 1`` is false);
``<`` / ``+`` / ``-`` ... need matching types (``'a' + 1`` is an error); ``/`` gives a float, ``%``
needs integers; ``&&`` / ``||`` / ``!`` / ``?:`` need booleans. The static checker rejects, before
running, what expr-lang's checker rejects: an unknown top-level name, an operator on values whose types
are known to mismatch (``'a' == 1``, ``retries > 1`` when ``retries`` is a string), a non-boolean
condition. Unsupported features (dates and durations, bytes literals, ``::`` calls) raise an error that
names them.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from driftloop.local.executor import exprfuncs
from driftloop.local.executor.exprvalues import (
    ExprError,
    GoFunc,
    add,
    divide,
    equal,
    exponent,
    go_sprint,
    go_type,
    is_number,
    less,
    modulo,
    multiply,
    negate,
    subtract,
    to_int,
)

__all__ = [
    "Program",
    "argo_env",
    "compile_expr",
    "missing_identifiers",
    "run",
]

_MAX_NODES = 10_000

# --------------------------------------------------------------------------------------------------
# lexer


@dataclass(frozen=True)
class Token:
    kind: str  # ident | number | string | op | bracket | eof
    value: str
    pos: int

    def __str__(self) -> str:
        names = {"ident": "Identifier", "number": "Number", "string": "String", "op": "Operator"}
        if self.kind == "eof":
            return "EOF"
        kind = names.get(self.kind, "Bracket")
        return f'{kind}("{self.value}")'


_WORD_OPS = {"in", "or", "and", "matches", "contains", "startsWith", "endsWith", "let", "if", "else"}
_NEGATABLE = {"in", "matches", "contains", "startsWith", "endsWith"}


def _is_alpha(ch: str) -> bool:
    return ch == "_" or ch == "$" or ch.isalpha()


def _is_alnum(ch: str) -> bool:
    return _is_alpha(ch) or unicodedata.category(ch) == "Nd"


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.tokens: list[Token] = []

    def error(self, message: str, pos: int | None = None) -> ExprError:
        return ExprError(f"{message} {_location(self.text, self.i if pos is None else pos)}")

    def peek(self, offset: int = 0) -> str:
        j = self.i + offset
        return self.text[j] if j < len(self.text) else ""

    def emit(self, kind: str, value: str, start: int) -> None:
        self.tokens.append(Token(kind, value, start))

    def lex(self) -> list[Token]:
        text = self.text
        while self.i < len(text):
            start = self.i
            ch = text[self.i]
            if ch.isspace():
                self.i += 1
            elif ch in "'\"":
                self.emit("string", self.string(ch), start)
            elif ch == "`":
                self.emit("string", self.raw_string(), start)
            elif ch in "bB" and self.peek(1) in ("'", '"'):
                raise self.error("bytes literals (b'...') are not supported by the local executor")
            elif ch.isdigit() or (ch == "." and self.peek(1).isdigit()):
                self.emit("number", self.number(), start)
            elif ch == "?":
                self.i += 1
                if self.peek() in (".", "?"):
                    self.i += 1
                self.emit("op", text[start : self.i], start)
            elif ch == "/" and self.peek(1) == "/":
                end = text.find("\n", self.i)
                self.i = len(text) if end < 0 else end + 1
            elif ch == "/" and self.peek(1) == "*":
                end = text.find("*/", self.i + 2)
                if end < 0:
                    raise self.error("unclosed comment")
                self.i = end + 2
            elif ch == "#":
                self.i += 1
                self.emit("op", "#", start)
                j = self.i
                while self.i < len(text) and _is_alnum(text[self.i]):
                    self.i += 1
                if self.i > j:
                    self.emit("ident", text[j : self.i], j)
            elif ch in "|:":
                self.i += 1
                if self.peek() == ch:
                    self.i += 1
                self.emit("op", text[start : self.i], start)
            elif ch in "([{)]}":
                self.i += 1
                self.emit("bracket", ch, start)
            elif ch in ",;%+-^/":
                self.i += 1
                self.emit("op", ch, start)
            elif ch in "&!=*<>":
                self.i += 1
                if self.peek() in ("&", "=", "*"):
                    self.i += 1
                self.emit("op", text[start : self.i], start)
            elif ch == ".":
                self.i += 1
                if self.peek() == ".":
                    self.i += 1
                self.emit("op", text[start : self.i], start)
            elif _is_alpha(ch):
                self.word(start)
            else:
                raise self.error(f"unrecognized character: U+{ord(ch):04X} {ch!r}")
        self.emit("eof", "", len(text))
        return self.tokens

    def word(self, start: int) -> None:
        while self.i < len(self.text) and _is_alnum(self.text[self.i]):
            self.i += 1
        word = self.text[start : self.i]
        if word == "not":
            self.emit("op", "not", start)
            j = self.i
            while j < len(self.text) and self.text[j] == " ":
                j += 1
            k = j
            while k < len(self.text) and _is_alnum(self.text[k]):
                k += 1
            if self.text[j:k] in _NEGATABLE:
                self.emit("op", self.text[j:k], j)
                self.i = k
        elif word in _WORD_OPS:
            self.emit("op", word, start)
        else:
            self.emit("ident", word, start)

    def number(self) -> str:
        text, start = self.text, self.i
        digits = "0123456789_"
        if self.peek() == "0" and self.peek(1) in ("x", "X", "o", "O", "b", "B") and self.peek(1) != "":
            base = self.peek(1).lower()
            self.i += 2
            digits = {"x": "0123456789abcdefABCDEF_", "o": "01234567_", "b": "01_"}[base]
        while self.peek() and self.peek() in digits:
            self.i += 1
        if self.peek() == ".":
            if self.peek(1) == ".":
                return text[start : self.i]
            self.i += 1
            while self.peek() and self.peek() in digits:
                self.i += 1
        if self.peek() in ("e", "E") and self.peek():
            self.i += 1
            if self.peek() in ("+", "-") and self.peek():
                self.i += 1
            while self.peek() and self.peek() in digits:
                self.i += 1
        if self.peek() and _is_alnum(self.peek()):
            self.i += 1
            raise self.error(f"bad number syntax: {text[start : self.i]!r}", start)
        return text[start : self.i]

    def string(self, quote: str) -> str:
        text = self.text
        self.i += 1
        out: list[str] = []
        while True:
            if self.i >= len(text) or text[self.i] == "\n":
                raise self.error("literal not terminated")
            ch = text[self.i]
            if ch == quote:
                self.i += 1
                return "".join(out)
            if ch != "\\":
                out.append(ch)
                self.i += 1
                continue
            self.i += 1
            esc = self.peek()
            simple = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}
            if esc in simple:
                out.append(simple[esc])
                self.i += 1
            elif esc == quote:
                out.append(quote)
                self.i += 1
            elif esc and esc in "01234567":
                out.append(chr(self.hex_digits(3, 8)))
            elif esc == "x":
                self.i += 1
                out.append(chr(self.hex_digits(2, 16)))
            elif esc == "u" and self.peek(1) == "{":
                end = text.find("}", self.i)
                body = text[self.i + 2 : end] if end > 0 else ""
                if not re.fullmatch(r"[0-9a-fA-F]{1,6}", body):
                    raise self.error("invalid char escape")
                out.append(chr(int(body, 16)))
                self.i = end + 1
            elif esc == "u":
                self.i += 1
                out.append(chr(self.hex_digits(4, 16)))
            elif esc == "U":
                self.i += 1
                out.append(chr(self.hex_digits(8, 16)))
            else:
                raise self.error("invalid char escape")

    def hex_digits(self, n: int, base: int) -> int:
        chunk = self.text[self.i : self.i + n]
        valid = "01234567" if base == 8 else "0123456789abcdefABCDEF"
        if len(chunk) != n or any(c not in valid for c in chunk):
            raise self.error("invalid char escape")
        self.i += n
        value = int(chunk, base)
        if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
            raise self.error("invalid char escape")
        return value

    def raw_string(self) -> str:
        text = self.text
        self.i += 1
        out: list[str] = []
        while True:
            if self.i >= len(text):
                raise self.error("literal not terminated")
            ch = text[self.i]
            if ch == "`":
                if self.peek(1) == "`":
                    out.append("`")
                    self.i += 2
                    continue
                self.i += 1
                return "".join(out)
            out.append(ch)
            self.i += 1


def _location(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1)
    return f"({line}:{col + 1})"


# --------------------------------------------------------------------------------------------------
# syntax tree


@dataclass(eq=False)
class Node:
    pos: int = field(default=0, kw_only=True)


@dataclass(eq=False)
class Lit(Node):
    value: Any


@dataclass(eq=False)
class Ident(Node):
    name: str


@dataclass(eq=False)
class Pointer(Node):
    name: str  # "" (#), "index", "acc"


@dataclass(eq=False)
class Unary(Node):
    op: str
    node: Node


@dataclass(eq=False)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(eq=False)
class Member(Node):
    node: Node
    prop: Node
    optional: bool = False
    method: bool = False


@dataclass(eq=False)
class Chain(Node):
    node: Node


@dataclass(eq=False)
class Slice(Node):
    node: Node
    start: Node | None
    end: Node | None


@dataclass(eq=False)
class Call(Node):
    callee: Node
    args: list[Node]


@dataclass(eq=False)
class Builtin(Node):
    name: str
    args: list[Node]


@dataclass(eq=False)
class Predicate(Node):
    node: Node


@dataclass(eq=False)
class Cond(Node):
    cond: Node
    yes: Node
    no: Node


@dataclass(eq=False)
class Array(Node):
    items: list[Node]


@dataclass(eq=False)
class MapLit(Node):
    pairs: list[tuple[Node, Node]]


@dataclass(eq=False)
class Let(Node):
    name: str
    value: Node
    body: Node


@dataclass(eq=False)
class Seq(Node):
    nodes: list[Node]


# --------------------------------------------------------------------------------------------------
# parser (expr-lang's parser/parser.go)

_UNARY = {"not": 50, "!": 50, "-": 90, "+": 90}
_BINARY: dict[str, tuple[int, bool]] = {  # precedence, right-associative
    "|": (0, False),
    "or": (10, False),
    "||": (10, False),
    "and": (15, False),
    "&&": (15, False),
    "==": (20, False),
    "!=": (20, False),
    "<": (20, False),
    ">": (20, False),
    ">=": (20, False),
    "<=": (20, False),
    "in": (20, False),
    "matches": (20, False),
    "contains": (20, False),
    "startsWith": (20, False),
    "endsWith": (20, False),
    "..": (25, False),
    "+": (30, False),
    "-": (30, False),
    "*": (60, False),
    "/": (60, False),
    "%": (60, False),
    "**": (100, True),
    "^": (100, True),
    "??": (500, False),
}
_COMPARISONS = {"<", ">", ">=", "<="}

#: predicate builtins and their argument kinds ("expr", "pred"; "?" marks an optional one)
_PREDICATES: dict[str, tuple[str, ...]] = {
    "all": ("expr", "pred"),
    "none": ("expr", "pred"),
    "any": ("expr", "pred"),
    "one": ("expr", "pred"),
    "filter": ("expr", "pred"),
    "map": ("expr", "pred"),
    "count": ("expr", "pred?"),
    "sum": ("expr", "pred?"),
    "find": ("expr", "pred"),
    "findIndex": ("expr", "pred"),
    "findLast": ("expr", "pred"),
    "findLastIndex": ("expr", "pred"),
    "groupBy": ("expr", "pred"),
    "sortBy": ("expr", "pred", "expr?"),
    "reduce": ("expr", "pred", "expr?"),
}
_BUILTIN_NAMES = set(_PREDICATES) | set(exprfuncs.BUILTINS) | set(exprfuncs.UNSUPPORTED_BUILTINS)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _Lexer(text).lex()
        self.i = 0
        self.depth = 0
        self.nodes = 0

    @property
    def cur(self) -> Token:
        return self.toks[self.i]

    def next(self) -> None:
        if self.cur.kind == "eof":
            raise self.error("unexpected end of expression")
        self.i += 1

    def error(self, message: str, tok: Token | None = None) -> ExprError:
        return ExprError(f"{message} {_location(self.text, (tok or self.cur).pos)}")

    def is_(self, kind: str, *values: str) -> bool:
        return self.cur.kind == kind and (not values or self.cur.value in values)

    def expect(self, kind: str, *values: str) -> None:
        if self.is_(kind, *values):
            self.next()
            return
        raise self.error(f"unexpected token {self.cur}")

    def node(self, n: Node, pos: int) -> Node:
        self.nodes += 1
        if self.nodes > _MAX_NODES:
            raise self.error("compilation failed: expression exceeds maximum allowed nodes")
        n.pos = pos
        return n

    def parse(self) -> Node:
        node = self.sequence()
        if not self.is_("eof"):
            raise self.error(f"unexpected token {self.cur}")
        return node

    def sequence(self) -> Node:
        nodes = [self.expression(0)]
        while self.is_("op", ";"):
            self.next()
            if self.is_("eof"):
                break
            nodes.append(self.expression(0))
        return nodes[0] if len(nodes) == 1 else self.node(Seq(nodes), nodes[0].pos)

    def expression(self, precedence: int) -> Node:
        if precedence == 0 and self.is_("op", "let"):
            return self.let()
        if precedence == 0 and self.is_("op", "if"):
            return self.conditional_if()
        left = self.primary()
        prev_op = ""
        while self.is_("op"):
            op_tok = self.cur
            negate = op_tok.value == "not"
            if negate:
                backup = self.i
                self.next()
                if self.cur.kind == "op" and self.cur.value in _NEGATABLE:
                    if _BINARY[self.cur.value][0] >= precedence:
                        op_tok = self.cur
                    else:
                        self.i = backup
                        break
                else:
                    raise self.error(f"unexpected token {self.cur}")
            spec = _BINARY.get(op_tok.value)
            if spec is None or spec[0] < precedence:
                break
            self.next()
            if op_tok.value == "|":
                ident = self.cur
                self.expect("ident")
                left = self.call(ident, [left])
                prev_op = op_tok.value
                continue
            if prev_op == "??" and op_tok.value != "??":
                raise self.error(
                    f"Operator ({op_tok.value}) and coalesce expressions (??) cannot be mixed. "
                    "Wrap either by parentheses.",
                    op_tok,
                )
            if op_tok.value in _COMPARISONS:
                left = self.comparison(left, op_tok, spec[0])
                prev_op = op_tok.value
                continue
            right = self.expression(spec[0] if spec[1] else spec[0] + 1)
            left = self.node(Binary(op_tok.value, left, right), op_tok.pos)
            if negate:
                left = self.node(Unary("not", left), op_tok.pos)
            prev_op = op_tok.value
        if precedence == 0:
            left = self.conditional(left)
        return left

    def comparison(self, left: Node, tok: Token, precedence: int) -> Node:
        root: Node | None = None
        while True:
            comparator = self.expression(precedence + 1)
            cmp = self.node(Binary(tok.value, left, comparator), tok.pos)
            root = cmp if root is None else self.node(Binary("&&", root, cmp), tok.pos)
            left, tok = comparator, self.cur
            if not (tok.kind == "op" and tok.value in _COMPARISONS):
                break
            self.next()
        return root

    def let(self) -> Node:
        self.expect("op", "let")
        name = self.cur
        self.expect("ident")
        self.expect("op", "=")
        value = self.expression(0)
        self.expect("op", ";")
        body = self.sequence()
        return self.node(Let(name.value, value, body), name.pos)

    def conditional_if(self) -> Node:
        pos = self.cur.pos
        self.next()
        cond = self.expression(0)
        self.expect("bracket", "{")
        yes = self.sequence()
        self.expect("bracket", "}")
        self.expect("op", "else")
        if self.is_("op", "if"):
            no = self.conditional_if()
        else:
            self.expect("bracket", "{")
            no = self.sequence()
            self.expect("bracket", "}")
        return self.node(Cond(cond, yes, no), pos)

    def conditional(self, node: Node) -> Node:
        while self.is_("op", "?"):
            pos = self.cur.pos
            self.next()
            if not self.is_("op", ":"):
                yes = self.expression(0)
                self.expect("op", ":")
                no = self.expression(0)
            else:
                self.next()
                yes, no = node, self.expression(0)
            node = self.node(Cond(node, yes, no), pos)
        return node

    def primary(self) -> Node:
        tok = self.cur
        if tok.kind == "op" and tok.value in _UNARY:
            self.next()
            expr = self.expression(_UNARY[tok.value])
            return self.postfix(self.node(Unary(tok.value, expr), tok.pos))
        if tok.kind == "bracket" and tok.value == "(":
            self.next()
            expr = self.sequence()
            self.expect("bracket", ")")
            return self.postfix(expr)
        if self.depth > 0 and tok.kind == "op" and tok.value in ("#", "."):
            name = ""
            if tok.value == "#":
                self.next()
                if self.is_("ident"):
                    name = self.cur.value
                    self.next()
            return self.postfix(self.node(Pointer(name), tok.pos))
        if tok.kind == "op" and tok.value == "::":
            raise self.error("'::' calls are not supported by the local executor")
        return self.secondary()

    def secondary(self) -> Node:
        tok = self.cur
        node: Node
        if tok.kind == "ident":
            self.next()
            if tok.value in ("true", "false"):
                return self.node(Lit(tok.value == "true"), tok.pos)
            if tok.value == "nil":
                return self.node(Lit(None), tok.pos)
            is_call = self.is_("bracket", "(")
            node = self.call(tok, []) if is_call else self.node(Ident(tok.value), tok.pos)
        elif tok.kind == "number":
            self.next()
            return self.node(Lit(self.number(tok)), tok.pos)
        elif tok.kind == "string":
            self.next()
            node = self.node(Lit(tok.value), tok.pos)
        elif tok.kind == "bracket" and tok.value == "[":
            node = self.array()
        elif tok.kind == "bracket" and tok.value == "{":
            node = self.map_literal()
        else:
            raise self.error(f"unexpected token {tok}")
        return self.postfix(node)

    def number(self, tok: Token) -> int | float:
        value = tok.value.replace("_", "")
        low = value.lower()
        try:
            if low.startswith(("0x", "0b", "0o")):
                n = int(value, 0)
            elif "." in low or "e" in low:
                f = float(value)
                if f == float("inf"):
                    raise self.error("float literal is too large", tok)
                return f
            else:
                n = int(value, 10)
        except ValueError:
            raise self.error(f"invalid number literal {tok.value!r}", tok) from None
        if n > 2**63 - 1:
            raise self.error("integer literal is too large", tok)
        return n

    def call(self, tok: Token, args: list[Node]) -> Node:
        name = tok.value
        if name in _PREDICATES:
            self.expect("bracket", "(")
            for i, kind in enumerate(_PREDICATES[name][len(args) :]):
                optional = kind.endswith("?")
                if self.is_("bracket", ")"):
                    if optional:
                        break
                    raise self.error(f"expected at least {len(_PREDICATES[name]) - len(args)} arguments")
                if i > 0:
                    self.expect("op", ",")
                args.append(self.predicate() if kind.startswith("pred") else self.expression(0))
            if self.is_("op", ","):
                self.next()
            self.expect("bracket", ")")
            return self.node(Builtin(name, args), tok.pos)
        if name in _BUILTIN_NAMES:
            return self.node(Builtin(name, self.arguments(args)), tok.pos)
        callee = self.node(Ident(name), tok.pos)
        return self.node(Call(callee, self.arguments(args)), tok.pos)

    def arguments(self, args: list[Node]) -> list[Node]:
        offset = len(args)
        self.expect("bracket", "(")
        while not self.is_("bracket", ")"):
            if len(args) > offset:
                self.expect("op", ",")
            if self.is_("bracket", ")"):
                break
            args.append(self.expression(0))
        self.expect("bracket", ")")
        return args

    def predicate(self) -> Node:
        start = self.cur
        brackets = self.is_("bracket", "{")
        if brackets:
            self.next()
        self.depth += 1
        if brackets:
            body = self.sequence()
        else:
            body = self.expression(0)
            if self.is_("op", ";"):
                raise self.error("wrap predicate with brackets { and }")
        self.depth -= 1
        if brackets:
            self.expect("bracket", "}")
        return self.node(Predicate(body), start.pos)

    def array(self) -> Node:
        tok = self.cur
        self.expect("bracket", "[")
        items: list[Node] = []
        while not self.is_("bracket", "]"):
            if items:
                self.expect("op", ",")
                if self.is_("bracket", "]"):
                    break
            items.append(self.expression(0))
        self.expect("bracket", "]")
        return self.node(Array(items), tok.pos)

    def map_literal(self) -> Node:
        tok = self.cur
        self.expect("bracket", "{")
        pairs: list[tuple[Node, Node]] = []
        while not self.is_("bracket", "}"):
            if pairs:
                self.expect("op", ",")
                if self.is_("bracket", "}"):
                    break
                if self.is_("op", ","):
                    raise self.error(f"unexpected token {self.cur}")
            key: Node
            if self.cur.kind in ("number", "string", "ident"):
                key = self.node(Lit(self.cur.value), self.cur.pos)
                self.next()
            elif self.is_("bracket", "("):
                key = self.expression(0)
            else:
                raise self.error(
                    "a map key must be a quoted string, a number, a identifier, or an expression enclosed in "
                    f"parentheses (unexpected token {self.cur})"
                )
            self.expect("op", ":")
            pairs.append((key, self.expression(0)))
        self.expect("bracket", "}")
        return self.node(MapLit(pairs), tok.pos)

    def postfix(self, node: Node) -> Node:
        while self.cur.kind in ("op", "bracket"):
            tok = self.cur
            optional = tok.value == "?."
            if tok.value in (".", "?."):
                self.next()
                prop = self.cur
                if optional and prop.kind == "bracket" and prop.value == "[":
                    node = self.index(node, optional=True)
                    continue
                self.next()
                if prop.kind != "ident" and not (
                    prop.kind == "op" and re.fullmatch(r"[A-Za-z_$][\w$]*", prop.value)
                ):
                    raise self.error("expected name", prop)
                chained = isinstance(node, Chain)
                if isinstance(node, Chain):
                    node = node.node
                member = Member(node, self.node(Lit(prop.value), prop.pos), optional)
                self.node(member, prop.pos)
                if self.is_("bracket", "("):
                    member.method = True
                    node = self.node(Call(member, self.arguments([])), prop.pos)
                else:
                    node = member
                if chained or optional:
                    node = self.node(Chain(node), prop.pos)
            elif tok.kind == "bracket" and tok.value == "[":
                node = self.index(node, optional=False)
            else:
                break
        return node

    def index(self, node: Node, optional: bool) -> Node:
        tok = self.cur
        self.next()  # [
        if self.is_("op", ":"):
            self.next()
            end = None if self.is_("bracket", "]") else self.expression(0)
            self.expect("bracket", "]")
            return self.node(Slice(node, None, end), tok.pos)
        start = self.expression(0)
        if self.is_("op", ":"):
            self.next()
            end = None if self.is_("bracket", "]") else self.expression(0)
            self.expect("bracket", "]")
            return self.node(Slice(node, start, end), tok.pos)
        self.expect("bracket", "]")
        result: Node = self.node(Member(node, start, optional), tok.pos)
        if optional:
            result = self.node(Chain(result), tok.pos)
        return result


# --------------------------------------------------------------------------------------------------
# checker (what expr-lang's checker/checker.go rejects before running)

# static types: unknown | nil | bool | int | float | string | array | map | func
_GO_NAMES = {
    "unknown": "interface {}",
    "nil": "nil",
    "bool": "bool",
    "int": "int",
    "float": "float64",
    "string": "string",
    "array": "[]interface {}",
    "map": "map[string]interface {}",
    "func": "func",
}
_STRING_BUILTINS: dict[str, tuple[str, ...]] = {  # builtins with a Go signature over strings
    "trim": ("string", "string"),
    "trimPrefix": ("string", "string"),
    "trimSuffix": ("string", "string"),
    "upper": ("string",),
    "lower": ("string",),
    "split": ("string", "string", "int"),
    "splitAfter": ("string", "string", "int"),
    "replace": ("string", "string", "string", "int"),
    "repeat": ("string", "int"),
    "indexOf": ("string", "string"),
    "lastIndexOf": ("string", "string"),
    "hasPrefix": ("string", "string"),
    "hasSuffix": ("string", "string"),
    "toBase64": ("string",),
    "fromBase64": ("string",),
    "fromJSON": ("string",),
}
_BOOL_PREDICATES = {
    "all",
    "none",
    "any",
    "one",
    "filter",
    "find",
    "findIndex",
    "findLast",
    "findLastIndex",
    "count",
}


@dataclass(frozen=True)
class _T:
    kind: str
    func: GoFunc | None = None


_UNKNOWN = _T("unknown")


def _static(value: Any) -> _T:
    if value is None:
        return _T("nil")
    if isinstance(value, bool):
        return _T("bool")
    if isinstance(value, int):
        return _T("int")
    if isinstance(value, float):
        return _T("float")
    if isinstance(value, str):
        return _T("string")
    if isinstance(value, list):
        return _T("array")
    if isinstance(value, dict):
        return _T("map")
    if isinstance(value, GoFunc):
        return _T("func", value if value.typed else None)
    return _UNKNOWN


def _num(t: _T) -> bool:
    return t.kind in ("int", "float")


def _unknown(t: _T) -> bool:
    return t.kind == "unknown"


def _maybe(a: _T, b: _T, *kinds: str) -> bool:
    """expr-lang's ``MaybeCompatible``: one side unknown and the other of one of the kinds."""
    ua, ub = _unknown(a), _unknown(b)
    return (ua and ub) or (ua and b.kind in kinds) or (ub and a.kind in kinds)


class _Checker:
    def __init__(self, text: str, env: Mapping[str, Any]) -> None:
        self.text = text
        self.env = env
        self.scopes: list[tuple[str, _T]] = []
        self.predicate_depth = 0

    def error(self, node: Node, message: str) -> ExprError:
        return ExprError(f"{message} {_location(self.text, node.pos)}")

    def check(self, node: Node) -> _T:
        if isinstance(node, Lit):
            return _static(node.value)
        if isinstance(node, Ident):
            return self.ident(node)
        if isinstance(node, Pointer):
            if self.predicate_depth == 0:
                raise self.error(node, "cannot use pointer accessor outside predicate")
            if node.name not in ("", "index", "acc"):
                raise self.error(node, f"unknown pointer #{node.name}")
            return _T("int") if node.name == "index" else _UNKNOWN
        if isinstance(node, Unary):
            t = self.check(node.node)
            if node.op in ("!", "not"):
                if t.kind in ("bool", "unknown"):
                    return _T("bool")
            elif _num(t) or _unknown(t):
                return t
            raise self.error(node, f"invalid operation: {node.op} (mismatched type {_GO_NAMES[t.kind]})")
        if isinstance(node, Binary):
            return self.binary(node)
        if isinstance(node, Chain):
            return self.check(node.node)
        if isinstance(node, Member):
            return self.member(node)
        if isinstance(node, Slice):
            t = self.check(node.node)
            for part in (node.start, node.end):
                if part is not None:
                    pt = self.check(part)
                    if not (pt.kind == "int" or _unknown(pt)):
                        raise self.error(part, f"non-integer slice index {_GO_NAMES[pt.kind]}")
            if _unknown(t) or t.kind in ("string", "array"):
                return t
            raise self.error(node, f"cannot slice {_GO_NAMES[t.kind]}")
        if isinstance(node, Call):
            return self.call(node)
        if isinstance(node, Builtin):
            return self.builtin(node)
        if isinstance(node, Predicate):
            self.predicate_depth += 1
            try:
                return self.check(node.node)
            finally:
                self.predicate_depth -= 1
        if isinstance(node, Cond):
            c = self.check(node.cond)
            if c.kind not in ("bool", "unknown"):
                raise self.error(node, f"non-bool expression (type {_GO_NAMES[c.kind]}) used as condition")
            a, b = self.check(node.yes), self.check(node.no)
            return a if a.kind == b.kind else _UNKNOWN
        if isinstance(node, Array):
            for item in node.items:
                self.check(item)
            return _T("array")
        if isinstance(node, MapLit):
            for k, v in node.pairs:
                self.check(k)
                self.check(v)
            return _T("map")
        if isinstance(node, Let):
            t = self.check(node.value)
            self.scopes.append((node.name, t))
            try:
                return self.check(node.body)
            finally:
                self.scopes.pop()
        if isinstance(node, Seq):
            t = _UNKNOWN
            for n in node.nodes:
                t = self.check(n)
            return t
        raise self.error(node, f"unexpected node {type(node).__name__}")

    def ident(self, node: Ident) -> _T:
        for name, t in reversed(self.scopes):
            if name == node.name:
                return t
        if node.name == "$env":
            return _UNKNOWN
        if node.name in self.env:
            return _static(self.env[node.name])
        if node.name in _BUILTIN_NAMES:
            return _T("func")
        raise self.error(node, f"unknown name {node.name}")

    def member(self, node: Member) -> _T:
        if isinstance(node.node, Ident) and node.node.name == "$env":
            self.check(node.prop)
            if isinstance(node.prop, Lit) and isinstance(node.prop.value, str):
                if node.prop.value in self.env:
                    return _static(self.env[node.prop.value])
                if not node.optional:
                    raise self.error(node, f"unknown name {node.prop.value}")
            return _UNKNOWN
        base = self.check(node.node)
        prop = self.check(node.prop)
        if _unknown(base):
            return _UNKNOWN
        name = node.prop.value if isinstance(node.prop, Lit) and isinstance(node.prop.value, str) else None
        if name is not None and base.kind == "nil":
            raise self.error(node, f"type nil has no field {name}")
        if base.kind == "map":
            if not (prop.kind == "string" or _unknown(prop)):
                raise self.error(
                    node.prop, f"cannot use {_GO_NAMES[prop.kind]} to get an element from {_GO_NAMES['map']}"
                )
            return _UNKNOWN
        if base.kind == "array":
            if not (prop.kind == "int" or _unknown(prop)):
                raise self.error(
                    node.prop,
                    f"array elements can only be selected using an integer (got {_GO_NAMES[prop.kind]})",
                )
            return _UNKNOWN
        if name is not None:
            what = "method" if node.method else "field"
            raise self.error(node, f"type {_GO_NAMES[base.kind]} has no {what} {name}")
        raise self.error(node, f"type {_GO_NAMES[base.kind]}[{_GO_NAMES[prop.kind]}] is undefined")

    def call(self, node: Call) -> _T:
        callee = self.check(node.callee)
        args = [self.check(a) for a in node.args]
        if _unknown(callee):
            return _UNKNOWN
        if callee.kind != "func":
            raise self.error(node, f"{_GO_NAMES[callee.kind]} is not callable")
        fn = callee.func
        if fn is None:
            return _UNKNOWN
        name, n = fn.name, len(fn.params)
        if fn.variadic and len(args) < n - 1:
            raise self.error(node, f"not enough arguments to call {name}")
        if not fn.variadic and len(args) > n:
            raise self.error(node, f"too many arguments to call {name}")
        if not fn.variadic and len(args) < n:
            raise self.error(node, f"not enough arguments to call {name}")
        for i, (arg, t) in enumerate(zip(node.args, args, strict=True)):
            want = fn.params[min(i, n - 1)]
            if want == "any" or _unknown(t):
                continue
            if t.kind == "nil":
                raise self.error(arg, f"cannot use nil as argument (type {want}) to call {name}")
            if t.kind != want:
                raise self.error(
                    arg, f"cannot use {_GO_NAMES[t.kind]} as argument (type {want}) to call {name}"
                )
        return _T(fn.returns) if fn.returns != "unknown" else _UNKNOWN

    def builtin(self, node: Builtin) -> _T:
        name = node.name
        if name in exprfuncs.UNSUPPORTED_BUILTINS:
            raise self.error(
                node,
                f"the {name}() function ({exprfuncs.UNSUPPORTED_BUILTINS[name]}) is not supported by the "
                "local executor",
            )
        if name in _PREDICATES:
            collection = self.check(node.args[0])
            if not (_unknown(collection) or collection.kind == "array"):
                raise self.error(
                    node.args[0], f"builtin {name} takes only array (got {_GO_NAMES[collection.kind]})"
                )
            for arg in node.args[1:]:
                t = self.check(arg)
                if (
                    isinstance(arg, Predicate)
                    and name in _BOOL_PREDICATES
                    and t.kind not in ("bool", "unknown")
                ):
                    raise self.error(arg, f"predicate should return boolean (got {_GO_NAMES[t.kind]})")
            return _T(exprfuncs.BUILTIN_RETURNS.get(name, "unknown"))
        args = [self.check(a) for a in node.args]
        if name in _STRING_BUILTINS:
            params = _STRING_BUILTINS[name]
            for arg, t, want in zip(node.args, args, params, strict=False):
                if not _unknown(t) and t.kind != want:
                    raise self.error(
                        arg, f"cannot use {_GO_NAMES[t.kind]} as argument (type {want}) to call {name}"
                    )
            if len(args) > len(params):
                raise self.error(node, f"too many arguments to call {name}")
        if name == "len" and len(args) == 1 and args[0].kind not in ("array", "map", "string", "unknown"):
            raise self.error(node, f"invalid argument for len (type {_GO_NAMES[args[0].kind]})")
        if (
            name in ("int", "float")
            and len(args) == 1
            and args[0].kind not in ("int", "float", "string", "unknown")
        ):
            raise self.error(node, f"invalid argument for {name} (type {_GO_NAMES[args[0].kind]})")
        if name in ("abs", "ceil", "floor", "round") and len(args) == 1:
            if args[0].kind not in ("int", "float", "unknown"):
                raise self.error(node, f"invalid argument for {name} (type {_GO_NAMES[args[0].kind]})")
            if name == "abs":
                return args[0]
        return _T(exprfuncs.BUILTIN_RETURNS.get(name, "unknown"))

    def binary(self, node: Binary) -> _T:
        op = node.op
        a, b = self.check(node.left), self.check(node.right)
        ka, kb = a.kind, b.kind
        ok: _T | None = None
        if op in ("==", "!="):
            comparable = (
                _unknown(a) or _unknown(b) or ka == "nil" or kb == "nil" or (_num(a) and _num(b)) or ka == kb
            )
            ok = _T("bool") if comparable else None
        elif op in ("or", "||", "and", "&&"):
            if (ka == "bool" and kb == "bool") or _maybe(a, b, "bool"):
                ok = _T("bool")
        elif op in ("<", ">", "<=", ">="):
            if (_num(a) and _num(b)) or (ka == kb == "string") or _maybe(a, b, "int", "float", "string"):
                ok = _T("bool")
        elif op in ("-", "*"):
            if _num(a) and _num(b):
                ok = _T("float") if "float" in (ka, kb) else _T("int")
            elif _maybe(a, b, "int", "float"):
                ok = _UNKNOWN
        elif op in ("/", "**", "^"):
            if (_num(a) and _num(b)) or _maybe(a, b, "int", "float"):
                ok = _T("float")
        elif op == "%":
            if (ka == kb == "int") or _maybe(a, b, "int"):
                ok = _T("int")
        elif op == "+":
            if _num(a) and _num(b):
                ok = _T("float") if "float" in (ka, kb) else _T("int")
            elif ka == kb == "string":
                ok = _T("string")
            elif _maybe(a, b, "int", "float", "string"):
                ok = _UNKNOWN
        elif op == "in":
            if kb == "map":
                if not (_unknown(a) or ka == "string"):
                    raise self.error(node, f"cannot use {_GO_NAMES[ka]} as type string in map key")
                ok = _T("bool")
            elif kb == "array" or _unknown(b) or (_unknown(a) and kb in ("string", "array", "map")):
                ok = _T("bool")
        elif op == "matches":
            if isinstance(node.right, Lit) and isinstance(node.right.value, str):
                exprfuncs.go_regex(node.right.value)
            if (ka == kb == "string") or _maybe(a, b, "string"):
                ok = _T("bool")
        elif op in ("contains", "startsWith", "endsWith"):
            if (ka == kb == "string") or _maybe(a, b, "string"):
                ok = _T("bool")
        elif op == "..":
            if (ka == kb == "int") or _maybe(a, b, "int"):
                ok = _T("array")
        elif op == "??":
            if ka == "nil":
                return b
            if kb == "nil":
                return a
            return a if ka == kb else _UNKNOWN
        else:
            raise self.error(node, f"unknown operator ({op})")
        if ok is None:
            raise self.error(
                node, f"invalid operation: {op} (mismatched types {_GO_NAMES[ka]} and {_GO_NAMES[kb]})"
            )
        return ok


# --------------------------------------------------------------------------------------------------
# interpreter


class _NilChainError(Exception):
    """An optional member (``a?.b``) met nil: the whole chain is nil."""


@dataclass
class _Frame:
    item: Any = None
    index: int = 0
    acc: Any = None


class _Interpreter:
    def __init__(self, text: str, env: Mapping[str, Any]) -> None:
        self.text = text
        self.env = env
        self.scopes: list[tuple[str, Any]] = []
        self.frames: list[_Frame] = []

    def fail(self, node: Node, exc: ExprError) -> ExprError:
        if exc.message.endswith(")") and re.search(r"\(\d+:\d+\)$", exc.message):
            return exc
        return ExprError(f"{exc.message} {_location(self.text, node.pos)}", exc.hint)

    def eval(self, node: Node) -> Any:
        try:
            return self._eval(node)
        except ExprError as exc:
            raise self.fail(node, exc) from None

    def _eval(self, node: Node) -> Any:
        if isinstance(node, Lit):
            return node.value
        if isinstance(node, Ident):
            for name, value in reversed(self.scopes):
                if name == node.name:
                    return value
            if node.name == "$env":
                return dict(self.env)
            return self.env.get(node.name)
        if isinstance(node, Pointer):
            frame = self.frames[-1]
            return frame.index if node.name == "index" else frame.acc if node.name == "acc" else frame.item
        if isinstance(node, Unary):
            value = self.eval(node.node)
            if node.op in ("!", "not"):
                return not _need_bool(value)
            if node.op == "-":
                return negate(value)
            if not is_number(value):
                raise ExprError(f"invalid operation: + {go_type(value)}")
            return value
        if isinstance(node, Binary):
            return self.binary(node)
        if isinstance(node, Chain):
            try:
                return self.eval(node.node)
            except _NilChainError:
                return None
        if isinstance(node, Member):
            base = self.eval(node.node)
            if base is None and node.optional:
                raise _NilChainError
            return fetch(base, self.eval(node.prop))
        if isinstance(node, Slice):
            return self.slice(node)
        if isinstance(node, Call):
            return self.call(node)
        if isinstance(node, Builtin):
            return self.builtin(node)
        if isinstance(node, Cond):
            return self.eval(node.yes) if _need_bool(self.eval(node.cond)) else self.eval(node.no)
        if isinstance(node, Array):
            return [self.eval(item) for item in node.items]
        if isinstance(node, MapLit):
            out: dict[Any, Any] = {}
            for k, v in node.pairs:
                key = self.eval(k)
                if isinstance(key, list | dict):
                    raise ExprError(f"invalid map key type {go_type(key)}")
                out[key] = self.eval(v)
            return out
        if isinstance(node, Let):
            self.scopes.append((node.name, self.eval(node.value)))
            try:
                return self.eval(node.body)
            finally:
                self.scopes.pop()
        if isinstance(node, Seq):
            value = None
            for n in node.nodes:
                value = self.eval(n)
            return value
        if isinstance(node, Predicate):
            return self.eval(node.node)
        raise ExprError(f"unexpected node {type(node).__name__}")

    def binary(self, node: Binary) -> Any:
        op = node.op
        if op in ("&&", "and"):
            left = self.eval(node.left)
            return self.eval(node.right) if _need_bool(left) else False
        if op in ("||", "or"):
            left = self.eval(node.left)
            return True if _need_bool(left) else self.eval(node.right)
        if op == "??":
            try:
                left = self.eval(node.left)
            except _NilChainError:
                left = None
            return self.eval(node.right) if left is None else left
        a, b = self.eval(node.left), self.eval(node.right)
        if op == "==":
            return equal(a, b)
        if op == "!=":
            return not equal(a, b)
        if op in ("<", "<=", ">", ">="):
            return less(op, a, b)
        if op == "+":
            return add(a, b)
        if op == "-":
            return subtract(a, b)
        if op == "*":
            return multiply(a, b)
        if op == "/":
            return divide(a, b)
        if op == "%":
            return modulo(a, b)
        if op in ("**", "^"):
            return exponent(a, b)
        if op == "in":
            return contains_item(b, a)
        if op == "..":
            lo, hi = to_int(a), to_int(b)
            if hi - lo > 1_000_000:
                raise ExprError("memory budget exceeded")
            return list(range(lo, hi + 1))
        if a is None or b is None:
            return False
        if op == "matches":
            return exprfuncs.go_regex(_need_str(b)).search(_need_str(a)) is not None
        if op == "contains":
            return _need_str(b) in _need_str(a)
        if op == "startsWith":
            return _need_str(a).startswith(_need_str(b))
        if op == "endsWith":
            return _need_str(a).endswith(_need_str(b))
        raise ExprError(f"unknown operator ({op})")

    def slice(self, node: Slice) -> Any:
        base = self.eval(node.node)
        if not isinstance(base, list | str):
            raise ExprError(f"cannot slice {go_type(base)}")
        data: Any = base.encode() if isinstance(base, str) else base
        n = len(data)
        lo = 0 if node.start is None else to_int(self.eval(node.start))
        hi = n if node.end is None else to_int(self.eval(node.end))
        lo = max(0, lo + n if lo < 0 else lo)
        hi = min(n, max(0, hi + n if hi < 0 else hi))
        lo = min(lo, hi)
        part = data[lo:hi]
        return part.decode("utf-8", "replace") if isinstance(base, str) else part

    def call(self, node: Call) -> Any:
        fn = self.eval(node.callee)
        args = [self.eval(a) for a in node.args]
        if fn is None:
            raise ExprError(
                f"{_callee_name(node.callee)} is not a function (invalid operation: cannot call nil)"
            )
        if not isinstance(fn, GoFunc):
            raise ExprError(f"invalid operation: cannot call non-function of type {go_type(fn)}")
        return fn.call(args)

    def builtin(self, node: Builtin) -> Any:
        name = node.name
        if name in exprfuncs.UNSUPPORTED_BUILTINS:
            raise ExprError(f"the {name}() function is not supported by the local executor")
        if name not in _PREDICATES:
            return exprfuncs.BUILTINS[name]([self.eval(a) for a in node.args])
        items = self.eval(node.args[0])
        if not isinstance(items, list):
            raise ExprError(f"builtin {name} takes only array (got {go_type(items)})")
        pred = node.args[1] if len(node.args) > 1 else None
        if name in ("count", "sum") and pred is None:
            if name == "count":
                return sum(1 for v in items if _need_bool(v))
            total: Any = 0
            for v in items:
                total = add(total, v)
            return total
        assert pred is not None
        if name == "reduce":
            return self.reduce(items, pred, node.args[2] if len(node.args) > 2 else None)
        results = self.each(items, pred)
        if name == "map":
            return [r for _, r in results]
        if name == "sum":
            total = 0
            for _, r in results:
                total = add(total, r)
            return total
        if name == "groupBy":
            groups: dict[Any, Any] = {}
            for item, key in results:
                if isinstance(key, list | dict):
                    raise ExprError(f"groupBy: cannot use {go_type(key)} as a map key")
                groups.setdefault(key, []).append(item)
            return groups
        if name == "sortBy":
            order = self.eval(node.args[2]) if len(node.args) > 2 else "asc"
            if order not in ("asc", "desc"):
                raise ExprError(f"unknown order, use asc or desc (got {order})")
            keyed = exprfuncs.sort_values([r for _, r in results], desc=order == "desc")
            out, remaining = [], list(results)
            for key in keyed:
                for i, (item, r) in enumerate(remaining):
                    if r is key or equal(r, key):
                        out.append(item)
                        del remaining[i]
                        break
            return out
        flags = [(item, _need_bool(r)) for item, r in results]
        if name == "all":
            return all(f for _, f in flags)
        if name == "none":
            return not any(f for _, f in flags)
        if name == "any":
            return any(f for _, f in flags)
        if name == "one":
            return sum(1 for _, f in flags if f) == 1
        if name == "filter":
            return [item for item, f in flags if f]
        if name == "count":
            return sum(1 for _, f in flags if f)
        if name == "find":
            return next((item for item, f in flags if f), None)
        if name == "findIndex":
            return next((i for i, (_, f) in enumerate(flags) if f), -1)
        if name == "findLast":
            return next((item for item, f in reversed(flags) if f), None)
        if name == "findLastIndex":
            return next((i for i in range(len(flags) - 1, -1, -1) if flags[i][1]), -1)
        raise ExprError(f"unknown builtin {name}")

    def each(self, items: list[Any], pred: Node) -> list[tuple[Any, Any]]:
        results = []
        for i, item in enumerate(items):
            self.frames.append(_Frame(item, i))
            try:
                results.append((item, self.eval(pred)))
            finally:
                self.frames.pop()
        return results

    def reduce(self, items: list[Any], pred: Node, init: Node | None) -> Any:
        if init is not None:
            acc, start = self.eval(init), 0
        else:
            if not items:
                raise ExprError("reduce of empty array with no initial value")
            acc, start = items[0], 1
        for i in range(start, len(items)):
            self.frames.append(_Frame(items[i], i, acc))
            try:
                acc = self.eval(pred)
            finally:
                self.frames.pop()
        return acc


def _need_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ExprError(f"interface conversion: interface {{}} is {go_type(value)}, not bool")
    return value


def _need_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ExprError(f"interface conversion: interface {{}} is {go_type(value)}, not string")
    return value


def _callee_name(node: Node) -> str:
    path = _member_path(node, allow_optional=True)
    return path if path is not None else "the callee"


def fetch(base: Any, key: Any) -> Any:
    """expr-lang's ``runtime.Fetch``: a map key (missing -> nil) or a list/string index."""
    if isinstance(base, dict):
        if key is None:
            key = ""
        if isinstance(key, list | dict) or (
            not isinstance(key, str) and all(isinstance(k, str) for k in base)
        ):
            raise ExprError(
                f"reflect.Value.MapIndex: value of type {go_type(key)} is not assignable to type string"
            )
        return base.get(key)
    if isinstance(base, list | str):
        if isinstance(key, bool) or not is_number(key):
            raise ExprError(f"invalid operation: int({go_type(key)})")
        i = to_int(key)
        n = len(base.encode()) if isinstance(base, str) else len(base)
        j = i + n if i < 0 else i
        if not 0 <= j < n:
            raise ExprError(f"index out of range: {j} (array length is {n})")
        return base.encode()[j] if isinstance(base, str) else base[j]
    if base is None:
        raise ExprError(f"cannot fetch {go_sprint(key)} from <nil>")
    raise ExprError(f"cannot fetch {go_sprint(key)} from {go_type(base)}")


def contains_item(collection: Any, needle: Any) -> bool:
    """expr-lang's ``runtime.In`` (``needle in collection``)."""
    if collection is None:
        return False
    if isinstance(collection, list):
        return any(equal(v, needle) for v in collection)
    if isinstance(collection, dict):
        if isinstance(needle, list | dict) or (
            needle is not None and not isinstance(needle, str) and all(isinstance(k, str) for k in collection)
        ):
            raise ExprError(
                f"reflect.Value.MapIndex: value of type {go_type(needle)} is not assignable to type string"
            )
        return needle in collection
    raise ExprError(f'operator "in" not defined on {go_type(collection)}')


# --------------------------------------------------------------------------------------------------
# programs


@dataclass(frozen=True)
class Program:
    """A parsed expression (check it against an environment with :func:`run`)."""

    text: str
    tree: Node


@functools.lru_cache(maxsize=1024)
def compile_expr(text: str) -> Program:
    """Parse ``text`` (syntax errors raise :class:`ExprError` with a position); parses are cached."""
    try:
        return Program(text, _Parser(text).parse())
    except RecursionError:
        raise ExprError("expression is nested too deeply") from None


def run(program: Program, env: Mapping[str, Any]) -> Any:
    """Type-check ``program`` against ``env`` (as expr-lang's ``Compile`` does), then evaluate it."""
    try:
        _Checker(program.text, env).check(program.tree)
        return _Interpreter(program.text, env).eval(program.tree)
    except _NilChainError:
        return None
    except RecursionError:
        raise ExprError("expression is nested too deeply") from None


# --------------------------------------------------------------------------------------------------
# Argo's environment and its missing-variable check


def argo_env(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Argo's expression environment from a flat scope (``util/expr/env.GetFuncMap``).

    Dotted keys become nested maps (``steps.a.outputs.result`` -> ``steps['a']['outputs']['result']``);
    a key that is a prefix of others is dropped (``inputs.parameters``, the JSON list, gives way to
    ``inputs.parameters.x``), as Argo's ``expand.Expand`` does. Internal keys (with ``#``) are skipped.
    """
    keys = sorted(k for k in flat if "#" not in k)
    parents = {k[:i] for k in keys for i in range(len(k)) if k[i] == "."}
    env: dict[str, Any] = {}
    for key in keys:
        if key in parents:
            continue
        parts = key.split(".")
        node = env
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = flat[key]
    env.update(exprfuncs.argo_functions())
    return env


def _member_path(node: Node, allow_optional: bool = False) -> str | None:
    """``a.b['c']`` -> ``"a.b.c"`` when every property is a string literal (Argo's getMemberPath)."""
    parts: list[str] = []
    cur: Node = node
    while True:
        if isinstance(cur, Chain):
            cur = cur.node
            continue
        if isinstance(cur, Ident):
            return ".".join([cur.name, *reversed(parts)])
        if not isinstance(cur, Member):
            return None
        if cur.optional and not allow_optional:
            return None
        if not (isinstance(cur.prop, Lit) and isinstance(cur.prop.value, str)):
            return None
        parts.append(cur.prop.value)
        cur = cur.node


def _walk(node: Node) -> Iterator[Node]:
    """The nodes under ``node``, children first (expr-lang's ``ast.Walk`` order)."""
    for child in _children(node):
        yield from _walk(child)
    yield node


def _children(node: Node) -> list[Node]:
    if isinstance(node, Unary | Chain | Predicate):
        return [node.node]
    if isinstance(node, Binary):
        return [node.left, node.right]
    if isinstance(node, Member):
        return [node.node, node.prop]
    if isinstance(node, Slice):
        return [n for n in (node.node, node.start, node.end) if n is not None]
    if isinstance(node, Call):
        return [node.callee, *node.args]
    if isinstance(node, Builtin):
        return list(node.args)
    if isinstance(node, Cond):
        return [node.cond, node.yes, node.no]
    if isinstance(node, Array):
        return list(node.items)
    if isinstance(node, MapLit):
        return [n for pair in node.pairs for n in pair]
    if isinstance(node, Let):
        return [node.value, node.body]
    if isinstance(node, Seq):
        return list(node.nodes)
    return []


def _has_path(env: Mapping[str, Any], path: str) -> bool:
    current: Any = env
    for part in path.split("."):
        if not isinstance(current, dict) or part not in current:
            return False
        current = current[part]
    return True


def missing_identifiers(program: Program, env: Mapping[str, Any]) -> list[str]:
    """The names an expression uses that ``env`` lacks, as Argo's template substitution checks them.

    Every identifier and every member path of string properties (``steps['a'].outputs.result`` is
    ``steps.a.outputs.result``) must be in the environment, except member paths on the left of ``??``
    and the base of ``?.`` (``x.y ?? 'd'`` and ``x?.y`` may be absent); a present ``nil`` counts as
    present (``util/template/expression_template.go``).
    """
    guarded: set[int] = set()
    for node in _walk(program.tree):
        if isinstance(node, Binary) and node.op == "??":
            guarded.update(id(n) for n in _walk(node.left) if isinstance(n, Member))
        if isinstance(node, Member) and node.optional and isinstance(node.node, Member):
            guarded.add(id(node.node))
    missing: list[str] = []
    for node in _walk(program.tree):
        if id(node) in guarded:
            continue
        path: str | None = None
        if isinstance(node, Ident):
            path = node.name
        elif isinstance(node, Member):
            path = _member_path(node)
        if path is not None and path not in missing and not _has_path(env, path):
            missing.append(path)
    return missing
