"""The committed ``driftloop-monitor`` template's fan-out on the local executor at fleet size: 40 models,
one failing, the other 39 publish. The leaf steps are swapped for cheap stand-ins (each writes what it
was given to a volume the run's pods share, and prints the file it wrote); everything else — the
``monitor`` and ``check-model`` DAGs, ``withParam``, ``when``, ``failFast``, ``parallelism``, the retry
strategy — is the compiled YAML as it ships. The real steps on 3 models with data run in
tests/integration/test_monitor_fanout.py."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml

from driftloop.local.executor import run_workflow
from tests.conftest import REPO
from workflows.monitor import MODELS_AT_ONCE

TEMPLATE = REPO / "manifests/base/generated/workflows/driftloop-monitor.yaml"
MODELS = [f"m{i:02d}" for i in range(40)]
FAILING = "m13"

_OUT = "import json, os, sys\nout = os.environ['FANOUT_OUT']\n"
#: Where the stand-ins' shared volume is mounted (a pod's own files go with it, as on Argo).
OUT = "/fanout-out"


def _wrote(name: str, content: str) -> str:
    """Source that writes ``content`` to the file ``name`` (expressions) on the volume and prints it."""
    return f"open(os.path.join(out, {name}), 'w').write({content})\nprint('wrote', {name}, {content})\n"


def _write_param(name: str, value: str) -> str:
    path = f"/tmp/hera-outputs/parameters/{name}"
    return f"os.makedirs(os.path.dirname({path!r}), exist_ok=True)\nopen({path!r}, 'w').write({value})\n"


#: Stand-ins for the leaf steps: same inputs and outputs, no imports beyond the standard library.
STANDINS = {
    "list-models": _OUT + _write_param("models", f"json.dumps({MODELS!r})"),
    "plan-shards": _OUT
    + "model = '{{inputs.parameters.model}}'\n"
    + f"sys.exit(2) if model == {FAILING!r} else None\n"  # a data error: exit 2, not retried
    + _write_param("mode", "'sharded'")
    + _write_param("shards", "json.dumps([0, 1, 2])"),
    "summarize-shard": _OUT + _wrote("'{{inputs.parameters.model}}-{{inputs.parameters.shard}}'", "'s'"),
    "merge-shards": _OUT
    + "m = '{{inputs.parameters.model}}'\n"
    + "shards = sorted(f for f in os.listdir(out) if f.startswith(m + '-'))\n"
    + _wrote("m + '.published'", "json.dumps(shards)"),
    "drift-check": "import sys\nsys.exit(1)\n",  # a Parquet plan never takes the one-pod branch
}


def _cheap() -> dict[str, Any]:
    doc = yaml.safe_load(TEMPLATE.read_text())
    leaves = {t["name"]: t for t in doc["spec"]["templates"] if "script" in t}
    assert set(leaves) == set(STANDINS)  # the template has exactly these steps
    for name, source in STANDINS.items():
        script = leaves[name]["script"]
        script["source"], script["args"] = source, []
        script["env"] = [*script.get("env", []), {"name": "FANOUT_OUT", "value": OUT}]
        script["volumeMounts"] = [*script.get("volumeMounts", []), {"name": "fanout-out", "mountPath": OUT}]
    claim = {"metadata": {"name": "fanout-out"}, "spec": {"accessModes": ["ReadWriteOnce"]}}
    doc["spec"]["volumeClaimTemplates"] = [*doc["spec"].get("volumeClaimTemplates", []), claim]
    return dict(doc)


def _written(result: Any) -> dict[str, str]:
    """The files the stand-ins wrote (name → content), from what their pods printed."""
    lines = [line for n in result.nodes if n.type == "Pod" and n.result for line in n.result.splitlines()]
    return {w[1]: w[2] for w in (line.split(" ", 2) for line in lines) if w[0] == "wrote"}


def test_forty_models_one_failing_the_other_39_publish(tmp_path: Path) -> None:
    settings = SimpleNamespace(data_dir=tmp_path / "data")

    result = run_workflow(_cheap(), {"current": "s3://bucket/window/"}, settings)

    assert result.phase == "Failed"  # the run reports the failed model ...
    written = _written(result)
    published = sorted(f.removesuffix(".published") for f in written if f.endswith(".published"))
    assert published == [m for m in MODELS if m != FAILING]  # ... and the other 39 were checked
    for model in published:
        assert json.loads(written[f"{model}.published"]) == [f"{model}-{i}" for i in range(3)]
    branches = [n for n in result.nodes if n.template_name == "check-model" and n.type == "DAG"]
    assert len(branches) == 40
    assert [n.phase for n in branches if n.phase != "Succeeded"] == ["Failed"]
    assert next(n for n in branches if n.phase == "Failed").display_name == f"check(13:{FAILING})"
    # the branches ran side by side, at most MODELS_AT_ONCE at a time
    edges = sorted([(n.started, 1) for n in branches] + [(n.finished, -1) for n in branches])
    running, peak = 0, 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    assert 1 < peak <= MODELS_AT_ONCE


def test_a_window_checked_in_one_pod_skips_the_shards(tmp_path: Path) -> None:
    doc = _cheap()
    plan = next(t for t in doc["spec"]["templates"] if t["name"] == "plan-shards")
    plan["script"]["source"] = _OUT + _write_param("mode", "'single'") + _write_param("shards", "'[]'")
    check = next(t for t in doc["spec"]["templates"] if t["name"] == "drift-check")
    check["script"]["source"] = _OUT + _wrote("'{{inputs.parameters.model}}.checked'", "''")
    models = next(t for t in doc["spec"]["templates"] if t["name"] == "list-models")
    models["script"]["source"] = _OUT + _write_param("models", "json.dumps(['{{inputs.parameters.model}}'])")

    result = run_workflow(doc, {"model": "credit"}, SimpleNamespace(data_dir=tmp_path / "data"))

    assert result.phase == "Succeeded", [(n.name, n.phase, n.message) for n in result.nodes]
    assert sorted(_written(result)) == ["credit.checked"]
    phases = {n.display_name: n.phase for n in result.nodes}
    assert phases["drift-check"] == "Succeeded"
    assert phases["merge"] == "Skipped"


def test_plan_keeps_an_inference_log_or_csv_window_in_one_pod(tmp_path: Path) -> None:
    from workflows.steps.monitor_shards import plan

    settings: Any = None  # neither window touches the store
    (tmp_path / "w.csv").write_text("a\n1\n")
    for current in ("kafka", "kafka://driftloop.inference", str(tmp_path / "w.csv")):
        assert plan(settings, "credit", current, "", "run-1") == {"mode": "single", "shards": []}


def test_plan_refuses_a_shard_count_that_is_not_a_positive_number(tmp_path: Path) -> None:
    import pandas as pd
    import pytest

    from driftloop.errors import UsageError
    from workflows.steps.monitor_shards import plan

    window = tmp_path / "w.parquet"
    pd.DataFrame({"a": [1.0, 2.0]}).to_parquet(window)
    for bad in ("0", "x", "-2"):
        with pytest.raises(UsageError, match=f"shards={bad!r} is not a positive number"):
            plan(None, "credit", str(window), bad, "run-1")  # type: ignore[arg-type]
