"""Scheduling semantics of the local executor that must match Argo's controller (our own small workflows):
outputs of skipped / omitted tasks, aggregated fan-out outputs, errors that stay with their task,
failFast, retries, unbounded fan-out and ``workflow.failures``.

Each test says which part of Argo (``workflow/controller/*.go``) defines the asserted outcome.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from driftloop.local.executor import run_workflow
from driftloop.local.executor.result import NodeResult, WorkflowResult, workflow_failures
from tests.unit.executor_helpers import sh, workflow


def wf(templates: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return workflow(templates, name="s", **spec)


def dag(*tasks: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": "main", "dag": {"tasks": list(tasks)}, **extra}


def phases(result: WorkflowResult) -> dict[str, tuple[str, str]]:
    """display name -> (type, phase) of every node."""
    return {n.display_name: (n.type, n.phase) for n in result.nodes}


def arg(name: str, value: str) -> dict[str, Any]:
    return {"parameters": [{"name": name, "value": value}]}


def produce(default: str | None = None) -> dict[str, Any]:
    """A producer whose output ``msg`` (written to a file) has an optional ``valueFrom.default``."""
    value_from: dict[str, Any] = {"path": "/tmp/msg"}
    if default is not None:
        value_from["default"] = default
    return sh(
        "produce",
        "printf real > /tmp/msg",
        outputs={"parameters": [{"name": "msg", "valueFrom": value_from}]},
    )


def show(default: str | None = None) -> dict[str, Any]:
    """A consumer that prints its input ``v`` (which may declare a default)."""
    param: dict[str, Any] = {"name": "v"}
    if default is not None:
        param["default"] = default
    return sh("show", "printf 'got [%s]' '{{inputs.parameters.v}}'", inputs={"parameters": [param]})


MSG = "{{tasks.producer.outputs.parameters.msg}}"


# -- 1. outputs of Skipped / Omitted tasks (scope.go addSkippedNodeOutputsToScope, markAbsentOptionalArgs)


def test_a_skipped_producers_output_default_reaches_the_consumer(settings):
    main = dag(
        {"name": "producer", "template": "produce", "when": "a == b"},
        {
            "name": "consumer",
            "template": "show",
            "depends": "producer.Succeeded || producer.Skipped",
            "arguments": arg("v", MSG),
        },
    )
    result = run_workflow(wf([main, produce(default="from-producer"), show()]), {}, settings)
    assert result.phase == "Succeeded", result.message
    assert phases(result) == {
        "s": ("DAG", "Succeeded"),
        "producer": ("Skipped", "Skipped"),
        "consumer": ("Pod", "Succeeded"),
    }
    assert result.node("consumer").result == "got [from-producer]"


def test_an_absent_output_lets_the_consumers_input_default_apply(settings):
    """An omitted producer (its depends is false) without an output default: the argument that only
    references it is dropped and the consumer's own input default applies — not an empty string, not the
    literal ``{{...}}``."""
    main = dag(
        {"name": "gate", "template": "fail"},
        {"name": "producer", "template": "produce", "depends": "gate"},
        {"name": "consumer", "template": "show", "depends": "producer.Omitted", "arguments": arg("v", MSG)},
    )
    result = run_workflow(
        wf([main, sh("fail", "exit 1"), produce(), show(default="from-input")]), {}, settings
    )
    assert phases(result)["producer"] == ("Skipped", "Omitted")
    assert result.node("consumer").result == "got [from-input]"
    assert result.phase == "Succeeded"  # the only leaf, consumer, succeeded (assessDAGPhase)


@pytest.mark.parametrize("value", [MSG, f"x-{MSG}"])
def test_an_unhandled_absent_output_is_an_error_of_the_consumer(settings, value):
    """No producer default and no consumer default (or the reference is part of a longer text): the
    consumer errors, naming the reference; nothing runs with a made-up value."""
    main = dag(
        {"name": "producer", "template": "produce", "when": "a == b"},
        {"name": "consumer", "template": "show", "depends": "producer", "arguments": arg("v", value)},
    )
    result = run_workflow(wf([main, produce(), show()]), {}, settings)
    assert result.phase == "Error"
    consumer = result.node("consumer")
    assert consumer.phase == "Error" and "skipped or omitted" in consumer.message
    assert consumer.log is None  # never ran


def test_template_outputs_of_skipped_children_use_defaults_or_fail(settings):
    """A DAG's own outputs from a skipped child: ``??`` in an expression, the aggregating output's
    ``valueFrom.default``; a reference with neither errors the DAG instead of returning ``{{...}}``."""
    outputs = {
        "parameters": [
            {
                "name": "by-expr",
                "valueFrom": {"expression": "tasks.producer.outputs.parameters.msg ?? 'expr-fb'"},
            },
            {"name": "by-default", "valueFrom": {"parameter": MSG, "default": "param-fb"}},
        ]
    }
    main = dag({"name": "producer", "template": "produce", "when": "a == b"}, outputs=outputs)
    result = run_workflow(wf([main, produce()]), {}, settings)
    assert result.phase == "Succeeded", result.message
    assert result.nodes[0].parameters == {"by-expr": "expr-fb", "by-default": "param-fb"}

    strict = dag(
        {"name": "producer", "template": "produce", "when": "a == b"},
        outputs={"parameters": [{"name": "out", "valueFrom": {"parameter": MSG}}]},
    )
    result = run_workflow(wf([strict, produce()]), {}, settings)
    assert result.phase == "Error" and "outputs.parameters.out" in result.nodes[0].message
    assert "{{" not in json.dumps(result.nodes[0].parameters)


def test_a_step_expression_argument_sees_nil_for_an_absent_output(settings):
    steps = {
        "name": "main",
        "steps": [
            [{"name": "producer", "template": "produce", "when": "a == b"}],
            [
                {
                    "name": "consumer",
                    "template": "show",
                    "arguments": arg("v", "{{= steps.producer.outputs.parameters.msg ?? 'nil-seen'}}"),
                }
            ],
        ],
    }
    result = run_workflow(wf([steps, produce(), show()]), {}, settings)
    assert result.phase == "Succeeded", result.message
    assert result.node("consumer").result == "got [nil-seen]"


# -- 2. aggregated outputs (operator.go processAggregateNodeOutputs)

WRITE_TWO = sh(
    "write",
    "printf '{{inputs.parameters.n}}' > /tmp/n; printf 'v{{inputs.parameters.n}}' > /tmp/tag; "
    "printf '{\"n\": {{inputs.parameters.n}}}'; [ {{inputs.parameters.n}} != 2 ]",
    inputs={"parameters": [{"name": "n"}]},
    outputs={
        "parameters": [
            {"name": "n", "valueFrom": {"path": "/tmp/n"}},
            {"name": "tag", "valueFrom": {"path": "/tmp/tag"}},
        ]
    },
)


def test_steps_aggregate_parameters_as_a_list_of_maps(settings):
    steps = {
        "name": "main",
        "steps": [
            [{"name": "gen", "template": "write", "withItems": [1, 3], "arguments": arg("n", "{{item}}")}],
            [
                {
                    "name": "maps",
                    "template": "show",
                    "arguments": arg("v", "{{steps.gen.outputs.parameters}}"),
                },
                {
                    "name": "tags",
                    "template": "show",
                    "arguments": arg("v", "{{steps.gen.outputs.parameters.tag}}"),
                },
                {
                    "name": "results",
                    "template": "show",
                    "arguments": arg("v", "{{steps.gen.outputs.result}}"),
                },
            ],
        ],
    }
    result = run_workflow(wf([steps, WRITE_TWO, show()]), {}, settings)
    assert result.phase == "Succeeded", result.message
    assert result.node("maps").result == 'got [[{"n":"1","tag":"v1"},{"n":"3","tag":"v3"}]]'
    assert result.node("tags").result == 'got [["v1","v3"]]'
    assert result.node("results").result == 'got [[{"n":1},{"n":3}]]'


def test_dag_aggregates_only_the_children_that_succeeded(settings):
    main = dag(
        {
            "name": "gen",
            "template": "write",
            "withItems": [1, 2, 3],
            "arguments": arg("n", "{{item}}"),
            "continueOn": {"failed": True},
        },
        {
            "name": "maps",
            "template": "show",
            "depends": "gen",
            "arguments": arg("v", "{{tasks.gen.outputs.parameters}}"),
        },
    )
    result = run_workflow(wf([main, WRITE_TWO, show()]), {}, settings)
    assert phases(result)["gen"] == ("TaskGroup", "Failed")
    assert [phases(result)[f"gen({i}:{i + 1})"][1] for i in range(3)] == ["Succeeded", "Failed", "Succeeded"]
    assert result.node("maps").result == 'got [[{"n":"1","tag":"v1"},{"n":"3","tag":"v3"}]]'
    assert result.phase == "Succeeded", result.message  # gen continues on failure, maps is the leaf


# -- 3. an error while scheduling stays with its task (dag.go executeDAGTask, steps.go executeStepGroup)


def test_a_dag_task_that_cannot_be_scheduled_errors_alone(settings):
    main = dag(
        {"name": "ok", "template": "sleep"},
        {"name": "bad-param", "template": "sleep", "withParam": "not json"},
        {"name": "bad-when", "template": "sleep", "when": "{{tasks.nothing.outputs.result}} == x"},
        {"name": "after-ok", "template": "sleep", "depends": "ok"},
        {"name": "after-bad", "template": "sleep", "depends": "bad-param"},
    )
    result = run_workflow(wf([main, sh("sleep", "sleep 0.3")]), {}, settings)
    assert phases(result) == {
        "s": ("DAG", "Error"),
        "ok": ("Pod", "Succeeded"),
        "bad-param": ("Skipped", "Error"),
        "bad-when": ("Skipped", "Error"),
        "after-ok": ("Pod", "Succeeded"),
        "after-bad": ("Skipped", "Omitted"),
    }
    assert "not a JSON list" in result.node("bad-param").message
    assert "tasks.nothing.outputs.result" in result.node("bad-when").message
    assert result.phase == "Error"


def test_a_step_group_that_cannot_be_scheduled_errors_and_runs_nothing(settings):
    steps = {
        "name": "main",
        "steps": [
            [{"name": "fine", "template": "ok"}, {"name": "broken", "template": "ok", "withParam": "[1,"}],
            [{"name": "later", "template": "ok"}],
        ],
    }
    result = run_workflow(wf([steps, sh("ok", "true")]), {}, settings)
    assert phases(result) == {
        "s": ("Steps", "Error"),
        "[0]": ("StepGroup", "Error"),
        "broken": ("Skipped", "Error"),
    }
    assert "not a JSON list" in result.node("[0]").message
    assert all(n.phase not in ("Running", "Pending") for n in result.nodes)


# -- 4. failFast (dag.go assessDAGPhase; operator.go checkParallelism for template failFast)


def test_running_branches_complete_after_a_failure_deterministically(settings):
    """A failure elsewhere does not stop a branch: ``joined`` waits for the slow ``side`` and runs every
    time; ``after-boom`` can no longer run and is Omitted. (Before, ``joined`` ran only when ``side``
    finished before ``boom`` failed.)"""
    main = dag(
        {"name": "start", "template": "ok"},
        {"name": "expected", "template": "fail", "depends": "start"},
        {"name": "side", "template": "slow", "depends": "start"},
        {"name": "joined", "template": "ok", "depends": "expected.Failed && side"},
        {"name": "boom", "template": "fail", "depends": "start"},
        {"name": "other", "template": "ok", "depends": "start"},
        {"name": "after-boom", "template": "ok", "depends": "boom && other"},
    )
    templates = [main, sh("ok", "true"), sh("fail", "exit 1"), sh("slow", "sleep 0.4")]
    for _ in range(3):
        result = run_workflow(wf(templates), {}, settings)
        assert result.phase == "Failed"
        assert {k: v[1] for k, v in phases(result).items()} == {
            "s": "Failed",
            "start": "Succeeded",
            "expected": "Failed",
            "side": "Succeeded",
            "joined": "Succeeded",
            "boom": "Failed",
            "other": "Succeeded",
            "after-boom": "Omitted",
        }
        assert result.nodes[0].message == "child 's.after-boom' failed"


def test_template_fail_fast_on_steps_with_parallelism_starts_nothing_more(settings):
    steps = {
        "name": "main",
        "parallelism": 1,
        "failFast": True,
        "steps": [[{"name": "first", "template": "fail"}, {"name": "second", "template": "ok"}]],
    }
    for _ in range(2):
        result = run_workflow(wf([steps, sh("fail", "exit 1"), sh("ok", "true")]), {}, settings)
        assert phases(result) == {
            "s": ("Steps", "Failed"),
            "[0]": ("StepGroup", "Failed"),
            "first": ("Pod", "Failed"),
        }
        message = "template has failed or errored children and failFast enabled"
        assert result.node("[0]").message == message and result.message == message
        assert result.phase == "Failed"


def test_template_fail_fast_lets_running_children_finish(settings):
    """Argo's own e2e expectation (parallelism 2): the failing child fails the template, the child that
    was already running still succeeds; with parallelism 1 on a DAG, nothing after the failure starts."""
    steps = {
        "name": "main",
        "parallelism": 2,
        "failFast": True,
        "steps": [[{"name": "first", "template": "fail"}, {"name": "second", "template": "slow"}]],
    }
    result = run_workflow(wf([steps, sh("fail", "exit 1"), sh("slow", "sleep 0.4")]), {}, settings)
    assert phases(result)["second"] == ("Pod", "Succeeded")
    assert phases(result)["[0]"] == ("StepGroup", "Failed") and result.phase == "Failed"

    main = dag(
        {"name": "a", "template": "fail"},
        {"name": "b", "template": "slow"},
        {"name": "c", "template": "slow", "depends": "b"},
        parallelism=1,
        failFast=True,
    )
    result = run_workflow(wf([main, sh("fail", "exit 1"), sh("slow", "sleep 0.1")]), {}, settings)
    assert phases(result) == {"s": ("DAG", "Failed"), "a": ("Pod", "Failed")}
    assert result.message == "template has failed or errored children and failFast enabled"


# -- 5. retries (operator.go processNodeRetries, RetryPolicyActual, buildRetryStrategyLocalScope)


#: A volume claim of the run where :func:`counting` steps keep their counters (a pod writes nothing else
#: that outlives it, as on Argo).
COUNTERS = {"volumeClaimTemplates": [{"metadata": {"name": "counters"}, "spec": {"accessModes": ["RWO"]}}]}


def counting(name: str, counter: Path, script: str, **extra: Any) -> dict[str, Any]:
    """A step that knows its attempt number ``$n`` (0-based), counted in the file ``counter.name`` of the
    run's ``counters`` volume (the workflow needs ``**COUNTERS``)."""
    path = f"/counters/{counter.name}"
    step = sh(name, f"n=$(cat {path} 2>/dev/null || echo 0); echo $((n+1)) > {path}; {script}", **extra)
    step["container"]["volumeMounts"] = [{"name": "counters", "mountPath": "/counters"}]
    return step


