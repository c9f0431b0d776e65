"""Artifact round trip through the real embedded S3 with the keys Argo would use."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from driftloop.local.runs import run_local
from driftloop.s3 import S3Store

pytestmark = pytest.mark.integration


def test_output_artifact_is_stored_under_argo_key_and_read_back(settings_for, bucket, tmp_path: Path) -> None:
    settings = settings_for(s3__bucket=bucket, data_dir=str(tmp_path / "data"))
    make = {
        "name": "make",
        "container": {
            "image": "alpine",
            "command": ["sh", "-c"],
            "args": ["echo model-bytes > /tmp/model.bin"],
        },
        "outputs": {
            "artifacts": [
                {"name": "model", "path": "/tmp/model.bin"},
                {"name": "raw", "path": "/tmp/model.bin", "archive": {"none": {}}},
            ]
        },
    }
    use = {
        "name": "use",
        "inputs": {"artifacts": [{"name": "model", "path": "/work/model.bin"}]},
        "container": {"image": "alpine", "command": ["cat", "/work/model.bin"]},
    }
    main = {
        "name": "main",
        "dag": {
            "tasks": [
                {"name": "make", "template": "make"},
                {
                    "name": "use",
                    "depends": "make",
                    "template": "use",
                    "arguments": {
                        "artifacts": [{"name": "model", "from": "{{tasks.make.outputs.artifacts.model}}"}]
                    },
                },
            ]
        },
    }
    doc = {
        "kind": "Workflow",
        "metadata": {"name": "art-rt"},
        "spec": {"entrypoint": "main", "templates": [main, make, use]},
    }
    result = run_local(doc, {}, settings)
    assert result.phase == "Succeeded", result.to_json()
    pod = result.node("make").pod_name
    store = S3Store(settings)
    keys = store.list("art-rt/")
    assert sorted(keys) == [f"art-rt/{pod}/model.bin", f"art-rt/{pod}/model.tgz"]
    with tarfile.open(fileobj=io.BytesIO(store.get_bytes(f"art-rt/{pod}/model.tgz")), mode="r:gz") as tar:
        assert tar.getnames() == ["model.bin"]
    assert store.get_bytes(f"art-rt/{pod}/model.bin") == b"model-bytes\n"
    assert result.node("use").result == "model-bytes"
