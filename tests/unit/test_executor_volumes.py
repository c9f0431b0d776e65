"""Volumes are emulated inside the run's sandbox — a workflow never writes to the host path it names —
or refused with the field named (sources that need a cluster)."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from driftloop.config import load_settings
from driftloop.errors import WorkflowError
from driftloop.local.executor import run_workflow


def _run(tmp_path: Path, spec: dict[str, Any]) -> Any:
    wf = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "v"}, "spec": spec}
    return run_workflow(wf, None, load_settings(env={}, overrides={"data_dir": str(tmp_path / "data")}))


def test_a_claim_is_shared_by_the_runs_steps_and_the_host_path_is_never_written(tmp_path: Path) -> None:
    mount = f"/mnt/driftloop-test-{uuid.uuid4().hex[:8]}"
    write = f"import os; os.makedirs('{mount}/sub', exist_ok=True); "
    write += f"open('{mount}/sub/a.txt', 'w').write('shared')"
    read = f"print(open('{mount}/sub/a.txt').read())"
    result = _run(
        tmp_path,
        {
            "entrypoint": "main",
            "volumeClaimTemplates": [
                {"metadata": {"name": "work"}, "spec": {"accessModes": ["ReadWriteOnce"]}}
            ],
            "templates": [
                {
                    "name": "main",
                    "steps": [
                        [{"name": "write", "template": "write"}],
                        [{"name": "read", "template": "read"}],
                    ],
                },
                {
                    "name": "write",
                    "container": {
                        "image": "x",
                        "command": [sys.executable, "-c", write],
                        "volumeMounts": [{"name": "work", "mountPath": mount}],
                    },
                },
                {
                    "name": "read",
                    "container": {
                        "image": "x",
                        "command": [sys.executable, "-c", read],
                        "volumeMounts": [{"name": "work", "mountPath": mount}],
                    },
                    "outputs": {
                        "parameters": [{"name": "seen", "valueFrom": {"path": f"{mount}/sub/a.txt"}}]
                    },
                },
            ],
        },
    )
    assert result.phase == "Succeeded", result.message
    assert result.node("read").result == "shared" and result.node("read").parameters == {"seen": "shared"}
    assert not Path(mount).exists()  # the host path was never touched


def test_an_empty_dir_is_per_pod(tmp_path: Path) -> None:
    mount = f"/scratch-{uuid.uuid4().hex[:8]}"
    code = f"import os; print(len(os.listdir('{mount}'))); open('{mount}/x', 'w').write('1')"
    pod = {
        "image": "x",
        "command": [sys.executable, "-c", code],
        "volumeMounts": [{"name": "s", "mountPath": mount}],
    }
    result = _run(
        tmp_path,
        {
            "entrypoint": "main",
            "volumes": [{"name": "s", "emptyDir": {}}],
            "templates": [
                {
                    "name": "main",
                    "steps": [[{"name": "a", "template": "p"}], [{"name": "b", "template": "p"}]],
                },
                {"name": "p", "container": pod},
            ],
        },
    )
    assert result.phase == "Succeeded", result.message
    assert result.node("a").result == "0" and result.node("b").result == "0"  # b starts with an empty dir
    assert not Path(mount).exists()


@pytest.mark.parametrize(
    ("volume", "field"),
    [
        ({"name": "h", "hostPath": {"path": "/var/run/docker.sock"}}, "spec.volumes[0].hostPath"),
        ({"name": "c", "configMap": {"name": "cfg"}}, "spec.volumes[0].configMap"),
        ({"name": "n", "nfs": {"server": "x", "path": "/"}}, "spec.volumes[0].nfs"),
    ],
)
def test_volumes_that_need_a_cluster_are_refused_naming_the_field(tmp_path: Path, volume, field) -> None:
    spec = {
        "entrypoint": "main",
        "volumes": [volume],
        "templates": [{"name": "main", "container": {"image": "x", "command": ["true"]}}],
    }
    with pytest.raises(WorkflowError, match=field.replace("[", r"\[").replace("]", r"\]")):
        _run(tmp_path, spec)


def test_an_optional_config_map_is_an_empty_directory_and_an_undeclared_mount_is_refused(
    tmp_path: Path,
) -> None:
    code = "import os; print(os.listdir('/etc/app'))"
    ok = _run(
        tmp_path,
        {
            "entrypoint": "main",
            "templates": [
                {
                    "name": "main",
                    "volumes": [{"name": "cfg", "configMap": {"name": "app", "optional": True}}],
                    "container": {
                        "image": "x",
                        "command": [sys.executable, "-c", code],
                        "volumeMounts": [{"name": "cfg", "mountPath": "/etc/app"}],
                    },
                }
            ],
        },
    )
    assert ok.phase == "Succeeded" and ok.node("v").result == "[]"
    with pytest.raises(WorkflowError, match="mounts 'ghost', which no volume declares"):
        _run(
            tmp_path,
            {
                "entrypoint": "main",
                "templates": [
                    {
                        "name": "main",
                        "container": {
                            "image": "x",
                            "command": ["true"],
                            "volumeMounts": [{"name": "ghost", "mountPath": "/g"}],
                        },
                    }
                ],
            },
        )