def attempts(result: WorkflowResult, name: str) -> list[NodeResult]:
    retry = result.node(name)
    assert retry.type == "Retry"
    return [n for n in result.nodes if n.name in retry.children]


def test_an_empty_retry_strategy_retries_until_success(settings, tmp_path):
    step = counting("main", tmp_path / "n", "[ $n -ge 4 ]", retryStrategy={})
    result = run_workflow(wf([step], **COUNTERS), {}, settings)
    assert result.phase == "Succeeded"
    assert [n.phase for n in attempts(result, "s")] == ["Failed"] * 4 + ["Succeeded"]


def test_an_expression_without_policy_retries_errors_too(settings):
    """Argo's RetryPolicyActual is Always when an expression decides: an attempt that errors (its
    command cannot start) is retried, which OnFailure would not do."""
    step = {
        "name": "main",
        "container": {"image": "x", "command": ["no-such-binary-for-retry"]},
        "retryStrategy": {"limit": 2, "expression": "lastRetry.status == 'Error'"},
    }
    result = run_workflow(wf([step]), {}, settings)
    assert [n.phase for n in attempts(result, "s")] == ["Error", "Error", "Error"]
    assert result.phase == "Error" and result.nodes[0].message == "No more retries left"


def test_the_expression_sees_template_inputs_and_a_string_exit_code(settings, tmp_path):
    step = counting(
        "flaky",
        tmp_path / "n",
        "exit $((n+2))",  # exit codes 2, 3, 4, ...
        inputs={"parameters": [{"name": "again-on"}]},
        retryStrategy={"limit": 5, "expression": "lastRetry.exitCode == '{{inputs.parameters.again-on}}'"},
    )
    steps = {
        "name": "main",
        "steps": [[{"name": "f", "template": "flaky", "arguments": arg("again-on", "2")}]],
    }
    result = run_workflow(wf([steps, step], **COUNTERS), {}, settings)
    assert [n.exit_code for n in attempts(result, "f")] == [2, 3]  # '2' matched the string, '3' did not
    assert result.node("f").message == "retryStrategy.expression evaluated to false"
    assert result.phase == "Failed"


