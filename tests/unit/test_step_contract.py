"""One contract, three places: a step's parameters appear in the Argo template (derived by Hera from the
entrypoint's signature), in the DAG task that calls it, and in the plain step function the entrypoint
adapts. These tests compare them, so a parameter renamed or added in one place fails here — not in a pod.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path
from typing import Any

import pytest
import yaml

import workflows.entrypoints as ep

GENERATED = Path(__file__).resolve().parents[2] / "manifests" / "base" / "generated" / "workflows"


def _templates() -> list[dict[str, Any]]:
    docs = [yaml.safe_load(p.read_text()) for p in sorted(GENERATED.glob("*.yaml"))]
    return [d for d in docs if d and d["kind"] == "WorkflowTemplate"]


def _names(items: list[dict[str, Any]] | None) -> set[str]:
    return {i["name"] for i in items or []}


@pytest.mark.parametrize("doc", _templates(), ids=lambda d: d["metadata"]["name"])
def test_every_task_passes_exactly_the_inputs_of_its_template(doc: dict[str, Any]) -> None:
    templates = {t["name"]: t for t in doc["spec"]["templates"]}
    checked = 0
    for template in templates.values():
        for task in (template.get("dag") or {}).get("tasks", []):
            called = templates[task["template"]]
            inputs = called.get("inputs") or {}
            given = task.get("arguments") or {}
            required = {
                p["name"] for p in inputs.get("parameters") or [] if "default" not in p and "value" not in p
            }
            where = f"{doc['metadata']['name']}: task {task['name']}"
            assert required <= _names(given.get("parameters")), (
                f"{where} misses {required - _names(given.get('parameters'))}"
            )
            assert _names(given.get("parameters")) <= _names(inputs.get("parameters")), (
                f"{where} passes unknown parameters"
            )
            assert _names(given.get("artifacts")) <= _names(inputs.get("artifacts")), (
                f"{where} passes unknown artifacts"
            )
            checked += 1
    assert checked


def _calls() -> list[tuple[str, str, ast.Call]]:
    """(entrypoint, step name, the ``_call(...)`` node) of every entrypoint that adapts a step function."""
    tree = ast.parse(Path(ep.__file__).read_text())
    found = []
    for fn in tree.body:
        if not isinstance(fn, ast.FunctionDef) or fn.name not in ep.__all__:
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_call":
                found.append((fn.name, ast.unparse(node.args[0]), node))
    return found


def _step_function(entrypoint: str, node: ast.Call) -> Any:
    """Resolve ``module.fn`` of a ``_call`` through the entrypoint's own ``from workflows.steps import``."""
    target = node.args[1]
    assert isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name), ast.dump(target)
    tree = ast.parse(inspect.getsource(getattr(ep, entrypoint)))
    for imp in ast.walk(tree):
        if isinstance(imp, ast.ImportFrom):
            for alias in imp.names:
                if (alias.asname or alias.name) == target.value.id:
                    module = importlib.import_module(f"{imp.module}.{alias.name}")
                    return getattr(module, target.attr)
    raise AssertionError(f"{entrypoint}: cannot resolve {ast.unparse(target)}")


CALLS = _calls()


def test_every_entrypoint_adapts_a_step_function() -> None:
    assert sorted({name for name, _, _ in CALLS}) == sorted(ep.__all__)


@pytest.mark.parametrize(("entrypoint", "step", "node"), CALLS, ids=[c[0] for c in CALLS])
def test_the_entrypoint_passes_what_the_step_function_takes(
    entrypoint: str, step: str, node: ast.Call
) -> None:
    if isinstance(node.args[1], ast.Name):  # a local adapter (admit's retrying wrapper) calls the step itself
        assert node.args[1].id in _locals(entrypoint), f"{entrypoint}: {node.args[1].id} is not its own"
        return
    fn = _step_function(entrypoint, node)
    params = inspect.signature(fn).parameters
    assert next(iter(params)) == "settings", f"{fn.__qualname__} must take settings first"
    takes = {n for n, p in params.items() if n != "settings" and p.kind is not p.VAR_KEYWORD}
    needs = {n for n in takes if params[n].default is p_empty}
    passed = {kw.arg for kw in node.keywords if kw.arg}
    assert passed <= takes, (
        f"{entrypoint} passes {sorted(passed - takes)} that {fn.__qualname__} does not take"
    )
    assert needs <= passed, (
        f"{entrypoint} does not pass {sorted(needs - passed)} that {fn.__qualname__} needs"
    )
    # what the step gets comes from the template's inputs: every argument is an entrypoint parameter
    own = set(inspect.signature(getattr(ep, entrypoint)).parameters)
    for kw in node.keywords:
        for name in {n.id for n in ast.walk(kw.value) if isinstance(n, ast.Name)}:
            assert (
                name in own or name in vars(ep) or name in dir(__builtins__) or name in _locals(entrypoint)
            ), f"{entrypoint}: {kw.arg}= reads {name}, which is not a parameter of the entrypoint"


p_empty = inspect.Parameter.empty


def _locals(entrypoint: str) -> set[str]:
    tree = ast.parse(inspect.getsource(getattr(ep, entrypoint)))
    defs = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    stored = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return (
        defs
        | stored
        | {a.asname or a.name for i in ast.walk(tree) if isinstance(i, ast.ImportFrom) for a in i.names}
    )
