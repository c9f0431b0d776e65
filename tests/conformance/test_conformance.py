"""The local executor's conformance suite: one workflow of our own per Argo behaviour (``cases/``), run by
:func:`driftloop.local.executor.run_workflow`, and Argo's outcome for each in ``expected.yaml`` — the
phase, the node set and phases, the values that prove the semantics, or the field a refusal names.

Every finished run must have no node left ``Running`` / ``Pending``; the host paths a case names must stay
untouched (volumes and artifact paths live in the run's sandbox), and so must the directory the executor
runs in. A case the executor does not yet
match is kept with ``xfail`` (strict: it fails the suite once the executor is fixed, so the mark goes).

The last test keeps the README's table ("The local executor's Argo subset") true: every row has a case,
every case names a row, ``refused`` rows have only refusal cases and ``yes`` / ``emulated`` rows only
running ones.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from driftloop.errors import WorkflowError
from driftloop.local.executor import WorkflowResult, run_workflow

HERE = Path(__file__).parent
CASES = HERE / "cases"
TEMPLATES = HERE / "templates"  # WorkflowTemplates the cases reference (templateRef, workflowTemplateRef)
README = HERE.parents[1] / "README.md"
EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load((HERE / "expected.yaml").read_text())

_KEYS = {
    "feature",
    "refused",
    "phase",
    "nodes",
    "only_nodes",
    "values",
    "parameters",
    "runs",
    "host_untouched",
    "integration",
    "xfail",
}


def _params(name: str) -> list[Any]:
    out = []
    for case in sorted(EXPECTED):
        exp = EXPECTED[case]
        if bool(exp.get("integration")) != (name == "integration"):
            continue
        marks = [pytest.mark.xfail(reason=str(exp["xfail"]), strict=True)] if exp.get("xfail") else []
        if name == "integration":
            marks.append(pytest.mark.integration)
        out.append(pytest.param(case, marks=marks, id=case))
    return out


def _check(
    case: str, settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: Any = None
) -> None:
    """Run ``case`` (as many times as it asks) and assert everything ``expected.yaml`` says about it.

    The run's working directory is an empty directory of its own: it must stay empty (a pod writes in
    its sandbox, never where the executor was started)."""
    scratch, cwd = tmp_path / "scratch", tmp_path / "cwd"
    scratch.mkdir()
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    exp = EXPECTED[case]
    path = CASES / f"{case}.yaml"
    untouched = [Path(p) for p in exp.get("host_untouched") or []]
    for p in untouched:
        assert not p.exists(), f"{p} exists before the run: the check would prove nothing"
    params = {
        str(k): str(v).replace("{scratch}", str(scratch)) for k, v in (exp.get("parameters") or {}).items()
    }
    if "refused" in exp:
        with pytest.raises(WorkflowError) as info:
            run_workflow(path, params, settings, templates_dir=TEMPLATES, artifact_store=store)
        message = str(info.value)
        assert exp["refused"] in message, message
        assert "\n" not in message.strip(), f"a refusal is one line: {message!r}"
    else:
        result: WorkflowResult | None = None
        for _ in range(int(exp.get("runs", 1))):
            result = run_workflow(path, params, settings, templates_dir=TEMPLATES, artifact_store=store)
        assert result is not None
        _check_run(result, exp)
    for p in untouched:
        assert not p.exists(), f"the run wrote the host path {p}"
    assert not list(cwd.iterdir()), (
        f"the run wrote into the executor's working directory: {list(cwd.iterdir())}"
    )


def _check_run(result: WorkflowResult, exp: dict[str, Any]) -> None:
    def name(display: str) -> str:
        return display.replace("{workflow}", result.name)

    seen = [(n.display_name, n.phase) for n in result.nodes]
    assert result.phase == exp["phase"], (result.message, seen)
    assert not [s for s in seen if s[1] in ("Running", "Pending")], (
        f"a finished run has unsettled nodes: {seen}"
    )
    nodes = {name(k): v for k, v in (exp.get("nodes") or {}).items()}
    for display, phase in nodes.items():
        phases = [p for d, p in seen if d == display]
        want = phase if isinstance(phase, list) else [phase]
        assert phases == want, (display, phases, seen)
    if exp.get("only_nodes"):
        assert sorted(d for d, _ in seen) == sorted(nodes), f"node set: {seen}"
    for display, values in (exp.get("values") or {}).items():
        node = result.node(name(display))
        for key, want in values.items():
            if key == "result":
                assert node.result == want, (display, node.result, node.message)
            elif key == "parameters":
                assert {k: str(v) for k, v in want.items()} == {
                    k: v for k, v in node.parameters.items() if k in want
                }, (display, node.parameters)
            elif key == "exitCode":
                assert node.exit_code == want, (display, node.exit_code)
            elif key == "message_contains":
                assert want in node.message, (display, node.message)
            else:
                raise AssertionError(f"expected.yaml: unknown value key {key!r} for {display}")


def test_every_case_has_an_expectation_and_only_known_keys() -> None:
    files = sorted(p.stem for p in CASES.glob("*.yaml"))
    assert files == sorted(EXPECTED), set(files) ^ set(EXPECTED)
    for case, exp in EXPECTED.items():
        assert set(exp) <= _KEYS, (case, set(exp) - _KEYS)
        assert exp.get("feature"), case
        assert ("refused" in exp) != ("phase" in exp), f"{case}: either refused or phase"
        first = (CASES / f"{case}.yaml").read_text().splitlines()[0]
        assert first.startswith("# Proves: "), (case, first)


@pytest.mark.parametrize("case", _params("unit"))
def test_case(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _check(case, types.SimpleNamespace(data_dir=tmp_path / "data"), tmp_path, monkeypatch)


@pytest.mark.parametrize("case", _params("integration"))
def test_case_with_s3(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings_for: Callable[..., Any], bucket: str
) -> None:
    from driftloop.s3 import S3Store

    settings = settings_for(**{"s3.bucket": bucket, "data_dir": str(tmp_path / "data")})
    _check(case, settings, tmp_path, monkeypatch, S3Store(settings))


def readme_table() -> list[tuple[str, str]]:
    """``(feature, local executor)`` of each row of the README's table."""
    text = README.read_text()
    section = text.split("## The local executor's Argo subset", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    cells = [[c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows]
    assert cells and cells[0][:2] == ["feature", "local executor"], cells[:1]
    return [(c[0], c[1]) for c in cells[1:]]


def test_the_readme_table_is_what_the_cases_prove() -> None:
    rows = readme_table()
    features = [f for f, _ in rows]
    assert len(features) == len(set(features)), "a feature appears in two rows"
    by_feature: dict[str, list[str]] = {}
    for case, exp in EXPECTED.items():
        by_feature.setdefault(str(exp["feature"]), []).append(case)
    unknown = sorted(set(by_feature) - set(features))
    assert not unknown, f"cases name features the README table does not have: {unknown}"
    for feature, support in rows:
        cases = by_feature.get(feature, [])
        assert cases, f"README row {feature!r} has no conformance case"
        refused = [c for c in cases if "refused" in EXPECTED[c]]
        if support.startswith("refused"):
            assert refused == cases, (
                f"row {feature!r} is refused but these cases run: {set(cases) - set(refused)}"
            )
        if support.startswith(("yes", "emulated")):
            assert not refused, f"row {feature!r} is {support!r} but these cases expect a refusal: {refused}"
