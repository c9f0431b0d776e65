"""The syntax tree an expr-lang expression parses into."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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


def member_path(node: Node, allow_optional: bool = False) -> str | None:
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
