"""What a run produced: one :class:`NodeResult` per Argo node and the :class:`WorkflowResult`."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from driftloop.local.executor.naming import fnv1a_32, pod_name

__all__ = ["NodeResult", "WorkflowResult", "failures_value", "tree_order", "workflow_failures"]


@dataclass
class NodeResult:
    """A node as Argo would show it in ``status.nodes`` (names follow Argo's scheme)."""

    name: str
    display_name: str
    type: str  # Pod | DAG | Steps | StepGroup | TaskGroup | Retry | Skipped
    template_name: str | None
    phase: str = "Pending"  # Pending | Running | Succeeded | Failed | Error | Skipped | Omitted
    message: str = ""
    started: float | None = None
    finished: float | None = None
    result: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    exit_code: int | None = None
    pod_name: str | None = None
    log: str | None = None
    children: list[str] = field(default_factory=list)
    #: Argo's ``memoizationStatus`` (``{hit, key, cacheName}``) of a memoized template's node
    memoization: dict[str, Any] | None = None

    @property
    def label(self) -> str:
        """The node's name for the node list: with its display name when a template annotation set one
        (a default display name is a part of the node name)."""
        return self.name if self.display_name in self.name else f"{self.name} ({self.display_name})"

    @property
    def outputs(self) -> dict[str, Any]:
        return {"result": self.result, "parameters": dict(self.parameters)}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["displayName"] = data.pop("display_name")
        data["templateName"] = data.pop("template_name")
        data["exitCode"] = data.pop("exit_code")
        data["podName"] = data.pop("pod_name")
        data["outputs"] = {**self.outputs, "artifacts": data.pop("artifacts")}
        data.pop("result")
        data.pop("parameters")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NodeResult:
        outputs = data.get("outputs") or {}
        return cls(
            name=data["name"],
            display_name=data["displayName"],
            type=data["type"],
            template_name=data.get("templateName"),
            phase=data["phase"],
            message=data.get("message", ""),
            started=data.get("started"),
            finished=data.get("finished"),
            result=outputs.get("result"),
            parameters=dict(outputs.get("parameters") or {}),
            artifacts=list(outputs.get("artifacts") or []),
            exit_code=data.get("exitCode"),
            pod_name=data.get("podName"),
            log=data.get("log"),
            children=list(data.get("children") or []),
            memoization=data.get("memoization"),
        )


@dataclass
class WorkflowResult:
    """The outcome of :func:`driftloop.local.executor.run_workflow`."""

    name: str
    uid: str
    phase: str  # Succeeded | Failed | Error
    nodes: list[NodeResult]
    message: str = ""
    started: float | None = None
    finished: float | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    record_path: str | None = None
    #: the executor process running it, and that process's start time (/proc/<pid>/stat): a ``Running``
    #: record whose owner is gone was interrupted (see :func:`driftloop.local.executor.record.is_live`)
    owner_pid: int | None = None
    owner_start: str = ""
    #: the run's sandbox directory while it runs (removed at the end; by the next `up`/`down` after a kill)
    sandbox: str | None = None

    def node(self, display_name: str) -> NodeResult:
        """The first node with this display name (a task or step name)."""
        for n in self.nodes:
            if n.display_name == display_name:
                return n
        raise KeyError(display_name)

    def to_json(self) -> dict[str, Any]:
        """``{phase, nodes: [{name, displayName, phase, outputs: {result, parameters}}]}`` (+ name/type)."""
        return {
            "name": self.name,
            "phase": self.phase,
            "message": self.message,
            "nodes": [
                {
                    "name": n.name,
                    "displayName": n.display_name,
                    "type": n.type,
                    "phase": n.phase,
                    "message": n.message,
                    "outputs": n.outputs,
                }
                for n in self.nodes
            ],
        }

    def to_record(self) -> dict[str, Any]:
        """Everything, for the run record under ``<data_dir>/runs/<name>/run.json``."""
        return {
            "name": self.name,
            "uid": self.uid,
            "phase": self.phase,
            "message": self.message,
            "started": self.started,
            "finished": self.finished,
            "parameters": self.parameters,
            "owner_pid": self.owner_pid,
            "owner_start": self.owner_start,
            "sandbox": self.sandbox,
            "nodes": [n.to_dict() for n in self.nodes],
        }

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> WorkflowResult:
        return cls(
            name=data["name"],
            uid=data["uid"],
            phase=data["phase"],
            message=data.get("message", ""),
            started=data.get("started"),
            finished=data.get("finished"),
            parameters=dict(data.get("parameters") or {}),
            nodes=[NodeResult.from_dict(n) for n in data.get("nodes") or []],
            owner_pid=data.get("owner_pid"),
            owner_start=str(data.get("owner_start") or ""),
            sandbox=data.get("sandbox"),
        )

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2)