def test_on_transient_error_retries_neither_a_killed_process_nor_an_exit_code(settings, tmp_path):
    """Argo sees a process killed by SIGKILL as ``Error (exit code 137)``: not transient
    (util/errors.IsTransientErr matches API and network errors only)."""
    killed = counting(
        "killed",
        tmp_path / "k",
        '[ $n -ge 1 ] || kill -KILL "$$"',
        retryStrategy={"retryPolicy": "OnTransientError"},
    )
    exits = counting("exits", tmp_path / "e", "exit 1", retryStrategy={"retryPolicy": "OnTransientError"})
    steps = {
        "name": "main",
        "steps": [[{"name": "k", "template": "killed"}, {"name": "e", "template": "exits"}]],
    }
    result = run_workflow(wf([steps, killed, exits], **COUNTERS), {}, settings)
    assert [(n.phase, n.exit_code, n.message) for n in attempts(result, "k")] == [
        ("Failed", 137, "Error (exit code 137)")
    ]
    assert [(n.phase, n.exit_code) for n in attempts(result, "e")] == [("Failed", 1)]
    assert result.phase == "Failed"


def test_a_retry_expression_that_cannot_be_evaluated_errors_one_node(settings):
    step = sh("main", "exit 1", retryStrategy={"limit": 3, "expression": "lastRetry.status =="})
    result = run_workflow(wf([step]), {}, settings)
    names = [n.name for n in result.nodes]
    assert names == ["s", "s(0)"], names  # no second node named "s"
    assert result.nodes[0].type == "Retry" and result.nodes[0].phase == "Error"
    assert result.phase == "Error"


