"""The shared contracts: the run-name rule's Go form equals its Python form, and the components' imports
form no cycle (each component imports the core, never the other way round)."""

from __future__ import annotations

import ast
import random
import string
from pathlib import Path

import pytest

from driftloop.contracts import NAME_LIMIT, RUN_NAME_TEMPLATE, run_name
from driftloop.local.sensor.gotemplate import render

ROOT = Path(__file__).resolve().parents[2]
RFC1123 = string.ascii_lowercase + string.digits + "-"


def _model(length: int, rng: random.Random) -> str:
    if length == 1:
        return rng.choice(string.ascii_lowercase)
    middle = "".join(rng.choice(RFC1123) for _ in range(length - 2))
    return rng.choice(string.ascii_lowercase) + middle + rng.choice(string.ascii_lowercase + string.digits)


@pytest.mark.parametrize("length", range(1, NAME_LIMIT + 1))
def test_run_name_go_template_equals_python(length: int) -> None:
    rng = random.Random(length)
    for model in (_model(length, rng), "a" * (length - 1) + "b", ("ab-" * 30)[:length].rstrip("-") or "a"):
        event_id = f"evt-{rng.random()}"
        body = {"Input": {"body": {"id": event_id, "data": {"model": model}}}}
        name = run_name(model, event_id)
        assert render(RUN_NAME_TEMPLATE, body) == name
        assert len(name) <= NAME_LIMIT
        assert name[0].isalnum() and name[-1].isalnum()


def test_run_name_cuts_a_trailing_dash_and_lowercases() -> None:
    model = "a" * 43 + "-b"  # cut at 44 characters leaves "a"*43 + "-"
    assert run_name(model, "e").startswith("retrain-" + "a" * 43 + "-") is True
    assert "--" not in run_name(model, "e")
    assert run_name("Credit", "e") == run_name("credit", "e")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "__import__":
            out.add("<__import__>")
    return out


def _component_imports(package: str) -> dict[str, set[str]]:
    return {str(p.relative_to(ROOT)): _imports(p) for p in sorted((ROOT / package).rglob("*.py"))}


def test_sensors_never_import_workflows() -> None:
    """workflows -> sensors (the admission step) is the one direction; the way back would be a cycle."""
    imports = _component_imports("sensors")
    bad = {f: i for f, i in imports.items() if any(m.startswith("workflows") for m in i)}
    assert bad == {}


def test_monitors_import_neither_sensors_nor_workflows() -> None:
    bad = {
        f: i
        for f, i in _component_imports("monitors").items()
        if any(m.split(".")[0] in ("sensors", "workflows") for m in i)
    }
    assert bad == {}


def test_core_root_imports_no_component_and_no_local_runtime() -> None:
    """driftloop/*.py (config, errors, events, kafka, s3, registry, contracts, compiler, ...) is shared by
    every component: it imports no component at import time and never the executor or the local sensor."""
    bad = {}
    for path in sorted((ROOT / "driftloop").glob("*.py")):
        mods = _imports(path)
        wrong = {
            m
            for m in mods
            if m.split(".")[0] in ("workflows", "sensors", "monitors")
            or m.startswith(("driftloop.local", "driftloop.cli", "driftloop.serving", "driftloop.demo"))
            or m == "<__import__>"
        }
        if path.name == "__main__.py":
            wrong -= {"driftloop.cli"}
        if wrong:
            bad[path.name] = wrong
    assert bad == {}