def tree_order(nodes: Sequence[NodeResult]) -> list[NodeResult]:
    """The nodes in a deterministic order: each root (in creation order), then depth first by ``children``.

    Nodes of parallel branches are created in whatever order their threads get to it; the parents'
    ``children`` lists are deterministic (a DAG's tasks in topological order, fan-out instances by index,
    retries by attempt), so this gives the order a sequential walk would create them in. Children that
    have no node (never started) are skipped; a node no parent lists comes last, by start time.
    """
    by_name: dict[str, list[NodeResult]] = {}
    for n in nodes:
        by_name.setdefault(n.name, []).append(n)
    listed = {c for n in nodes for c in n.children}
    out: list[NodeResult] = []
    seen: set[int] = set()
    for root in nodes:
        if root.name in listed:
            continue
        stack = [root]
        while stack:
            cur = stack.pop()
            if id(cur) in seen:
                continue
            seen.add(id(cur))
            out.append(cur)
            stack.extend(reversed([k for c in cur.children for k in by_name.get(c, [])]))
    rest = [n for n in nodes if id(n) not in seen]
    return out + sorted(rest, key=lambda n: (n.started or 0.0, n.name))


def workflow_failures(workflow_name: str, nodes: Sequence[NodeResult]) -> list[dict[str, Any]]:
    """``workflow.failures`` as Argo builds it (``operator.go``, ``failedNodeStatus``): every node that
    ended Failed or Error, whatever its type (pods, retries, DAG / steps nodes, step groups, task errors),
    with its display name, message, template name, phase, pod name (Argo's v2 name, computed for every
    node) and ``finishedAt`` (RFC 3339, or null). ``nodes`` in :func:`tree_order` for a stable order."""
    return [
        {
            "displayName": n.display_name,
            "message": n.message,
            "templateName": (n.template_name or "").rsplit("/", 1)[-1],  # templateRef: its template
            "phase": n.phase,
            "podName": n.pod_name or _pod_name(workflow_name, n),
            "finishedAt": _rfc3339(n.finished),
        }
        for n in nodes
        if n.phase in ("Failed", "Error")
    ]


def failures_value(failures: list[dict[str, Any]]) -> str:
    """The text ``{{workflow.failures}}`` becomes, as on Argo: the list as Go's ``json.Marshal`` writes
    it (fields in struct order, compact, ``<>&`` escaped; ``null`` when empty), then ``strconv.Quote``-d
    (``operator.go``: "so that the escaped quotes are not removed during parameter substitution"). A
    shell argument ``{{workflow.failures}}`` thus unquotes to the JSON list; Python code embedding it needs
    two ``json.loads`` over a raw string."""
    from driftloop.gosemantics import quote

    text = json.dumps(failures or None, separators=(",", ":"), ensure_ascii=False)
    for ch, escaped in _GO_JSON_ESCAPES:
        text = text.replace(ch, escaped)
    return quote(text)


_GO_JSON_ESCAPES = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


def _pod_name(workflow_name: str, node: NodeResult) -> str:
    if node.template_name:
        return pod_name(workflow_name, node.name, node.template_name.rsplit("/", 1)[-1])
    if node.name == workflow_name:
        return workflow_name
    return f"{workflow_name}-{fnv1a_32(node.name)}"  # Argo's GeneratePodName without a template


def _rfc3339(ts: float | None) -> str | None:
    return None if ts is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
