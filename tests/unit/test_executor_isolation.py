"""Each pod runs in its own mount namespace (issue 21, item 2): it sees the paths Argo would give it, and
nothing it writes reaches the host — checked on the host after the run. Commands build their paths at run
time here on purpose (``$d/...``): the old text rewriting could only redirect a path written literally.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from driftloop.config import load_settings
from driftloop.errors import WorkflowError
from driftloop.local.executor import isolation, run_workflow
from tests.unit.executor_helpers import MemoryStore, sh, workflow

pytestmark = pytest.mark.skipif(
    isolation.unavailable() is not None, reason=f"no isolation here: {isolation.unavailable()}"
)


def _run(tmp_path: Path, wf: dict[str, Any]) -> Any:
    settings = load_settings(env={}, overrides={"data_dir": str(tmp_path / "data")})
    return run_workflow(wf, None, settings, artifact_store=MemoryStore())


def _param(name: str, path: str) -> dict[str, Any]:
    return {"parameters": [{"name": name, "valueFrom": {"path": path}}]}


def test_a_step_that_makes_the_directory_of_its_output_parameter_succeeds(tmp_path: Path) -> None:
    cmd = "mkdir -p /tmp/case4 && printf x > /tmp/case4/word.txt"
    result = _run(tmp_path, workflow([sh("main", cmd, outputs=_param("word", "/tmp/case4/word.txt"))]))
    assert result.phase == "Succeeded", result.nodes[0].message
    assert result.nodes[0].parameters == {"word": "x"}


@pytest.mark.parametrize("base", ["/mnt", "/tmp"])
def test_an_empty_dir_at_an_absolute_path_is_the_pods_own(tmp_path: Path, base: str) -> None:
    mount = f"{base}/scratch-{uuid.uuid4().hex[:8]}"
    # the path is built at run time (`"/mn""t/..."` is /mnt/... to the shell), as a program computes it
    cmd = f'd="{mount[:3]}""{mount[3:]}"; echo mine > "$d/f.txt" && ls "$d"'
    tmpl = sh("main", cmd, outputs=_param("f", f"{mount}/f.txt"))
    tmpl["container"]["volumeMounts"] = [{"name": "scratch", "mountPath": mount}]
    wf = workflow([tmpl], volumes=[{"name": "scratch", "emptyDir": {}}])
    result = _run(tmp_path, wf)
    assert result.phase == "Succeeded", result.nodes[0].message
    assert result.nodes[0].parameters == {"f": "mine"} and result.nodes[0].result == "f.txt"
    assert not os.path.lexists(mount)


def test_a_step_cannot_write_outside_its_sandbox_with_an_absolute_path(tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:12]
    home = Path.home()
    targets = [Path(f"/var/tmp/escape-{tag}"), home / f"escape-{tag}", tmp_path / f"escape-{tag}"]
    cmd = "; ".join(f'p={t.parent}; echo out > "$p/{t.name}"' for t in targets) + "; true"
    result = _run(tmp_path, workflow([sh("main", cmd)]))
    assert result.phase == "Succeeded", result.nodes[0].message
    assert [t for t in targets if os.path.lexists(t)] == []


def test_a_declared_output_under_a_host_directory_is_private(tmp_path: Path) -> None:
    path = f"/var/tmp/driftloop-out-{uuid.uuid4().hex[:8]}.txt"
    cmd = f"test ! -e {path} && ls /var/tmp | wc -l && p=/var/tmp; echo private > $p/{os.path.basename(path)}"
    result = _run(tmp_path, workflow([sh("main", cmd, outputs=_param("p", path))]))
    assert result.phase == "Succeeded", result.nodes[0].message
    assert result.nodes[0].parameters == {"p": "private"}
    assert result.nodes[0].result.splitlines()[0] == "0"  # the host's /var/tmp is not visible either
    assert not os.path.lexists(path)


def test_the_host_is_read_only_but_visible(tmp_path: Path) -> None:
    probe = f"/etc/driftloop-probe-{uuid.uuid4().hex[:8]}"
    cmd = f"test -r /etc/passwd && touch {probe}; echo $?"
    result = _run(tmp_path, workflow([sh("main", cmd)]))
    assert result.phase == "Succeeded" and result.nodes[0].result == "1"
    assert not os.path.lexists(probe)


def test_two_pods_never_share_tmp(tmp_path: Path) -> None:
    write = sh("write", "echo one > /tmp/shared.txt")
    read = sh("read", "cat /tmp/shared.txt 2>/dev/null || echo absent")
    steps = {
        "name": "main",
        "steps": [[{"name": "w", "template": "write"}], [{"name": "r", "template": "read"}]],
    }
    result = _run(tmp_path, workflow([steps, write, read]))
    assert result.phase == "Succeeded"
    assert result.node("r").result == "absent"


def test_without_isolation_a_declared_path_is_refused_naming_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(isolation, "unavailable", lambda: "bubblewrap (`bwrap`) is not installed")
    bare = sh("bare", "echo hi")
    with_output = sh("out", "echo x > /tmp/o", outputs=_param("o", "/tmp/o"))
    with pytest.raises(WorkflowError) as refused:
        _run(tmp_path, workflow([bare, with_output], entry="bare"))
    assert "spec.templates[1].outputs.parameters[0].valueFrom.path" in refused.value.message
    assert "make sandbox" in (refused.value.hint or "")
    result = _run(tmp_path, workflow([bare], entry="bare"))  # nothing declared: it runs, in its directory
    assert result.phase == "Succeeded" and result.nodes[0].result == "hi"


def test_a_link_one_pod_leaves_on_a_claim_never_leads_the_next_out_of_the_sandbox(tmp_path: Path) -> None:
    """A pod cannot plant a link on a shared volume that makes the executor bind or write a host path for a
    later pod: a subPath or an input artifact path that is a link out of the sandbox is refused."""
    victim = tmp_path / "victim"
    victim.mkdir()
    plant = sh("plant", f"ln -s {victim} /vol/out && ln -s {victim}/f.txt /vol/f.txt")
    by_sub = sh("by-sub", "echo pwned > /mnt/x/f.txt")
    by_input = sh(
        "by-input",
        "true",
        inputs={"artifacts": [{"name": "a", "path": "/vol/f.txt", "raw": {"data": "pwned"}}]},
    )
    for tmpl, sub in ((plant, None), (by_sub, "out"), (by_input, None)):
        mount: dict[str, Any] = {"name": "work", "mountPath": "/mnt/x" if sub else "/vol"}
        if sub:
            mount["subPath"] = sub
        tmpl["container"]["volumeMounts"] = [mount]
    steps = {
        "name": "main",
        "steps": [
            [{"name": "p", "template": "plant"}],
            [{"name": "s", "template": "by-sub"}, {"name": "i", "template": "by-input"}],
        ],
    }
    claim = [{"metadata": {"name": "work"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]
    result = _run(tmp_path, workflow([steps, plant, by_sub, by_input], volumeClaimTemplates=claim))
    assert result.node("p").phase == "Succeeded"
    assert "leads out of" in result.node("s").message and "leads out of" in result.node("i").message
    assert list(victim.iterdir()) == []
