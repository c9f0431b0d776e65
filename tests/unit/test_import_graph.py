"""The project's import graph, walked with ``ast``: no circle, and no component reaching into the local
runtime.

Every import counts — at module level, under ``TYPE_CHECKING`` and inside functions — because a circle
that only a type checker or a late import walks is still a circle a reader has to untangle. A module
importing its own package (``monitors.performance.check`` → ``monitors.performance``) is no edge: the
package is initialised first anyway.

Two allow-lists name what is known today and must only shrink: circles outside ``monitors/`` (the
executor's, being broken elsewhere) and modules of ``sensors/``, ``workflows/`` or ``monitors/`` that
import ``driftloop.local``. A circle or an import not on them fails; so does an entry that no longer
happens (delete it).
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("driftloop", "monitors", "workflows", "sensors")
COMPONENTS = ("sensors", "workflows", "monitors")

#: Import circles allowed (each as its sorted modules): none since the runners see the run as a Protocol.
KNOWN_CIRCLES: set[tuple[str, ...]] = set()
#: Component modules importing driftloop.local today. Empty it, never extend it.
KNOWN_LOCAL_IMPORTS: set[str] = set()


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the project's packages, by dotted name."""
    return {_module_name(p, root): p for pkg in PACKAGES for p in sorted((root / pkg).rglob("*.py"))}


def _resolve(name: str, mods: dict[str, Path]) -> str | None:
    """The project module ``name`` refers to (``a.b.c`` may be a name inside module ``a.b``)."""
    while name:
        if name in mods:
            return name
        name = name.rpartition(".")[0]
    return None


def _targets(node: ast.AST, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            pkg = module if is_package else module.rpartition(".")[0]
            for _ in range(node.level - 1):
                pkg = pkg.rpartition(".")[0]
            base = f"{pkg}.{base}" if base else pkg
        return [base] + [f"{base}.{a.name}" for a in node.names]
    return []


def import_graph(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the project modules it imports (anywhere in its body)."""
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for module, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            for target in _targets(node, module, path.name == "__init__.py"):
                found = _resolve(target, mods)
                if found and found != module and not module.startswith(found + "."):
                    edges[module].add(found)
    return edges


def circles(edges: dict[str, set[str]]) -> set[tuple[str, ...]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[tuple[str, ...]] = set()
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.add(tuple(sorted(component)))
    return found


@cache
def project_graph() -> dict[str, set[str]]:
    return import_graph(modules())


def test_the_walker_finds_a_circle_through_type_checking_and_function_imports(tmp_path: Path) -> None:
    """The walker itself: a circle made only of a TYPE_CHECKING import and an import inside a function."""
    pkg = tmp_path / "monitors"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from monitors.b import X\n"
    )
    (pkg / "b.py").write_text("def f():\n    from . import a\n")
    (pkg / "c.py").write_text("import monitors\n")  # a module importing its package is no edge
    assert circles(import_graph(modules(tmp_path))) == {("monitors.a", "monitors.b")}


def test_no_circle_in_monitors_and_no_new_circle_elsewhere() -> None:
    found = circles(project_graph())
    in_monitors = sorted(c for c in found if any(m.split(".")[0] == "monitors" for m in c))
    assert in_monitors == [], f"import circles in monitors/: {in_monitors}"
    new = sorted(found - KNOWN_CIRCLES)
    assert new == [], f"import circles not on the allow-list: {new}"
    gone = sorted(KNOWN_CIRCLES - found)
    assert gone == [], f"allow-listed circles that are gone (delete them from KNOWN_CIRCLES): {gone}"


def test_components_do_not_import_the_local_runtime() -> None:
    """sensors/, workflows/ and monitors/ run on a cluster: they never import driftloop.local."""
    edges = project_graph()
    offenders = {
        m
        for m, targets in edges.items()
        if m.split(".")[0] in COMPONENTS and any(t.startswith("driftloop.local") for t in targets)
    }
    assert sorted(offenders - KNOWN_LOCAL_IMPORTS) == [], "components importing driftloop.local"
    assert sorted(KNOWN_LOCAL_IMPORTS - offenders) == [], "delete these from KNOWN_LOCAL_IMPORTS"


EXECUTOR = "driftloop.local.executor"


def test_the_executor_is_entered_only_through_its_door() -> None:
    """Outside the executor, code imports ``driftloop.local.executor`` (its ``__all__``), never one of its
    submodules: what it may use is named in one place."""
    edges = project_graph()
    offenders = sorted(
        f"{m} -> {t}"
        for m, targets in edges.items()
        if not (m == EXECUTOR or m.startswith(EXECUTOR + "."))
        for t in targets
        if t.startswith(EXECUTOR + ".")
    )
    assert offenders == [], f"imports past the executor's door: {offenders}"


#: What the executor may import of driftloop: the one base exception and two leaf helpers. Configuration,
#: S3 and signing reach it as arguments (``driftloop.local.runs``), so it runs any Hera user's workflow.
EXECUTOR_MAY_IMPORT = {"driftloop.errors", "driftloop.gosemantics", "driftloop.liveness"}


def test_the_executor_imports_no_driftloop_configuration_or_client() -> None:
    edges = project_graph()
    reached = sorted(
        f"{m} -> {t}"
        for m, targets in edges.items()
        if m == EXECUTOR or m.startswith(EXECUTOR + ".")
        for t in targets
        if t.split(".")[0] in PACKAGES
        and not (t == EXECUTOR or t.startswith(EXECUTOR + "."))
        and t not in EXECUTOR_MAY_IMPORT
    )
    assert reached == [], f"the executor imports past what it is given: {reached}"


def test_the_door_walker_sees_a_submodule_named_in_from_import(tmp_path: Path) -> None:
    """``from driftloop.local.executor import model`` is an import of the submodule, not of the door."""
    pkg = tmp_path / "driftloop" / "local" / "executor"
    pkg.mkdir(parents=True)
    for init in (tmp_path / "driftloop", tmp_path / "driftloop" / "local", pkg):
        (init / "__init__.py").write_text("")
    (pkg / "model.py").write_text("")
    (tmp_path / "driftloop" / "cli.py").write_text("from driftloop.local.executor import model\n")
    edges = import_graph(modules(tmp_path))
    assert edges["driftloop.cli"] == {"driftloop.local.executor", "driftloop.local.executor.model"}
