"""Argo's own examples (tests/unit/executor_cases/*.yaml) behave in the local executor as on Argo.

Each fixture says at its top what was adapted (cowsay → echo, long sleeps shortened); the asserted
outcomes are the ones Argo documents for the example.
"""

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


def test_dag_diamond_runs_a_before_b_c_before_d(settings):
    result = run_workflow(CASES / "dag-diamond.yaml", {}, settings)
    assert result.phase == "Succeeded"
    wf = result.name
    pods = [n for n in result.nodes if n.type == "Pod"]
    assert [n.name for n in pods] == [f"{wf}.foo-bar-longname-{x}" for x in "ABCD"]
    a, b, c, d = pods
    assert a.finished <= b.started and a.finished <= c.started
    assert max(b.finished, c.finished) <= d.started
    assert [n.result for n in pods] == [f"foo-bar-longname-{x}" for x in "ABCD"]
    assert all(n.pod_name.startswith(f"{wf}-echo-") for n in pods)


def test_conditionals_skips_when_false_and_runs_when_true(settings):
    skipped = run_workflow(CASES / "conditionals.yaml", {}, settings)
    assert skipped.phase == "Succeeded"
    (node,) = by_display(skipped, "print-hello")
    assert node.phase == "Skipped" and "evaluated false" in node.message
    printed = run_workflow(CASES / "conditionals.yaml", {"should-print": "true"}, settings)
    (node,) = by_display(printed, "print-hello")
    assert node.phase == "Succeeded" and node.result == "hello"
    assert node.name == f"{printed.name}[0].print-hello"


def test_dag_conditional_parameters_picks_the_branch_that_ran(settings):
    result = run_workflow(CASES / "dag-conditional-parameters.yaml", {}, settings)
    assert result.phase == "Succeeded"
    flip = by_display(result, "flipcoin")[0].result
    assert flip in ("heads", "tails")
    other = "tails" if flip == "heads" else "heads"
    assert by_display(result, flip)[0].phase == "Succeeded"
    assert by_display(result, other)[0].phase == "Skipped"
    assert result.nodes[0].parameters == {"stepresult": flip}


def test_loops_param_result_fans_out_over_the_generated_list(settings):
    result = run_workflow(CASES / "loops-param-result.yaml", {}, settings)
    assert result.phase == "Succeeded"
    assert by_display(result, "generate")[0].result == json.dumps(list(range(20, 31)))
    kids = [n for n in result.nodes if n.display_name.startswith("sleep(")]
    assert [n.display_name for n in kids] == [f"sleep({i}:{v})" for i, v in enumerate(range(20, 31))]
    assert kids[0].name == f"{result.name}[1].sleep(0:20)"
    assert kids[3].result == "sleeping for 23 seconds\ndone"


def test_loops_maps_substitutes_item_keys(settings):
    result = run_workflow(CASES / "loops-maps.yaml", {}, settings)
    assert result.phase == "Succeeded"
    names = [n.display_name for n in result.nodes if n.type == "Pod"]
    assert names == [
        "test-linux(0:image:debian,tag:9.1)",
        "test-linux(1:image:debian,tag:8.9)",
        "test-linux(2:image:alpine,tag:3.6)",
        "test-linux(3:image:ubuntu,tag:17.10)",
    ]
    assert all("ID=" in n.result for n in result.nodes if n.type == "Pod")


def test_retry_with_steps_retries_each_step_until_it_passes_or_the_limit(settings):
    result = run_workflow(CASES / "retry-with-steps.yaml", {}, settings)
    retries = [n for n in result.nodes if n.type == "Retry"]
    assert [n.display_name for n in retries] == ["hello1", "hello2a", "hello2b"] or result.phase == "Failed"
    for node in retries:
        kids = [n for n in result.nodes if n.name in node.children]
        assert 1 <= len(kids) <= 11
        assert all(k.phase == "Failed" for k in kids[:-1])
        assert node.phase == kids[-1].phase
        assert [k.result for k in kids] == [f"retries: {i}" for i in range(len(kids))]
        assert kids[0].name == f"{node.name}(0)"
    exhausted = any(len(n.children) == 11 and n.phase == "Failed" for n in retries)
    assert result.phase == ("Failed" if exhausted else "Succeeded")


def test_retry_backoff_waits_between_attempts(settings):
    result = run_workflow(CASES / "retry-backoff.yaml", {}, settings)
    assert result.phase == "Succeeded"
    kids = [n for n in result.nodes if n.type == "Pod"]
    assert [k.phase for k in kids] == ["Failed", "Failed", "Succeeded"]
    assert kids[1].started - kids[0].finished >= 0.1 * 0.9
    assert kids[2].started - kids[1].finished >= 0.2 * 0.9


def test_exit_handler_runs_after_failure_with_workflow_status(settings):
    result = run_workflow(CASES / "exit-handlers.yaml", {}, settings)
    assert result.phase == "Failed"
    assert result.nodes[0].phase == "Failed" and result.nodes[0].message == "Error (exit code 1)"
    assert by_display(result, "celebrate")[0].phase == "Skipped"
    assert by_display(result, "cry")[0].result == "boohoo!"
    notify = by_display(result, "notify")[0]
    assert notify.result.startswith(f"send e-mail: {result.name} Failed ")
    assert (
        f"displayName: {result.name}, message: Error (exit code 1)" in notify.result
    )  # {{workflow.failures}} (sh drops the quotes)
    assert by_display(result, "notify")[0].name == f"{result.name}.onExit[0].notify"


def test_output_parameter_passes_the_file_content(settings):
    result = run_workflow(CASES / "output-parameter.yaml", {}, settings)
    assert result.phase == "Succeeded"
    assert by_display(result, "generate-parameter")[0].parameters == {"hello-param": "hello world"}
    assert by_display(result, "consume-parameter")[0].result == "hello world"


def test_steps_run_groups_in_order_with_argo_node_names(settings):
    result = run_workflow(CASES / "steps.yaml", {}, settings)
    assert result.phase == "Succeeded"
    wf = result.name
    assert [n.name for n in result.nodes] == [
        wf,
        f"{wf}[0]",
        f"{wf}[0].hello1",
        f"{wf}[1]",
        f"{wf}[1].hello2a",
        f"{wf}[1].hello2b",
    ]
    assert [n.type for n in result.nodes] == ["Steps", "StepGroup", "Pod", "StepGroup", "Pod", "Pod"]


_CONCURRENT = textwrap.dedent("""
    import json, sys, types
    from driftloop.local.executor import run_workflow
    r = run_workflow(sys.argv[1], {}, types.SimpleNamespace(data_dir=sys.argv[2]))
    print(json.dumps([r.phase, r.nodes[0].result]))
""")


def test_mutex_wf_level_serialises_two_processes(settings, tmp_path):
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _CONCURRENT,
                str(CASES / "synchronization-mutex-wf-level.yaml"),
                str(settings.data_dir),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [json.loads(p.communicate(timeout=60)[0].strip().splitlines()[-1]) for p in procs]
    assert [o[0] for o in outs] == ["Succeeded", "Succeeded"]
    spans = sorted(tuple(map(float, re.findall(r"[\d.]+", o[1])[-2:])) for o in outs)
    assert spans[0][1] <= spans[1][0], f"the two runs overlapped: {spans}"
