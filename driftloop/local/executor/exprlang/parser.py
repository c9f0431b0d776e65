"""expr-lang's parser (``parser/parser.go``): tokens to a syntax tree."""

from __future__ import annotations

import re

from driftloop.local.executor import exprfuncs
from driftloop.local.executor.exprlang.lexer import NEGATABLE, Lexer, Token, location
from driftloop.local.executor.exprlang.nodes import (
    Array,
    Binary,
    Builtin,
    Call,
    Chain,
    Cond,
    Ident,
    Let,
    Lit,
    MapLit,
    Member,
    Node,
    Pointer,
    Predicate,
    Seq,
    Slice,
    Unary,
)
from driftloop.local.executor.exprvalues import (
    ExprError,
)

_MAX_NODES = 10_000


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
PREDICATES: dict[str, tuple[str, ...]] = {
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
BUILTIN_NAMES = set(PREDICATES) | set(exprfuncs.BUILTINS) | set(exprfuncs.UNSUPPORTED_BUILTINS)


class Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = Lexer(text).lex()
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
        return ExprError(f"{message} {location(self.text, (tok or self.cur).pos)}")

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
                if self.cur.kind == "op" and self.cur.value in NEGATABLE:
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
        if name in PREDICATES:
            self.expect("bracket", "(")
            for i, kind in enumerate(PREDICATES[name][len(args) :]):
                optional = kind.endswith("?")
                if self.is_("bracket", ")"):
                    if optional:
                        break
                    raise self.error(f"expected at least {len(PREDICATES[name]) - len(args)} arguments")
                if i > 0:
                    self.expect("op", ",")
                args.append(self.predicate() if kind.startswith("pred") else self.expression(0))
            if self.is_("op", ","):
                self.next()
            self.expect("bracket", ")")
            return self.node(Builtin(name, args), tok.pos)
        if name in BUILTIN_NAMES:
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
