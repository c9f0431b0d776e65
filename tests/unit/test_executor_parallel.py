"""Parallel branches: DAG tasks, step groups and fan-out run at once, within ``parallelism``.

Timings use ``sleep`` pods and generous bounds (the CI machine has 2 busy cores): a serial run would
take the sum of the sleeps, a parallel one about the longest.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from driftloop.local.executor import run_workflow
from driftloop.local.executor.result import NodeResult
from tests.unit.executor_helpers import sh, workflow


def wf(templates: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return workflow(templates, name="p", **spec)


SLEEP = sh("sleep", "sleep {{inputs.parameters.s}}", inputs={"parameters": [{"name": "s", "value": "0.5"}]})


def dag(*tasks: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": "main", "dag": {"tasks": list(tasks)}, **extra}


def pods(result) -> list[NodeResult]:  # type: ignore[no-untyped-def]
    return [n for n in result.nodes if n.type == "Pod"]


def span(nodes: list[NodeResult]) -> float:
    return max(n.finished or 0 for n in nodes) - min(n.started or 0 for n in nodes)


def peak(nodes: list[NodeResult]) -> int:
    """The most nodes running at one instant."""
    edges = sorted([(n.started, 1) for n in nodes] + [(n.finished, -1) for n in nodes])
    running = best = 0
    for _, step in edges:
        running += step
        best = max(best, running)
    return best


def test_two_independent_dag_tasks_run_at_once(settings):
    result = run_workflow(
        wf([dag({"name": "a", "template": "sleep"}, {"name": "b", "template": "sleep"}), SLEEP]), {}, settings
    )
    assert result.phase == "Succeeded"
    assert span(pods(result)) < 0.9, [(n.name, n.started, n.finished) for n in pods(result)]
    assert peak(pods(result)) == 2


@pytest.mark.parametrize("where", ["template", "spec"])
def test_parallelism_1_serialises_the_dag(settings, where):
    main = dag({"name": "a", "template": "sleep"}, {"name": "b", "template": "sleep"})
    spec: dict[str, Any] = {}
    if where == "template":
        main["parallelism"] = 1
    else:
        spec["parallelism"] = 1
    result = run_workflow(wf([main, SLEEP], **spec), {}, settings)
    assert result.phase == "Succeeded"
    assert span(pods(result)) >= 1.0
    assert peak(pods(result)) == 1


@pytest.mark.parametrize("where", ["template", "spec"])
def test_fan_out_of_4_with_parallelism_2_takes_two_rounds(settings, where):
    fan = {
        "name": "fan",
        "template": "sleep",
        "withItems": [1, 2, 3, 4],
        "arguments": {"parameters": [{"name": "s", "value": "0.3"}]},
    }
    main: dict[str, Any] = {"name": "main", "steps": [[fan]]}
    spec: dict[str, Any] = {}
    if where == "template":
        main["parallelism"] = 2
    else:
        spec["parallelism"] = 2
    result = run_workflow(wf([main, SLEEP], **spec), {}, settings)
    assert result.phase == "Succeeded"
    kids = pods(result)
    assert [k.display_name for k in kids] == ["fan(0:1)", "fan(1:2)", "fan(2:3)", "fan(3:4)"]
    assert peak(kids) == 2
    assert 0.6 <= span(kids) < 1.1  # two rounds of 0.3 s; serial would be 1.2 s, unlimited 0.3 s


def test_steps_of_one_group_run_at_once_and_groups_in_order(settings):
    main = {
        "name": "main",
        "steps": [
            [{"name": "a", "template": "sleep"}, {"name": "b", "template": "sleep"}],
            [{"name": "c", "template": "sleep", "arguments": {"parameters": [{"name": "s", "value": "0"}]}}],
        ],
    }
    result = run_workflow(wf([main, SLEEP]), {}, settings)
    assert result.phase == "Succeeded"
    a, b, c = pods(result)
    assert span([a, b]) < 0.9
    assert max(a.finished, b.finished) <= c.started
    assert [n.name for n in result.nodes] == ["p", "p[0]", "p[0].a", "p[0].b", "p[1]", "p[1].c"]


def test_node_order_is_deterministic_whatever_finishes_first(settings):
    fast = {"parameters": [{"name": "s", "value": "0"}]}
    main = dag(
        {"name": "slow", "template": "sleep"},
        {"name": "quick", "template": "sleep", "arguments": fast},
        {"name": "after", "depends": "quick", "template": "sleep", "arguments": fast},
    )
    result = run_workflow(wf([main, SLEEP]), {}, settings)
    assert result.phase == "Succeeded"
    by = {n.display_name: n for n in result.nodes}
    assert by["after"].finished < by["slow"].finished  # it did finish before the first task...
    assert [n.name for n in result.nodes] == ["p", "p.slow", "p.quick", "p.after"]  # ...but is listed last
    assert result.nodes[0].children == ["p.slow", "p.quick", "p.after"]


def test_a_mutex_still_serialises_parallel_tasks(settings):
    locked = sh("locked", "sleep 0.3", synchronization={"mutex": {"name": "one-at-a-time"}})
    result = run_workflow(
        wf([dag({"name": "a", "template": "locked"}, {"name": "b", "template": "locked"}), locked]),
        {},
        settings,
    )
    assert result.phase == "Succeeded"
    assert peak(pods(result)) == 1


def test_deadline_stops_parallel_tasks_and_the_exit_handler_runs(settings):
    long = {"parameters": [{"name": "s", "value": "30"}]}
    main = dag(
        {"name": "a", "template": "sleep", "arguments": long},
        {"name": "b", "template": "sleep", "arguments": long},
        {"name": "c", "depends": "a", "template": "sleep"},
    )
    start = time.monotonic()
    result = run_workflow(
        wf([main, SLEEP, sh("bye", "echo {{workflow.status}}")], activeDeadlineSeconds=1, onExit="bye"),
        {},
        settings,
    )
    assert time.monotonic() - start < 10
    assert result.phase == "Failed"
    assert {result.node("a").phase, result.node("b").phase} == {"Failed"}
    assert all(n.display_name != "c" for n in result.nodes)  # never started after the deadline
    assert result.node("p.onExit").result == "Failed"


def test_on_event_is_never_called_concurrently(settings):
    inside = threading.Lock()
    overlaps: list[str] = []

    def on_event(node: NodeResult) -> None:
        if not inside.acquire(blocking=False):
            overlaps.append(node.name)
            return
        try:
            time.sleep(0.01)
        finally:
            inside.release()

    fan = {"name": "fan", "template": "sleep", "withItems": list(range(6))}
    result = run_workflow(
        wf([dag(fan), {**SLEEP, "inputs": {"parameters": [{"name": "s", "value": "0"}]}}]),
        {},
        settings,
        on_event=on_event,
    )
    assert result.phase == "Succeeded"
    assert overlaps == []


def test_bad_parallelism_is_an_error_naming_the_field(settings):
    result = run_workflow(wf([dag({"name": "a", "template": "sleep"}, parallelism=0), SLEEP]), {}, settings)
    assert result.phase == "Error" and "main.parallelism" in result.nodes[0].message


FAIL = sh("fail", "exit 1")
QUICK = {"parameters": [{"name": "s", "value": "0"}]}


def fail_fast_dag(**dag_fields: Any) -> dict[str, Any]:
    main = dag(
        {"name": "bad", "template": "fail"},
        {"name": "slow", "template": "sleep"},
        {"name": "next", "depends": "slow", "template": "sleep", "arguments": QUICK},
    )
    main["dag"].update(dag_fields)
    return main


def test_fail_fast_lets_running_branches_complete(settings):
    """Argo's controller keeps creating a task whose ``depends`` holds while the DAG still runs, even
    after a failure with failFast (argoproj/argo-workflows#5223): ``next`` runs after ``slow``; the run
    still ends Failed because of ``bad``."""
    result = run_workflow(wf([fail_fast_dag(), SLEEP, FAIL]), {}, settings)
    assert result.phase == "Failed"
    assert result.node("slow").phase == "Succeeded"  # already running: it finishes
    assert [n.display_name for n in result.nodes] == ["p", "bad", "slow", "next"]
    assert result.node("next").phase == "Succeeded"
    assert result.nodes[0].message == "child 'p.bad' failed"


def test_fail_fast_false_runs_every_branch(settings):
    result = run_workflow(wf([fail_fast_dag(failFast=False), SLEEP, FAIL]), {}, settings)
    assert result.phase == "Failed"
    assert result.node("next").phase == "Succeeded"


@pytest.mark.parametrize(
    "handler",
    [
        {"name": "on-fail", "depends": "bad.Failed", "template": "sleep", "arguments": QUICK},
        {"name": "on-done", "depends": "bad.Completed", "template": "sleep", "arguments": QUICK},
    ],
)
def test_a_failure_the_dag_handles_does_not_stop_it(settings, handler):
    main = fail_fast_dag()
    main["dag"]["tasks"].append(handler)
    result = run_workflow(wf([main, SLEEP, FAIL]), {}, settings)
    assert result.node("next").phase == "Succeeded"
    assert result.node(handler["name"]).phase == "Succeeded"


def test_continue_on_failed_does_not_trip_fail_fast(settings):
    main = fail_fast_dag()
    main["dag"]["tasks"][0]["continueOn"] = {"failed": True}
    result = run_workflow(wf([main, SLEEP, FAIL]), {}, settings)
    assert result.phase == "Succeeded"
    assert result.node("next").phase == "Succeeded"


def test_all_failed_and_any_succeeded_see_each_fan_out_child(settings):
    flaky = sh("flaky", "exit {{inputs.parameters.code}}", inputs={"parameters": [{"name": "code"}]})
    main = dag(
        {
            "name": "fan",
            "template": "flaky",
            "withItems": [0, 1],
            "arguments": {"parameters": [{"name": "code", "value": "{{item}}"}]},
        },
        {"name": "all-failed", "depends": "fan.AllFailed", "template": "sleep", "arguments": QUICK},
        {"name": "any-ok", "depends": "fan.AnySucceeded", "template": "sleep", "arguments": QUICK},
    )
    result = run_workflow(wf([main, SLEEP, flaky]), {}, settings)
    assert result.node("fan").phase == "Failed"
    assert result.node("all-failed").phase == "Omitted"  # one child succeeded
    assert result.node("any-ok").phase == "Succeeded"
