"""Lifecycle hooks, step/task ``onExit``, ``memoize``, artifact ``fromExpression`` and ``globalName`` in the
local executor — the outcome Argo gives (``workflow/controller/hooks.go``, ``exit_handler.go``,
``operator.go`` memoization, ``scope.go`` resolveArtifact)."""

from __future__ import annotations

import itertools
import time

import pytest

from driftloop.errors import WorkflowError
from driftloop.local.executor import run_workflow
from tests.unit.executor_helpers import MemoryStore, sh, workflow

NOTE = {
    "name": "note",
    "inputs": {"parameters": [{"name": "msg"}]},
    "container": {"image": "a", "command": ["sh", "-c", "echo {{inputs.parameters.msg}}"]},
}


def _note(msg: str) -> dict:
    return {"template": "note", "arguments": {"parameters": [{"name": "msg", "value": msg}]}}


def nodes(result) -> dict:  # type: ignore[no-untyped-def]
    return {n.display_name: n for n in result.nodes}


def test_step_hooks_run_once_each_and_see_the_steps_outputs(settings):
    main = {
        "name": "main",
        "steps": [
            [
                {
                    "name": "first",
                    "template": "produce",
                    "hooks": {
                        "exit": _note("exit {{steps.first.status}} {{steps.first.outputs.parameters.out}}"),
                        "running": {**_note("running"), "expression": 'steps["first"].status == "Running"'},
                        "done": {**_note("done"), "expression": "steps.first.status == 'Succeeded'"},
                        "failed": {**_note("never"), "expression": "steps.first.status == 'Failed'"},
                    },
                }
            ],
            [{"name": "second", "template": "fail", "onExit": "plain"}],
        ],
    }
    produce = sh("produce", "sleep 0.3; echo hi > /tmp/o")
    produce["outputs"] = {"parameters": [{"name": "out", "valueFrom": {"path": "/tmp/o"}}]}
    result = run_workflow(
        workflow([main, produce, sh("fail", "exit 2"), sh("plain", "echo plain"), NOTE]), {}, settings
    )
    by = nodes(result)
    wf = result.name
    assert result.phase == "Failed"  # the hooks do not change it: `second` failed
    assert by["first.onExit"].name == f"{wf}[0].first.onExit"
    assert by["first.onExit"].result == "exit Succeeded hi"
    assert by["first.hooks.running"].result == "running"
    assert by["first.hooks.done"].result == "done"
    assert "first.hooks.failed" not in by
    assert by["second"].phase == "Failed" and by["second.onExit"].result == "plain"
    assert by["second.onExit"].phase == "Succeeded"
    first = by["first"]
    assert sorted(first.children) == sorted(
        f"{wf}[0].first.{x}" for x in ("onExit", "hooks.running", "hooks.done")
    )
    assert all(n.phase not in ("Running", "Pending") for n in result.nodes)


def test_dag_task_on_exit_runs_before_its_dependents_and_a_failing_hook_changes_nothing(settings):
    dag = {
        "name": "main",
        "dag": {
            "tasks": [
                {"name": "a", "template": "step", "arguments": {"parameters": [{"name": "n", "value": "a"}]},
                 "onExit": "bad-exit"},
                {"name": "b", "template": "step", "depends": "a",
                 "arguments": {"parameters": [{"name": "n", "value": "b"}]},
                 "hooks": {"exit": {"template": "log-exit", "arguments": {"parameters": [
                     {"name": "n", "value": "{{tasks.b.status}}"}]}}}},
            ]
        },
    }  # fmt: skip
    step = sh("step", "echo {{inputs.parameters.n}}", inputs={"parameters": [{"name": "n"}]})
    bad = sh("bad-exit", "echo a-exit; exit 1")
    log_exit = sh("log-exit", "echo exit-{{inputs.parameters.n}}", inputs={"parameters": [{"name": "n"}]})
    result = run_workflow(workflow([dag, step, bad, log_exit]), {}, settings)
    by = nodes(result)
    assert result.phase == "Succeeded"
    assert by["a"].phase == "Succeeded" and by["a.onExit"].phase == "Failed"
    assert by["a.onExit"].name == f"{result.name}.a.onExit"
    assert by["b.onExit"].phase == "Succeeded"
    order = [by[n] for n in ("a", "a.onExit", "b", "b.onExit")]
    assert [n.result for n in order] == ["a", "a-exit", "b", "exit-Succeeded"]
    assert all(x.finished <= y.started for x, y in itertools.pairwise(order)), order  # one after the other


