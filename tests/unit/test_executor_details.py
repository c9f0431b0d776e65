"""Executor details that must behave as Argo's controller does (our own workflows, Argo's semantics):
script files are executable, ``spec.templateDefaults`` applies, ``outputs.result`` trims one trailing
newline and keeps the last 256 kB, ``withSequence`` with ``count: 0`` yields nothing, and
``workflow.failures`` is ``null`` when nothing failed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from driftloop.config import load_settings
from driftloop.local.executor import run_workflow
from driftloop.local.executor.pod import RESULT_LIMIT, step_result
from tests.unit.executor_helpers import SHARED, SHARED_CLAIM, shared


def _run(tmp_path: Path, spec: dict[str, Any]) -> Any:
    wf = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "t"}, "spec": spec}
    settings = load_settings(env={}, overrides={"data_dir": str(tmp_path / "data")})
    return run_workflow(wf, None, settings)


def _py(code: str) -> dict[str, Any]:
    return {"image": "python:3.11", "command": [sys.executable, "-c", code]}


def test_script_files_are_executable(tmp_path: Path) -> None:
    result = _run(
        tmp_path,
        {
            "entrypoint": "main",
            "templates": [
                {
                    "name": "main",
                    "script": {
                        "image": "bash",
                        "command": ["bash", "-c", 'test -x "$0" && echo executable || echo not'],
                        "source": "echo hi",
                    },
                }
            ],
        },
    )
    assert result.phase == "Succeeded" and result.node("t").result == "executable"


def test_template_defaults_apply_and_the_template_wins(tmp_path: Path) -> None:
    code = "import os; print(os.environ['A'], os.environ.get('B', '-'))"
    result = _run(
        tmp_path,
        {
            "entrypoint": "main",
            "templateDefaults": {"container": {"env": [{"name": "A", "value": "default"}]}, "timeout": "60s"},
            "templates": [
                {
                    "name": "main",
                    "steps": [[{"name": "a", "template": "plain"}, {"name": "b", "template": "own"}]],
                },
                {"name": "plain", "container": _py(code)},
                {"name": "own", "container": {**_py(code), "env": [{"name": "A", "value": "own"}]}},
            ],
        },
    )
    assert result.phase == "Succeeded", result.message
    assert result.node("a").result == "default -" and result.node("b").result == "own -"


def test_result_trims_one_newline_and_keeps_the_tail() -> None:
    assert step_result("a\n\n") == "a\n" and step_result("a\n") == "a" and step_result("a") == "a"
    long = "x" * RESULT_LIMIT + "tail\n"  # Argo trims the newline first, then keeps the last 256 kB
    assert step_result(long).endswith("tail") and len(step_result(long)) == RESULT_LIMIT
    assert (
        step_result("é" * RESULT_LIMIT).endswith("é")
        and len(step_result("é" * RESULT_LIMIT).encode()) <= RESULT_LIMIT + 2
    )


def test_with_sequence_count_zero_runs_nothing_and_failures_is_null(tmp_path: Path) -> None:
    result = _run(
        tmp_path,
        {
            "entrypoint": "main",
            "onExit": "report",
            "templates": [
                {
                    "name": "main",
                    "steps": [
                        [{"name": "none", "template": "echo", "withSequence": {"count": "0"}}],
                        [{"name": "three", "template": "echo", "withSequence": {"start": "5", "count": "3"}}],
                    ],
                },
                {"name": "echo", "container": _py("print('x')")},
                # Argo Go-quotes the value (operator.go): the shell unquotes "null" to null
                {
                    "name": "report",
                    "container": {"image": "a", "command": ["sh", "-c", "echo {{workflow.failures}}"]},
                },
            ],
        },
    )
    assert result.phase == "Succeeded", result.message
    names = sorted(n.display_name for n in result.nodes if n.type == "Pod")
    assert names == ["t.onExit", "three(0:5)", "three(1:6)", "three(2:7)"], names  # Argo names it <wf>.onExit
    assert result.node("t.onExit").result == "null"


def test_a_run_that_errors_while_scheduling_settles_every_node_and_runs_its_exit_handler(
    tmp_path: Path,
) -> None:
    """A scheduling error (a withParam that is not JSON) ends the run Error: no node stays Running (the
    step group used to), and the exit handler ran with the status."""
    from driftloop.local.executor import load_run

    bye = "print('{{workflow.status}}')"
    result = _run(
        tmp_path,
        {
            "entrypoint": "main",
            "onExit": "bye",
            "templates": [
                {"name": "main", "steps": [[{"name": "x", "template": "echo", "withParam": "not json"}]]},
                {"name": "echo", "container": _py("print(1)")},
                {"name": "bye", "container": _py(bye)},
            ],
        },
    )
    assert result.phase == "Error" and "not a JSON list" in result.message
    run = load_run(tmp_path / "data", "t")
    assert run.phase == "Error" and all(n.phase not in ("Running", "Pending") for n in run.nodes), [
        (n.display_name, n.phase) for n in run.nodes
    ]
    assert result.node("t.onExit").result == "Error"  # the exit handler ran, with the status


def test_a_semaphore_has_a_limit_of_one_locally(tmp_path: Path) -> None:
    """Two runs holding one semaphore (its ConfigMap limit cannot be read locally) never overlap."""
    import json
    import subprocess
    import textwrap

    import yaml

    wf = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "sem-"},
        "spec": {
            "entrypoint": "main",
            "synchronization": {"semaphores": [{"configMapKeyRef": {"name": "limits", "key": "gpu"}}]},
            "templates": [
                {
                    "name": "main",
                    "container": _py("import time; a = time.time(); time.sleep(0.5); print(a, time.time())"),
                }
            ],
        },
    }
    path = tmp_path / "sem.yaml"
    path.write_text(yaml.safe_dump(wf))
    code = textwrap.dedent("""
        import json, sys, types
        from driftloop.local.executor import run_workflow
        r = run_workflow(sys.argv[1], {}, types.SimpleNamespace(data_dir=sys.argv[2]))
        print(json.dumps([r.phase, r.nodes[0].result]))
    """)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(path), str(tmp_path / "data")], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outs = [json.loads(p.communicate(timeout=60)[0].strip().splitlines()[-1]) for p in procs]
    assert [o[0] for o in outs] == ["Succeeded", "Succeeded"]
    spans = sorted(tuple(map(float, o[1].split())) for o in outs)
    assert spans[0][1] <= spans[1][0], spans


def test_max_duration_cuts_a_running_retry_as_argos_execution_deadline(tmp_path: Path) -> None:
    """``backoff.maxDuration`` bounds a retry's pod (operator.go sets executionDeadline = first attempt's
    start + maxDuration for the attempts after the first); the Retry node then stops."""
    import time

    counter = f"{SHARED}/n"
    cmd = f"n=$(cat {counter} 2>/dev/null || echo 0); echo $((n+1)) > {counter}; "
    cmd += "[ $n -eq 0 ] && exit 1; sleep 30"
    spec = {
        "entrypoint": "main",
        "templates": [
            {
                "name": "main",
                "retryStrategy": {"limit": 5, "backoff": {"duration": "0.1s", "maxDuration": "2s"}},
                "container": shared({"image": "a", "command": ["sh", "-c", cmd]}),
            }
        ],
        **SHARED_CLAIM,
    }
    began = time.monotonic()
    result = _run(tmp_path, spec)
    took = time.monotonic() - began
    assert result.phase == "Failed"
    attempts = [n for n in result.nodes if n.type == "Pod"]
    assert [n.display_name for n in attempts] == ["t(0)", "t(1)"]
    assert attempts[1].message == "Pod was active on the node longer than the specified deadline"
    assert result.node("t").message == "Max duration limit exceeded"
    assert took < 10, took  # cut near 2 s, not after the 30 s sleep
