"""The executor reads and writes inside a run's sandbox only (no cluster, no S3: an in-memory artifact store).

* an output artifact or parameter that is a symlink out of the sandbox (``/etc/passwd``) uploads or reads
  nothing from the host — ``archive: none`` files and directory artifacts alike;
* a path or ``subPath`` with ``..`` is refused, naming the field;
* a Workflow name that is not an RFC 1123 subdomain (``../../x``) is refused before anything is written;
* a run's copy of the settings (secrets included) is gone when it ends.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from driftloop.config import load_settings
from driftloop.errors import UsageError, WorkflowError
from driftloop.local.executor import load_run
from driftloop.local.runs import run_local
from tests.unit.executor_helpers import MemoryStore, sh, workflow

SECRET = Path("/etc/passwd")


def _run(tmp_path: Path, wf: dict[str, Any], store: MemoryStore | None = None) -> Any:
    settings = load_settings(env={}, overrides={"data_dir": str(tmp_path / "data")})
    return run_local(wf, None, settings, artifact_store=store or MemoryStore())


def _leaked(store: MemoryStore) -> list[str]:
    host = SECRET.read_bytes()
    return [k for k, v in store.objects.items() if host[:64] in v]


@pytest.mark.parametrize(
    "archive",
    [{"none": {}}, None],
    ids=["archive-none", "tarball"],
)
def test_a_symlinked_output_file_uploads_nothing_from_the_host(tmp_path: Path, archive: Any) -> None:
    art: dict[str, Any] = {"name": "out", "path": "/tmp/out.txt"}
    if archive is not None:
        art["archive"] = archive
    store = MemoryStore()
    result = _run(
        tmp_path,
        workflow([sh("main", f"ln -s {SECRET} /tmp/out.txt", outputs={"artifacts": [art]})]),
        store,
    )
    assert _leaked(store) == []
    if archive is not None:  # a file that is not the step's own is refused, naming the artifact
        assert result.phase == "Error" and "leads out of the pod's sandbox" in result.node("t").message


def test_a_symlink_inside_a_directory_artifact_uploads_nothing_from_the_host(tmp_path: Path) -> None:
    art = {"name": "dir", "path": "/tmp/outdir", "archive": {"none": {}}}
    cmd = f"mkdir -p /tmp/outdir && echo mine > /tmp/outdir/a.txt && ln -s {SECRET} /tmp/outdir/b.txt"
    store = MemoryStore()
    result = _run(tmp_path, workflow([sh("main", cmd, outputs={"artifacts": [art]})]), store)
    assert _leaked(store) == []
    assert result.phase == "Error" and "b.txt leads out of the pod's sandbox" in result.node("t").message


def test_a_symlinked_output_parameter_reads_nothing_from_the_host(tmp_path: Path) -> None:
    param = {"name": "p", "valueFrom": {"path": "/tmp/p.txt"}}
    result = _run(
        tmp_path, workflow([sh("main", f"ln -s {SECRET} /tmp/p.txt", outputs={"parameters": [param]})])
    )
    assert "p" not in result.node("t").parameters
    assert result.phase == "Error" and "leads out of the pod's sandbox" in result.node("t").message


def test_an_input_path_with_dotdot_is_refused_naming_the_field(tmp_path: Path) -> None:
    inputs = {"artifacts": [{"name": "a", "path": "/../../x.txt", "raw": {"data": "x"}}]}
    result = _run(tmp_path, workflow([sh("main", "true", inputs=inputs)]))
    assert result.phase == "Error"
    assert "inputs.artifacts.a.path" in result.node("t").message and "'..'" in result.node("t").message
    assert not (tmp_path / "x.txt").exists() and not Path("/x.txt").exists()


def test_an_argument_subpath_with_dotdot_is_refused(tmp_path: Path) -> None:
    make = sh(
        "make",
        "mkdir -p /tmp/d && echo x > /tmp/d/x",
        outputs={"artifacts": [{"name": "d", "path": "/tmp/d"}]},
    )
    use = sh("use", "true", inputs={"artifacts": [{"name": "a", "path": "/tmp/a"}]})
    arg = {"name": "a", "from": "{{steps.make.outputs.artifacts.d}}", "subPath": "../../../x"}
    main = {
        "name": "main",
        "steps": [
            [{"name": "make", "template": "make"}],
            [{"name": "use", "template": "use", "arguments": {"artifacts": [arg]}}],
        ],
    }
    result = _run(tmp_path, workflow([main, make, use]))
    assert result.phase == "Failed"
    message = result.node("use").message
    assert "subPath" in message and "'..'" in message


@pytest.mark.parametrize("name", ["../../x", "UPPER", "a/b", "x" * 254])
def test_a_name_that_is_not_rfc_1123_is_refused_before_anything_is_written(tmp_path: Path, name: str) -> None:
    with pytest.raises(WorkflowError, match="is not a valid Workflow name"):
        _run(tmp_path, workflow([sh("main", "true")], name=name))
    assert not (tmp_path / "x").exists()
    assert not (tmp_path / "data" / "runs").exists() or list((tmp_path / "data" / "runs").iterdir()) == []
    with pytest.raises(UsageError, match="is not a valid Workflow name"):
        load_run(tmp_path / "data", name)


def test_the_runs_copy_of_the_settings_is_removed_when_it_ends(tmp_path: Path) -> None:
    token = uuid.uuid4().hex
    cmd = f'test -f "$DRIFTLOOP_CONFIG" && echo {token}'
    result = _run(tmp_path, workflow([sh("main", cmd)], name="secrets"))
    assert result.phase == "Succeeded"
    assert result.nodes[0].result == token  # the step had its settings ...
    assert not (tmp_path / "data" / "runs" / "secrets" / "config.yaml").exists()  # ... gone after the run