def test_workflow_hooks_exit_and_running_and_exit_gets_the_workflow_arguments(settings):
    main = sh("main", "echo main")
    spec = {
        "arguments": {"parameters": [{"name": "msg", "value": "from-args"}]},
        "hooks": {
            "exit": {"template": "note"},  # no arguments: the workflow's (Argo's GetExitHook)
            "started": {**_note("started {{workflow.status}}"), "expression": 'workflow.status == "Running"'},
            "failed": {**_note("failed"), "expression": 'workflow.status == "Failed"'},
        },
    }
    result = run_workflow(workflow([main, NOTE], entry="main", **spec), {"msg": "given"}, settings)
    by = nodes(result)
    wf = result.name
    assert result.phase == "Succeeded"
    assert by[f"{wf}.onExit"].result == "given"
    assert by[f"{wf}.hooks.started"].result == "started Running"
    assert f"{wf}.hooks.failed" not in by
    assert f"{wf}.hooks.started" in by[wf].children


def test_a_named_hook_needs_an_expression_and_an_existing_template(settings):
    bad = workflow([sh("main", "true"), NOTE], hooks={"odd": {"template": "note"}})
    with pytest.raises(WorkflowError, match=r"spec.hooks.odd: a hook other than 'exit' needs an expression"):
        run_workflow(bad, {}, settings)
    steps = {"name": "main", "steps": [[{"name": "s", "template": "note", "onExit": "nope"}]]}
    with pytest.raises(WorkflowError, match=r"steps\[0\]\[0\].onExit: no template named 'nope'"):
        run_workflow(workflow([steps, NOTE]), {}, settings)


def test_a_hook_expression_that_cannot_be_evaluated_is_an_error_node_not_a_guess(settings):
    spec = {"hooks": {"x": {**_note("x"), "expression": "nosuch.thing == 1"}}}
    result = run_workflow(workflow([sh("main", "true"), NOTE], **spec), {}, settings)
    hook = nodes(result)[f"{result.name}.hooks.x"]
    assert hook.phase == "Error" and "nosuch" in hook.message


def _memo_wf(key: str = "k-{{inputs.parameters.x}}", max_age: str = "1h") -> dict:
    """A memoized step; whether its pod ran shows in its node's ``log`` (None for a cache hit)."""
    tmpl = sh("work", "echo out-{{inputs.parameters.x}} > /tmp/o; echo printed")
    tmpl["inputs"] = {"parameters": [{"name": "x"}]}
    tmpl["outputs"] = {"parameters": [{"name": "o", "valueFrom": {"path": "/tmp/o"}}]}
    tmpl["memoize"] = {"key": key, "maxAge": max_age, "cache": {"configMap": {"name": "my-cache"}}}
    step = {"name": "w", "template": "work", "arguments": {"parameters": [{"name": "x", "value": "1"}]}}
    main = {"name": "main", "steps": [[step]]}
    return workflow([main, tmpl])


def test_memoize_second_run_is_a_hit_with_the_cached_outputs_and_no_pod(settings):
    first = run_workflow(_memo_wf(), {}, settings)
    second = run_workflow(_memo_wf(), {}, settings)
    a, b = nodes(first)["w"], nodes(second)["w"]
    assert a.log is not None  # the pod ran the first time
    assert a.memoization == {"hit": False, "key": "k-1", "cacheName": "my-cache"}
    assert b.memoization == {"hit": True, "key": "k-1", "cacheName": "my-cache"}
    assert b.phase == "Succeeded" and b.type == "Pod"
    assert (b.parameters, b.result) == ({"o": "out-1"}, "printed")
    assert b.log is None  # nothing ran


