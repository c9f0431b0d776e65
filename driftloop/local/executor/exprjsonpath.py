"""``jsonpath(json, path)`` in Argo expressions (github.com/evilmonkeyinc/jsonpath, as Argo uses it).

Supported selectors: ``$``, ``.key`` / ``['key']`` / ``["key"]``, ``[n]`` (negative from the end),
``*`` / ``[*]``, unions ``[a,b]`` / ``['a','b']``, ranges ``[start:end:step]``, recursive descent
``..key``, ``.length`` and filters ``[?(...)]`` whose expression compares ``@``/``$`` paths with
literals (``== != < <= > >= =~``, ``&& || !``, parentheses). As in the Go library, a path through a
wildcard, union, range, filter or recursive descent gives a list (elements where the rest of the path
fails are dropped), a plain path gives the value and a missing key is an error. Script selectors
``[(...)]`` and arithmetic in filters are refused with an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from driftloop.local.executor.exprfuncs.regexes import go_regex
from driftloop.local.executor.exprvalues import ExprError, is_number

__all__ = ["query"]


@dataclass(frozen=True)
class _Tok:
    kind: str  # key | index | wildcard | union | range | filter | recursive | length
    arg: Any = None


class _MissError(Exception):
    """A token does not apply to the value (the Go library returns an error)."""


def query(path: str, data: Any) -> Any:
    """The value(s) at ``path`` in ``data`` (parsed JSON)."""
    tokens = _parse(path)
    try:
        return _apply(data, data, tokens)
    except _MissError as exc:
        raise ExprError(f"jsonpath {path!r}: {exc}") from None


def _parse(path: str) -> list[_Tok]:
    text = path.strip()
    if not text.startswith("$"):
        raise ExprError(f"jsonpath {path!r}: a selector must start with $")
    i, tokens = 1, []
    while i < len(text):
        if text.startswith("..", i):
            tokens.append(_Tok("recursive"))
            i += 2
            if i < len(text) and text[i] != "[":
                i = _dot_name(text, i, tokens, path)
            continue
        ch = text[i]
        if ch == ".":
            i = _dot_name(text, i + 1, tokens, path)
        elif ch == "[":
            end = _matching_bracket(text, i, path)
            tokens.append(_subscript(text[i + 1 : end].strip(), path))
            i = end + 1
        else:
            raise ExprError(f"jsonpath {path!r}: unexpected {ch!r} at position {i}")
    return tokens


def _dot_name(text: str, i: int, tokens: list[_Tok], path: str) -> int:
    m = re.compile(r"[^.\[]+").match(text, i)
    if not m:
        raise ExprError(f"jsonpath {path!r}: a name is missing at position {i}")
    name = m.group(0).strip()
    if name == "*":
        tokens.append(_Tok("wildcard"))
    elif name == "length":
        tokens.append(_Tok("length"))
    else:
        tokens.append(_Tok("key", name))
    return m.end()


def _matching_bracket(text: str, i: int, path: str) -> int:
    depth, quote = 0, ""
    j = i
    while j < len(text):
        ch = text[j]
        if quote:
            if ch == "\\":
                j += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return j
        j += 1
    raise ExprError(f"jsonpath {path!r}: unclosed [")


def _split_top(text: str, sep: str) -> list[str]:
    parts, depth, quote, cur = [], 0, "", []
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            cur.append(ch)
            if ch == "\\" and i + 1 < len(text):
                cur.append(text[i + 1])
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            cur.append(ch)
        elif ch in "([":
            depth += 1
            cur.append(ch)
        elif ch in ")]":
            depth -= 1
            cur.append(ch)
        elif ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    parts.append("".join(cur))
    return parts


def _literal_key(text: str) -> str | None:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return None


def _subscript(inner: str, path: str) -> _Tok:
    if inner == "*":
        return _Tok("wildcard")
    if inner.startswith("?(") and inner.endswith(")"):
        return _Tok("filter", _FilterParser(inner[2:-1], path).parse())
    if inner.startswith("("):
        raise ExprError(
            f"jsonpath {path!r}: script selectors [(...)] are not supported by the local executor"
        )
    parts = [p.strip() for p in _split_top(inner, ",")]
    if len(parts) == 1 and ":" in inner and _literal_key(inner) is None:
        bounds = [b.strip() for b in inner.split(":")]
        if len(bounds) > 3:
            raise ExprError(f"jsonpath {path!r}: bad range [{inner}]")
        try:
            nums = [int(b) if b else None for b in bounds]
        except ValueError:
            raise ExprError(f"jsonpath {path!r}: bad range [{inner}]") from None
        return _Tok("range", tuple(nums + [None] * (3 - len(nums))))
    keys: list[Any] = []
    for p in parts:
        lit = _literal_key(p)
        if lit is not None:
            keys.append(lit)
        elif re.fullmatch(r"-?\d+", p):
            keys.append(int(p))
        else:
            raise ExprError(f"jsonpath {path!r}: unsupported subscript [{inner}]")
    if len(keys) == 1:
        return _Tok("index", keys[0]) if isinstance(keys[0], int) else _Tok("key", keys[0])
    return _Tok("union", keys)


def _apply(root: Any, current: Any, tokens: list[_Tok]) -> Any:
    if not tokens:
        return current
    tok, rest = tokens[0], tokens[1:]
    if tok.kind == "key":
        if isinstance(current, dict):
            if tok.arg in current:
                return _apply(root, current[tok.arg], rest)
            raise _MissError(f"key {tok.arg!r} not found")
        raise _MissError(f"cannot get key {tok.arg!r} from {_kind(current)}")
    if tok.kind == "length":
        if isinstance(current, dict) and "length" in current:
            return _apply(root, current["length"], rest)
        if isinstance(current, list | dict | str):
            return _apply(root, float(len(current)), rest)
        raise _MissError(f"cannot get the length of {_kind(current)}")
    if tok.kind == "index":
        return _apply(root, _index(current, tok.arg), rest)
    if tok.kind == "wildcard":
        if isinstance(current, dict):
            children = [current[k] for k in sorted(current)]
        elif isinstance(current, list):
            children = list(current)
        else:
            raise _MissError(f"cannot use * on {_kind(current)}")
        return _each(root, children, rest)
    if tok.kind == "union":
        items = []
        for k in tok.arg:
            if isinstance(k, int):
                items.append(_index(current, k))
            elif isinstance(current, dict) and k in current:
                items.append(current[k])
            elif not isinstance(current, dict):
                raise _MissError(f"cannot get key {k!r} from {_kind(current)}")
        return _each(root, items, rest)
    if tok.kind == "range":
        if not isinstance(current, list):
            raise _MissError(f"cannot use a range on {_kind(current)}")
        start, end, step = tok.arg
        step = 1 if step is None else step
        if step == 0:
            raise _MissError("a range step cannot be 0")
        n = len(current)
        lo = 0 if start is None else (start + n if start < 0 else start)
        hi = n if end is None else (end + n if end < 0 else end)
        lo, hi = max(0, min(lo, n)), max(0, min(hi, n))
        picked = current[lo : hi : abs(step)]
        if step < 0:
            picked = list(reversed(picked))
        return _each(root, picked, rest)
    if tok.kind == "filter":
        if isinstance(current, dict):
            elements = [current[k] for k in sorted(current)]
        elif isinstance(current, list):
            elements = list(current)
        else:
            raise _MissError(f"cannot filter {_kind(current)}")
        kept = [e for e in elements if _include(tok.arg.eval(root, e))]
        if rest and rest[0].kind == "index":
            return _apply(root, kept, rest)
        return _each(root, kept, rest)
    if tok.kind == "recursive":
        return _recursive(root, current, rest)
    raise _MissError(f"unknown token {tok.kind}")


def _index(current: Any, i: int) -> Any:
    if not isinstance(current, list):
        raise _MissError(f"cannot index {_kind(current)}")
    j = i + len(current) if i < 0 else i
    if not 0 <= j < len(current):
        raise _MissError("index out of range")
    return current[j]


def _each(root: Any, items: list[Any], rest: list[_Tok]) -> list[Any]:
    if not rest:
        return items
    out = []
    for item in items:
        try:
            value = _apply(root, item, rest)
        except _MissError:
            continue
        if value is not None:
            out.append(value)
    return out


def _recursive(root: Any, current: Any, rest: list[_Tok]) -> list[Any]:
    out: list[Any] = []
    if current is None:
        return out
    if rest:
        try:
            value = _apply(root, current, rest)
        except _MissError:
            value = None
        if isinstance(value, list):
            out.extend(value)
        elif value is not None:
            out.append(value)
    else:
        out.append(current)
    if isinstance(current, dict):
        for k in sorted(current):
            out.extend(_recursive(root, current[k], rest))
    elif isinstance(current, list):
        for v in current:
            out.extend(_recursive(root, v, rest))
    return out


def _kind(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "map"


def _include(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, list | dict):
        return len(value) > 0
    if isinstance(value, str):
        if len(value) > 1 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        return value != ""
    return bool(value)


# --------------------------------------------------------------------------------------------------
# filter expressions


class _Node:
    def eval(self, root: Any, current: Any) -> Any:
        raise NotImplementedError


@dataclass(frozen=True)
class _Lit(_Node):
    value: Any

    def eval(self, root: Any, current: Any) -> Any:
        return self.value


@dataclass(frozen=True)
class _Path(_Node):
    base: str  # "@" or "$"
    tokens: tuple[_Tok, ...]

    def eval(self, root: Any, current: Any) -> Any:
        try:
            return _apply(root, current if self.base == "@" else root, list(self.tokens))
        except _MissError:
            return None


@dataclass(frozen=True)
class _Not(_Node):
    node: _Node

    def eval(self, root: Any, current: Any) -> Any:
        return not _include(self.node.eval(root, current))


@dataclass(frozen=True)
class _Bin(_Node):
    op: str
    left: _Node
    right: _Node

    def eval(self, root: Any, current: Any) -> Any:
        if self.op == "&&":
            return _include(self.left.eval(root, current)) and _include(self.right.eval(root, current))
        if self.op == "||":
            return _include(self.left.eval(root, current)) or _include(self.right.eval(root, current))
        a, b = self.left.eval(root, current), self.right.eval(root, current)
        if self.op == "=~":
            return isinstance(a, str) and isinstance(b, str) and go_regex(b).search(a) is not None
        if self.op in ("==", "!="):
            same = (float(a) == float(b)) if is_number(a) and is_number(b) else a == b
            return same if self.op == "==" else not same
        if (is_number(a) and is_number(b)) or (isinstance(a, str) and isinstance(b, str)):
            return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[self.op]
        return False


_FILTER_TOKEN = re.compile(
    r"""\s*(?:(?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    |(?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    |(?P<op>&&|\|\||==|!=|<=|>=|=~|[<>!()])
    |(?P<path>[@$](?:\.\.?[A-Za-z_*][\w-]*|\[[^\]]*\])*)
    |(?P<word>true|false|nil|null))""",
    re.VERBOSE,
)


class _FilterParser:
    def __init__(self, text: str, path: str) -> None:
        self.text, self.path = text, path
        self.toks: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            if not text[pos:].strip():
                break
            m = _FILTER_TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise ExprError(
                    f"jsonpath {path!r}: the filter ({text}) is not supported by the local executor "
                    "(comparisons of @/$ paths and literals with && || ! only)"
                )
            kind = m.lastgroup or "op"
            self.toks.append((kind, m.group(kind)))
            pos = m.end()
        self.i = 0

    def peek(self) -> tuple[str, str]:
        return self.toks[self.i] if self.i < len(self.toks) else ("end", "")

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        self.i += 1
        return tok

    def parse(self) -> _Node:
        node = self.or_()
        if self.peek()[0] != "end":
            raise ExprError(f"jsonpath {self.path!r}: unexpected {self.peek()[1]!r} in filter ({self.text})")
        return node

    def or_(self) -> _Node:
        node = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            node = _Bin("||", node, self.and_())
        return node

    def and_(self) -> _Node:
        node = self.cmp()
        while self.peek() == ("op", "&&"):
            self.take()
            node = _Bin("&&", node, self.cmp())
        return node

    def cmp(self) -> _Node:
        node = self.unary()
        if self.peek()[0] == "op" and self.peek()[1] in ("==", "!=", "<", "<=", ">", ">=", "=~"):
            op = self.take()[1]
            node = _Bin(op, node, self.unary())
        return node

    def unary(self) -> _Node:
        kind, value = self.take()
        if (kind, value) == ("op", "!"):
            return _Not(self.unary())
        if (kind, value) == ("op", "("):
            node = self.or_()
            if self.take() != ("op", ")"):
                raise ExprError(f"jsonpath {self.path!r}: unclosed ( in filter ({self.text})")
            return node
        if kind == "str":
            return _Lit(re.sub(r"\\(.)", r"\1", value[1:-1]))
        if kind == "num":
            return _Lit(float(value))
        if kind == "word":
            return _Lit({"true": True, "false": False}.get(value))
        if kind == "path":
            return _Path(value[0], tuple(_parse("$" + value[1:])))
        raise ExprError(f"jsonpath {self.path!r}: unexpected {value or 'end'!r} in filter ({self.text})")
