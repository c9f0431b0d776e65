"""The interpreter that evaluates a checked expr-lang syntax tree."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from driftloop.local.executor import exprfuncs
from driftloop.local.executor.exprlang.lexer import location
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
    member_path,
)
from driftloop.local.executor.exprlang.parser import PREDICATES
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


class NilChainError(Exception):
    """An optional member (``a?.b``) met nil: the whole chain is nil."""


@dataclass
class _Frame:
    item: Any = None
    index: int = 0
    acc: Any = None


class Interpreter:
    def __init__(self, text: str, env: Mapping[str, Any]) -> None:
        self.text = text
        self.env = env
        self.scopes: list[tuple[str, Any]] = []
        self.frames: list[_Frame] = []

    def fail(self, node: Node, exc: ExprError) -> ExprError:
        if exc.message.endswith(")") and re.search(r"\(\d+:\d+\)$", exc.message):
            return exc
        return ExprError(f"{exc.message} {location(self.text, node.pos)}", exc.hint)

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
            except NilChainError:
                return None
        if isinstance(node, Member):
            base = self.eval(node.node)
            if base is None and node.optional:
                raise NilChainError
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
            except NilChainError:
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
        if name not in PREDICATES:
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
    path = member_path(node, allow_optional=True)
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
