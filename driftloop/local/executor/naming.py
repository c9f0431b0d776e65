"""Argo's names: node names, fan-out suffixes, (v2) pod names and the template a node runs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["fnv1a_32", "item_label", "item_scope", "pod_name", "template_name"]

_MAX_NAME = 253
_HASH_LEN = 10


def fnv1a_32(text: str) -> int:
    """FNV-1a 32-bit hash, as Go's ``hash/fnv.New32a``."""
    h = 2166136261
    for byte in text.encode():
        h ^= byte
        h = (h * 16777619) & 0xFFFFFFFF
    return h


def pod_name(workflow_name: str, node_name: str, template_name: str) -> str:
    """``<workflow>-<template>-<fnv32a(node name)>``: Argo's POD_NAMES=v2 (the default since v3.4)."""
    if node_name == workflow_name:
        return workflow_name
    prefix = f"{workflow_name}-{template_name}"
    if len(prefix) > _MAX_NAME - _HASH_LEN - 1:
        prefix = prefix[: _MAX_NAME - _HASH_LEN - 1]
    return f"{prefix}-{fnv1a_32(node_name)}"


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def item_label(index: int, item: Any) -> str:
    """The ``(i:value)`` suffix Argo appends to a fan-out child's name; maps print as ``k:v,k:v``."""
    if isinstance(item, dict):
        text = ",".join(f"{k}:{_scalar(item[k])}" for k in sorted(item))
    else:
        text = _scalar(item)
    return f"({index}:{text})"


def item_scope(item: Any) -> dict[str, str]:
    """``{{item}}`` and, for maps, ``{{item.key}}``."""
    scope = {"item": _scalar(item)}
    if isinstance(item, dict):
        for k, v in item.items():
            scope[f"item.{k}"] = _scalar(v)
    return scope


def template_name(holder: Mapping[str, Any]) -> str:
    """The template a task, step or hook runs. Only ``template``: ``load_workflow`` has already turned
    every ``templateRef`` into a plain ``template`` naming the imported copy."""
    return str(holder.get("template") or "")
