"""Workflows written for this repository (tests/unit/executor_cases/*.yaml), each exercising one piece of
Argo's behaviour, run in the local executor; the assertions are Argo's outcome for them — node names and
types, phases, order and the values that prove the semantics."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

from driftloop.local.executor import run_workflow

CASES = Path(__file__).parent / "executor_cases"


@pytest.fixture()
def settings(tmp_path: Path) -> types.SimpleNamespace:
    return types.SimpleNamespace(data_dir=tmp_path / "data")


def by_display(result, name):  # type: ignore[no-untyped-def]
    return [n for n in result.nodes if n.display_name == name]


def test_fan_in_dag_runs_extract_before_clean_and_enrich_before_load(settings):
    result = run_workflow(CASES / "fan-in-dag.yaml", {}, settings)
    assert result.phase == "Succeeded"
    wf = result.name
    pods = {n.display_name: n for n in result.nodes if n.type == "Pod"}
    assert sorted(n.name for n in pods.values()) == sorted(
        f"{wf}.{x}" for x in ("extract", "clean", "enrich", "load")
    )
    e, c, n, lo = (pods[x] for x in ("extract", "clean", "enrich", "load"))
    assert e.finished <= c.started and e.finished <= n.started
    assert max(c.finished, n.finished) <= lo.started
    assert [pods[x].result for x in ("extract", "clean", "enrich", "load")] == [
        "extracted",
        "cleaned",
        "enriched",
        "loaded",
    ]
    assert all(p.pod_name.startswith(f"{wf}-say-") for p in pods.values())


def test_when_skips_unless_the_parameter_says_release(settings):
    skipped = run_workflow(CASES / "gate-when.yaml", {}, settings)
    assert skipped.phase == "Succeeded"
    (node,) = by_display(skipped, "announce")
    assert node.phase == "Skipped" and "evaluated false" in node.message
    ran = run_workflow(CASES / "gate-when.yaml", {"release": "yes"}, settings)
    (node,) = by_display(ran, "announce")
    assert node.phase == "Succeeded" and node.result == "released"
    assert node.name == f"{ran.name}[0].announce"


@pytest.mark.parametrize("side", ["left", "right"])
def test_dag_output_comes_from_the_branch_that_ran(settings, side):
    result = run_workflow(CASES / "branch-output.yaml", {"side": side}, settings)
    assert result.phase == "Succeeded"
    other = "right" if side == "left" else "left"
    assert by_display(result, side)[0].phase == "Succeeded"
    assert by_display(result, other)[0].phase == "Skipped"
    assert result.nodes[0].parameters == {"chosen": f"went {side}"}


def test_with_param_fans_out_over_the_printed_list(settings):
    result = run_workflow(CASES / "fan-out-param.yaml", {}, settings)
    assert result.phase == "Succeeded"
    assert by_display(result, "sizes")[0].result == "[3, 5, 8]"
    kids = [n for n in result.nodes if n.display_name.startswith("square(")]
    assert [n.display_name for n in kids] == ["square(0:3)", "square(1:5)", "square(2:8)"]
    assert kids[0].name == f"{result.name}[1].square(0:3)"
    assert [k.result for k in kids] == ["3 squared\n9", "5 squared\n25", "8 squared\n64"]


def test_with_items_maps_substitute_their_keys(settings):
    result = run_workflow(CASES / "fan-out-maps.yaml", {}, settings)
    assert result.phase == "Succeeded"
    pods = [n for n in result.nodes if n.type == "Pod"]
    assert [n.display_name for n in pods] == [
        "deploy(0:region:eu,tier:gold)",
        "deploy(1:region:us,tier:silver)",
        "deploy(2:region:ap,tier:gold)",
    ]
    assert [n.result for n in pods] == ["eu/gold", "us/silver", "ap/gold"]


def test_retry_runs_each_step_again_until_it_passes(settings, tmp_path):
    result = run_workflow(CASES / "retry-until.yaml", {}, settings)
    assert result.phase == "Succeeded"
    retries = [n for n in result.nodes if n.type == "Retry"]
    assert [n.display_name for n in retries] == ["first", "second", "third"]
    for node in retries:
        kids = [n for n in result.nodes if n.name in node.children]
        assert [k.phase for k in kids] == ["Failed", "Failed", "Succeeded"]
        assert [k.result for k in kids] == ["attempt 0", "attempt 1", "attempt 2"]
        assert kids[0].name == f"{node.name}(0)" and node.phase == "Succeeded"


def test_retry_backoff_waits_longer_each_time(settings):
    result = run_workflow(CASES / "retry-delays.yaml", {}, settings)
    assert result.phase == "Succeeded"
    kids = [n for n in result.nodes if n.type == "Pod"]
    assert [k.phase for k in kids] == ["Failed", "Failed", "Succeeded"]
    assert kids[1].started - kids[0].finished >= 0.1 * 0.9
    assert kids[2].started - kids[1].finished >= 0.2 * 0.9


def test_exit_handler_sees_the_status_and_the_failed_steps(settings):
    result = run_workflow(CASES / "exit-report.yaml", {}, settings)
    assert result.phase == "Failed"
    assert result.nodes[0].phase == "Failed" and result.nodes[0].message == "Error (exit code 3)"
    assert by_display(result, "on-success")[0].phase == "Skipped"
    assert by_display(result, "on-failure")[0].result == "noted Failed"
    summary = by_display(result, "summary")[0]
    assert summary.result == f"Failed ['{result.name}: Error (exit code 3)']"
    assert summary.name == f"{result.name}.onExit[0].summary"


def test_output_parameter_from_a_file_reaches_the_next_step(settings):
    result = run_workflow(CASES / "file-output.yaml", {}, settings)
    assert result.phase == "Succeeded"
    assert by_display(result, "write")[0].parameters == {"greeting": "good morning"}
    assert by_display(result, "read")[0].result == "good morning"


def test_step_groups_run_in_order_with_argo_node_names(settings):
    result = run_workflow(CASES / "two-groups.yaml", {}, settings)
    assert result.phase == "Succeeded"
    wf = result.name
    assert [n.name for n in result.nodes] == [
        wf,
        f"{wf}[0]",
        f"{wf}[0].prepare",
        f"{wf}[1]",
        f"{wf}[1].left",
        f"{wf}[1].right",
    ]
    assert [n.type for n in result.nodes] == ["Steps", "StepGroup", "Pod", "StepGroup", "Pod", "Pod"]


_CONCURRENT = textwrap.dedent("""
    import json, sys, types
    from driftloop.local.executor import run_workflow
    r = run_workflow(sys.argv[1], {}, types.SimpleNamespace(data_dir=sys.argv[2]))
    print(json.dumps([r.phase, r.nodes[0].result]))
""")


def test_a_workflow_mutex_serialises_two_processes(settings):
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CONCURRENT, str(CASES / "mutex-serial.yaml"), str(settings.data_dir)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [json.loads(p.communicate(timeout=60)[0].strip().splitlines()[-1]) for p in procs]
    assert [o[0] for o in outs] == ["Succeeded", "Succeeded"]
    spans = sorted(tuple(map(float, re.findall(r"[\d.]+", o[1])[-2:])) for o in outs)
    assert spans[0][1] <= spans[1][0], f"the two runs overlapped: {spans}"
