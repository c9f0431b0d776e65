"""Argo's expression environment and its missing-variable check."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from driftloop.local.executor import exprfuncs
from driftloop.local.executor.exprlang.nodes import (
    Array,
    Binary,
    Builtin,
    Call,
    Chain,
    Cond,
    Ident,
    Let,
    MapLit,
    Member,
    Node,
    Predicate,
    Seq,
    Slice,
    Unary,
    member_path,
)
from driftloop.local.executor.exprlang.program import Program


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
            path = member_path(node)
        if path is not None and path not in missing and not _has_path(env, path):
            missing.append(path)
    return missing
