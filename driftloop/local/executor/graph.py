"""DAG dependencies: ``depends`` expressions, ``dependencies`` lists and a deterministic order.

``depends`` follows Argo's "enhanced depends logic": ``A`` alone means
``A.Succeeded || A.Skipped || A.Daemoned`` (plus ``A.Failed`` / ``A.Errored`` when the task has
``continueOn``), and ``&&``, ``||``, ``!`` and parentheses combine results
(https://argo-workflows.readthedocs.io/en/latest/enhanced-depends-logic/).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from driftloop.errors import WorkflowError

__all__ = ["dependencies_of", "depends_satisfied", "topological_order"]

_REF = re.compile(r"([A-Za-z0-9][\w\-]*)(?:\.(\w+))?")
_RESULTS = {
    "Succeeded": {"Succeeded"},
    "Failed": {"Failed"},
    "Errored": {"Error"},
    "Skipped": {"Skipped"},
    "Omitted": {"Omitted"},
    "Daemoned": set(),  # daemon steps are not supported locally
    "Completed": {"Succeeded", "Failed"},
}


def _depends_of(task: Mapping[str, Any]) -> str:
    if "depends" in task and "dependencies" in task:
        raise WorkflowError(
            f"task {task.get('name')!r} sets both 'depends' and 'dependencies'", "use one of them"
        )
    if "depends" in task:
        return str(task["depends"] or "")
    return " && ".join(str(d) for d in task.get("dependencies") or [])


def dependencies_of(task: Mapping[str, Any]) -> list[str]:
    """Names of the tasks that ``task`` waits for, in the order they are written."""
    text = _depends_of(task)
    names: list[str] = []
    for m in _REF.finditer(text):
        if m.group(1) not in names:
            names.append(m.group(1))
    return names


def topological_order(tasks: Sequence[Mapping[str, Any]]) -> list[str]:
    """Kahn's algorithm; ties are broken by declaration order so a run is reproducible."""
    names = [str(t["name"]) for t in tasks]
    deps = {str(t["name"]): dependencies_of(t) for t in tasks}
    for name, ds in deps.items():
        for d in ds:
            if d not in deps:
                raise WorkflowError(
                    f"task {name!r} depends on {d!r}, which is not a task of this DAG",
                    f"add a task named {d!r} or fix the name in 'depends'",
                )
    done: list[str] = []
    remaining = list(names)
    while remaining:
        ready = next((n for n in remaining if all(d in done for d in deps[n])), None)
        if ready is None:
            raise WorkflowError(f"the DAG has a dependency cycle among {remaining}", "remove the cycle")
        done.append(ready)
        remaining.remove(ready)
    return done


def depends_satisfied(
    task: Mapping[str, Any], phases: Mapping[str, str], continue_on: Mapping[str, Mapping[str, Any]]
) -> bool:
    """Evaluate the task's ``depends`` (or ``dependencies``) against the phases of finished tasks."""
    text = _depends_of(task)
    if not text.strip():
        return True
    py: list[str] = []
    pos = 0
    for tok in re.finditer(r"\s*(&&|\|\||!|\(|\)|[A-Za-z0-9][\w\-]*(?:\.\w+)?)", text):
        if tok.start() != pos and text[pos : tok.start()].strip():
            break
        pos = tok.end()
        word = tok.group(1)
        if word in ("&&", "||", "!", "(", ")"):
            py.append({"&&": "and", "||": "or", "!": "not"}.get(word, word))
            continue
        py.append(str(_check(word, phases, continue_on)))
    if text[pos:].strip():
        raise WorkflowError(
            f"cannot parse depends {text!r}", "use task names, .Succeeded/.Failed/..., &&, ||, !"
        )
    return _eval_bool(py, text)


def _check(ref: str, phases: Mapping[str, str], continue_on: Mapping[str, Mapping[str, Any]]) -> bool:
    name, _, result = ref.partition(".")
    phase = phases.get(name, "Omitted")
    if not result:
        ok = {"Succeeded", "Skipped"}
        co = continue_on.get(name) or {}
        if co.get("failed"):
            ok.add("Failed")
        if co.get("error"):
            ok.add("Error")
        return phase in ok
    if result in ("AnySucceeded", "AllFailed"):  # only a fan-out has children (Argo: a TaskGroup)
        kids = phases.get(f"{name}#children", "")
        kid_phases = kids.split(",") if kids else []
        if result == "AnySucceeded":
            return "Succeeded" in kid_phases
        return bool(kid_phases) and all(p == "Failed" for p in kid_phases)
    if result not in _RESULTS:
        raise WorkflowError(
            f"unknown task result {ref!r} in depends",
            f"use one of {', '.join([*_RESULTS, 'AnySucceeded', 'AllFailed'])}",
        )
    return phase in _RESULTS[result]


def _eval_bool(tokens: list[str], text: str) -> bool:
    # A tiny recursive-descent evaluator over True/False/and/or/not/( ) — no eval().
    pos = 0

    def binary(op: str, operand: Callable[[], bool]) -> bool:
        # One precedence level: operand (op operand)*; both sides are always parsed (no short cut).
        nonlocal pos
        value = operand()
        while pos < len(tokens) and tokens[pos] == op:
            pos += 1
            right = operand()
            value = (value or right) if op == "or" else (value and right)
        return value

    def expr_or() -> bool:
        return binary("or", expr_and)

    def expr_and() -> bool:
        return binary("and", expr_not)

    def expr_not() -> bool:
        nonlocal pos
        if pos < len(tokens) and tokens[pos] == "not":
            pos += 1
            return not expr_not()
        if pos < len(tokens) and tokens[pos] == "(":
            pos += 1
            value = expr_or()
            if pos >= len(tokens) or tokens[pos] != ")":
                raise WorkflowError(f"unbalanced parentheses in depends {text!r}")
            pos += 1
            return value
        if pos < len(tokens) and tokens[pos] in ("True", "False"):
            pos += 1
            return tokens[pos - 1] == "True"
        raise WorkflowError(f"cannot parse depends {text!r}")

    value = expr_or()
    if pos != len(tokens):
        raise WorkflowError(f"cannot parse depends {text!r}")
    return value
