"""Executor features beyond the Argo examples: flaky retries, deadlines, artifacts, Hera runner steps."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from driftloop.errors import UsageError, WorkflowError
from driftloop.local.executor import list_runs, load_run, run_workflow
from driftloop.local.executor.graph import depends_satisfied, topological_order
from tests.unit.executor_helpers import SHARED, SHARED_CLAIM, MemoryStore, sh, shared, workflow

wf = workflow


def test_flaky_step_is_retried_until_it_succeeds(settings, tmp_path):
    counter = f"{SHARED}/count"  # on a volume of the run: an attempt's own files go with its pod
    flaky = sh(
        "flaky",
        f"n=$(cat {counter} 2>/dev/null || echo 0); echo $((n+1)) | tee {counter}; [ $n -ge 2 ]",
        retryStrategy={"limit": 3, "retryPolicy": "Always"},
    )
    shared(flaky["container"])
    dag = {"name": "main", "dag": {"tasks": [{"name": "f", "template": "flaky"}]}}
    result = run_workflow(wf([dag, flaky], **SHARED_CLAIM), {}, settings)
    assert result.phase == "Succeeded"
    retry = result.node("f")
    assert retry.type == "Retry" and retry.children == ["t.f(0)", "t.f(1)", "t.f(2)"]
    assert [n.result for n in result.nodes if n.name in retry.children] == ["1", "2", "3"]


def test_retry_limit_exhausted_fails(settings):
    result = run_workflow(wf([sh("main", "exit 3", retryStrategy={"limit": "1"})]), {}, settings)
    assert result.phase == "Failed"
    assert [n.name for n in result.nodes] == ["t", "t(0)", "t(1)"]
    assert result.nodes[0].exit_code == 3


def test_task_parameters_and_results_flow_through_a_dag(settings):
    produce = {
        "name": "produce",
        "script": {
            "image": "python",
            "command": ["python"],
            "source": "open('/tmp/out.txt','w').write('42\\n'); print('r1')",
        },
        "outputs": {"parameters": [{"name": "n", "valueFrom": {"path": "/tmp/out.txt"}}]},
    }
    consume = sh(
        "consume",
        "echo {{inputs.parameters.n}}-{{inputs.parameters.r}}",
        inputs={"parameters": [{"name": "n"}, {"name": "r"}]},
    )
    main = {
        "name": "main",
        "dag": {
            "tasks": [
                {"name": "p", "template": "produce"},
                {
                    "name": "c",
                    "depends": "p.Succeeded",
                    "template": "consume",
                    "arguments": {
                        "parameters": [
                            {"name": "n", "value": "{{tasks.p.outputs.parameters.n}}"},
                            {"name": "r", "value": "{{tasks.p.outputs.result}}"},
                        ]
                    },
                },
            ]
        },
        "outputs": {
            "parameters": [{"name": "final", "valueFrom": {"parameter": "{{tasks.c.outputs.result}}"}}]
        },
    }
    result = run_workflow(wf([main, produce, consume]), {}, settings)
    assert result.phase == "Succeeded"
    assert result.node("c").result == "42-r1"
    assert result.nodes[0].parameters == {"final": "42-r1"}


def test_depends_failed_handler_makes_the_dag_succeed(settings):
    main = {
        "name": "main",
        "dag": {
            "tasks": [
                {"name": "a", "template": "bad"},
                {"name": "on-fail", "depends": "a.Failed", "template": "ok"},
                {"name": "on-ok", "depends": "a", "template": "ok"},
            ]
        },
    }
    result = run_workflow(wf([main, sh("bad", "exit 1"), sh("ok", "echo ok")]), {}, settings)
    assert result.node("on-fail").phase == "Succeeded"
    assert result.node("on-ok").phase == "Omitted"
    assert result.phase == "Failed"  # on-ok is a leaf omitted because of a failure: it inherits Failed


def test_depends_logic_and_order() -> None:
    tasks = [
        {"name": "d", "depends": "b && c"},
        {"name": "b", "depends": "a"},
        {"name": "a"},
        {"name": "c", "dependencies": ["a"]},
    ]
    assert topological_order(tasks) == ["a", "b", "c", "d"]
    phases = {"a": "Failed", "b": "Succeeded"}
    assert depends_satisfied({"name": "x", "depends": "a.Failed || b.Errored"}, phases, {})
    assert not depends_satisfied({"name": "x", "depends": "a && !b.Failed"}, phases, {})
    assert depends_satisfied({"name": "x", "depends": "(a.Completed) && b"}, phases, {})
    assert depends_satisfied({"name": "x", "depends": "a"}, phases, {"a": {"failed": True}})
    with pytest.raises(WorkflowError, match="cycle"):
        topological_order([{"name": "a", "depends": "b"}, {"name": "b", "depends": "a"}])


def test_with_items_and_with_param_aggregate_outputs(settings):
    echo = sh("echo", "echo {{inputs.parameters.v}}", inputs={"parameters": [{"name": "v"}]})
    main = {
        "name": "main",
        "dag": {
            "tasks": [
                {
                    "name": "fan",
                    "template": "echo",
                    "withItems": ["a", "b"],
                    "arguments": {"parameters": [{"name": "v", "value": "{{item}}"}]},
                },
                {
                    "name": "again",
                    "depends": "fan",
                    "template": "echo",
                    "withParam": "{{tasks.fan.outputs.result}}",
                    "arguments": {"parameters": [{"name": "v", "value": "x{{item}}"}]},
                },
            ]
        },
    }
    result = run_workflow(wf([main, echo]), {}, settings)
    assert result.phase == "Succeeded"
    assert result.node("fan").type == "TaskGroup"
    assert [n.result for n in result.nodes if n.name.startswith("t.again(")] == ["xa", "xb"]
    assert result.node("again(1:b)").name == "t.again(1:b)"


def test_active_deadline_kills_the_step_and_exit_handler_still_runs(settings):
    start = time.monotonic()
    result = run_workflow(
        wf(
            [sh("main", "sleep 30 & wait"), sh("bye", "echo {{workflow.status}}")],
            activeDeadlineSeconds=1,
            onExit="bye",
        ),
        {},
        settings,
    )
    assert time.monotonic() - start < 10
    assert result.phase == "Failed"
    assert "deadline" in result.nodes[0].message
    assert result.node("t.onExit").result == "Failed"


def test_template_deadline_fails_only_that_step(settings):
    result = run_workflow(wf([sh("main", "sleep 30", activeDeadlineSeconds=0.5)]), {}, settings)
    assert result.phase == "Failed" and "deadline" in result.nodes[0].message


def test_artifacts_round_trip_with_argo_keys(settings):
    store = MemoryStore()
    make = sh(
        "make",
        "mkdir -p /tmp/d && echo payload > /tmp/d/f.txt && echo raw > /tmp/plain.txt",
        outputs={
            "artifacts": [
                {"name": "dir", "path": "/tmp/d"},
                {"name": "plain", "path": "/tmp/plain.txt", "archive": {"none": {}}},
            ]
        },
    )
    use = sh(
        "use",
        "cat /in/d/f.txt /in/p.txt",
        inputs={"artifacts": [{"name": "dir", "path": "/in/d"}, {"name": "plain", "path": "/in/p.txt"}]},
    )
    main = {
        "name": "main",
        "steps": [
            [{"name": "make", "template": "make"}],
            [
                {
                    "name": "use",
                    "template": "use",
                    "arguments": {
                        "artifacts": [
                            {"name": "dir", "from": "{{steps.make.outputs.artifacts.dir}}"},
                            {"name": "plain", "from": "{{steps.make.outputs.artifacts.plain}}"},
                        ]
                    },
                }
            ],
        ],
    }
    result = run_workflow(wf([main, make, use]), {}, settings, artifact_store=store)
    assert result.phase == "Succeeded", result.to_json()
    pod = result.node("make").pod_name
    assert sorted(store.objects) == [f"t/{pod}/dir.tgz", f"t/{pod}/plain.txt"]
    assert store.objects[f"t/{pod}/plain.txt"] == b"raw\n"
    assert result.node("use").result == "payload\nraw"


def test_hera_runner_step_gets_inputs_and_writes_outputs(settings, tmp_path, monkeypatch):
    mod = tmp_path / "hera_steps_mod.py"
    mod.write_text(
        "from typing import Annotated\nfrom hera.workflows import Parameter\n"
        "def double(x: int) -> Annotated[int, Parameter(name='doubled')]:\n    return 2 * x\n"
    )
    monkeypatch.chdir(tmp_path)
    tmpl = {
        "name": "double",
        "inputs": {"parameters": [{"name": "x"}]},
        "outputs": {
            "parameters": [{"name": "doubled", "valueFrom": {"path": "/tmp/hera-outputs/parameters/doubled"}}]
        },
        "script": {
            "image": "project:latest",
            "command": ["python"],
            "source": "{{inputs.parameters}}",
            "args": ["-m", "hera.workflows.runner", "-e", "hera_steps_mod:double"],
        },
    }
    main = {
        "name": "main",
        "steps": [
            [{"name": "d", "template": "double", "arguments": {"parameters": [{"name": "x", "value": "21"}]}}]
        ],
    }
    result = run_workflow(wf([main, tmpl]), {}, settings)
    assert result.phase == "Succeeded", Path(result.node("d").log).read_text()
    assert result.node("d").parameters == {"doubled": "42"}


def test_unsupported_fields_name_the_field(settings):
    with pytest.raises(WorkflowError, match=r"spec.templates\[0\].resource"):
        run_workflow(wf([{"name": "main", "resource": {"action": "create"}}]), {}, settings)
    with pytest.raises(WorkflowError, match=r"spec.templates\[0\].suspend.approvers"):
        run_workflow(wf([{"name": "main", "suspend": {"approvers": []}}]), {}, settings)
    with pytest.raises(WorkflowError, match=r"synchronization.semaphores\[0\] needs configMapKeyRef"):
        run_workflow(wf([sh("main", "true")], synchronization={"semaphores": [{"name": "x"}]}), {}, settings)


def test_parameters_are_checked(settings):
    doc = wf(
        [sh("main", "echo {{workflow.parameters.reason}}")],
        arguments={"parameters": [{"name": "reason", "value": "drift", "enum": ["drift", "manual"]}]},
    )
    assert run_workflow(doc, {"reason": "manual"}, settings).nodes[0].result == "manual"
    with pytest.raises(UsageError, match="not one of"):
        run_workflow(doc, {"reason": "nope"}, settings)
    with pytest.raises(UsageError, match="unknown workflow parameter 'model'"):
        run_workflow(doc, {"model": "x"}, settings)


def test_workflow_template_ref_and_run_records(settings, tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "t.yaml").write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: WorkflowTemplate\nmetadata: {name: greet}\n"
        "spec:\n  entrypoint: main\n  arguments: {parameters: [{name: who, value: world}]}\n"
        "  templates:\n  - name: main\n"
        "    container: {image: x, command: [echo, 'hi {{workflow.parameters.who}}']}\n"
    )
    doc = {
        "kind": "Workflow",
        "metadata": {"generateName": "greet-"},
        "spec": {
            "workflowTemplateRef": {"name": "greet"},
            "arguments": {"parameters": [{"name": "who", "value": "you"}]},
        },
    }
    result = run_workflow(doc, {}, settings, templates_dir=tmp_path / "m")
    assert result.nodes[0].result == "hi you"
    assert result.name.startswith("greet-")
    again = load_run(settings.data_dir, result.name)
    assert again.phase == "Succeeded" and again.nodes[0].result == "hi you"
    assert "hi you" in Path(again.nodes[0].log).read_text()
    assert [r.name for r in list_runs(settings.data_dir)] == [result.name]


def test_missing_command_is_refused_and_a_missing_binary_is_an_error_not_a_crash(settings):
    with pytest.raises(WorkflowError, match=r"spec.templates\[0\].container.command is missing"):
        run_workflow(
            wf([{"name": "main", "container": {"image": "alpine", "args": ["echo", "hi"]}}]), {}, settings
        )
    result = run_workflow(
        wf([{"name": "main", "container": {"image": "a", "command": ["no-such-binary-x"]}}]), {}, settings
    )
    assert result.phase == "Error" and "no-such-binary-x" in result.nodes[0].message


def test_python_commands_use_this_interpreter(settings):
    result = run_workflow(
        wf(
            [
                {
                    "name": "main",
                    "container": {
                        "image": "p",
                        "command": ["python", "-c"],
                        "args": ["import sys; print(sys.executable)"],
                    },
                }
            ]
        ),
        {},
        settings,
    )
    assert result.nodes[0].result == sys.executable
