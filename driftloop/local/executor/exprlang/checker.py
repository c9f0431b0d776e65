"""expr-lang's static checker (``checker/checker.go``): what it rejects before running."""

from __future__ import annotations

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
)
from driftloop.local.executor.exprlang.parser import BUILTIN_NAMES, PREDICATES
from driftloop.local.executor.exprvalues import (
    ExprError,
    GoFunc,
)

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


class Checker:
    def __init__(self, text: str, env: Mapping[str, Any]) -> None:
        self.text = text
        self.env = env
        self.scopes: list[tuple[str, _T]] = []
        self.predicate_depth = 0

    def error(self, node: Node, message: str) -> ExprError:
        return ExprError(f"{message} {location(self.text, node.pos)}")

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
        if node.name in BUILTIN_NAMES:
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
        if name in PREDICATES:
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