def test_memoize_expired_entry_is_a_miss_and_a_bad_key_errors(settings):
    run_workflow(_memo_wf(max_age="1s"), {}, settings)
    time.sleep(1.2)
    again = run_workflow(_memo_wf(max_age="1s"), {}, settings)
    assert nodes(again)["w"].memoization["hit"] is False
    assert nodes(again)["w"].log is not None  # the pod ran again
    bad = run_workflow(_memo_wf(key="bad key"), {}, settings)
    node = nodes(bad)["w"]
    assert bad.phase == "Failed" and node.phase == "Error" and "invalid cache key: bad key" in node.message


def test_a_failed_memoized_node_is_not_cached(settings):
    wf = _memo_wf()  # a workflow parameter (not in the key) decides whether the pod fails
    wf["spec"]["arguments"] = {"parameters": [{"name": "fail", "value": "1"}]}
    wf["spec"]["templates"][1]["container"]["args"][0] += '; [ "{{workflow.parameters.fail}}" != 1 ]'
    assert run_workflow(wf, {"fail": "1"}, settings).phase == "Failed"
    result = run_workflow(wf, {"fail": "0"}, settings)
    assert result.phase == "Succeeded" and nodes(result)["w"].memoization["hit"] is False


def _art_tmpl(name: str, text: str) -> dict:
    t = sh(name, f"echo {text} > /tmp/a.txt")
    t["outputs"] = {"artifacts": [{"name": "out", "path": "/tmp/a.txt", "globalName": f"g-{name}"}]}
    return t


def test_from_expression_picks_the_artifact_of_the_branch_that_ran_and_global_names_resolve(settings):
    main = {
        "name": "main",
        "steps": [
            [{"name": "coin", "template": "coin"}],
            [
                {"name": "heads", "template": "heads", "when": "{{steps.coin.outputs.result}} == heads"},
                {"name": "tails", "template": "tails", "when": "{{steps.coin.outputs.result}} == tails"},
            ],
        ],
        "outputs": {
            "artifacts": [
                {
                    "name": "picked",
                    "fromExpression": "steps.coin.outputs.result == 'heads'"
                    " ? steps.heads.outputs.artifacts.out : steps.tails.outputs.artifacts.out",
                }
            ]
        },
    }
    entry = {
        "name": "entry",
        "steps": [
            [{"name": "pick", "template": "main"}],
            [{"name": "show", "template": "show", "arguments": {"artifacts": [
                {"name": "in", "from": "{{steps.pick.outputs.artifacts.picked}}"}]}}],
            [{"name": "show-global", "template": "show", "arguments": {"artifacts": [
                {"name": "in", "from": "{{workflow.outputs.artifacts.g-tails}}"}]}}],
        ],
    }  # fmt: skip
    show = sh("show", "cat /tmp/in.txt", inputs={"artifacts": [{"name": "in", "path": "/tmp/in.txt"}]})
    templates = [
        entry,
        main,
        sh("coin", "echo tails"),
        _art_tmpl("heads", "H"),
        _art_tmpl("tails", "T"),
        show,
    ]
    result = run_workflow(workflow(templates, entry="entry"), {}, settings, artifact_store=MemoryStore())
    by = nodes(result)
    assert result.phase == "Succeeded", result.message
    assert by["heads"].phase == "Skipped"
    assert by["show"].result == "T" and by["show-global"].result == "T"


def test_from_expression_that_gives_no_artifact_is_an_error(settings):
    main = {
        "name": "main",
        "steps": [[{"name": "coin", "template": "coin"}]],
        "outputs": {"artifacts": [{"name": "x", "fromExpression": "steps.coin.outputs.result"}]},
    }
    result = run_workflow(
        workflow([main, sh("coin", "echo tails")]), {}, settings, artifact_store=MemoryStore()
    )
    assert result.phase == "Error"
    assert "fromExpression" in nodes(result)[result.name].message and "not an artifact" in result.message