# -- 6. no hidden concurrency cap; workflow.failures (operator.go failedNodeStatus)


def test_a_wide_fan_out_runs_all_at_once_without_parallelism(settings):
    main = dag({"name": "fan", "template": "nap", "withSequence": {"count": "40"}})
    result = run_workflow(wf([main, sh("nap", "sleep 2")]), {}, settings)
    pods = [n for n in result.nodes if n.type == "Pod"]
    assert result.phase == "Succeeded" and len(pods) == 40
    # 40 two-second sleeps overlap: the last one started before the first one ended (a cap of 32 would not)
    assert max(n.started or 0 for n in pods) < min(n.finished or 0 for n in pods)


def test_workflow_failures_list_every_failed_node_as_argo(settings):
    steps = {"name": "main", "steps": [[{"name": "boom", "template": "fail"}]]}
    result = run_workflow(wf([steps, sh("fail", "exit 3", retryStrategy={"limit": 1})]), {}, settings)
    failures = workflow_failures(result.name, result.nodes)
    assert [(f["displayName"], f["phase"], f["templateName"]) for f in failures] == [
        ("s", "Failed", "main"),
        ("[0]", "Failed", ""),
        ("boom", "Failed", "fail"),
        ("boom(0)", "Failed", "fail"),
        ("boom(1)", "Failed", "fail"),
    ]
    by_name = {f["displayName"]: f for f in failures}
    assert by_name["s"]["podName"] == "s"  # the root node's pod name is the workflow's name
    assert by_name["boom(1)"]["podName"] == result.node("boom(1)").pod_name
    assert by_name["boom"]["message"] == "No more retries left"
    assert by_name["boom(0)"]["message"] == "Error (exit code 3)"
    assert all(f["finishedAt"] and f["finishedAt"].endswith("Z") for f in failures)
    assert list(failures[0]) == ["displayName", "message", "templateName", "phase", "podName", "finishedAt"]
