"""The README's command blocks, run verbatim (see :mod:`tests.e2e.readme`).

* Every ```bash block is run by a test here (or by test_demo.py), or named in ``NOT_RUN_HERE`` with the
  place it is checked instead.
* "Bring your own model": the block as printed, from an empty directory, with the default settings
  (relative ``data_dir``, no ``--set``): the retrain makes champion v1, ``compile`` writes the model's
  template.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from driftloop.validation import validate_documents
from tests.e2e.readme import NOT_RUN_HERE, Shell, bash_blocks, block
from tests.policy import check

pytestmark = pytest.mark.e2e

#: Blocks run line by line by a test, by (section, first command).
RUN_HERE = {
    ("Bring your own model", "driftloop init demand --task regression"): "test_bring_your_own_model",
    ("Quick start", ".venv/bin/driftloop --set data_dir=.driftloop/demo/credit up --services-only"): (
        "test_demo.py::test_demo_closes_the_loop"
    ),
}


def _named(table: dict[tuple[str, str], str], section: str, first: str) -> bool:
    return any(sec == section and first.startswith(start) for sec, start in table)


def test_every_block_is_run_or_says_where_it_is_checked() -> None:
    blocks = bash_blocks()
    unknown = [
        (b.section, b.first)
        for b in blocks
        if not _named(RUN_HERE, b.section, b.first) and not _named(NOT_RUN_HERE, b.section, b.first)
    ]
    assert not unknown, f"README blocks no test runs (add a test, or a reason to NOT_RUN_HERE): {unknown}"
    gone = [
        k for k in (*RUN_HERE, *NOT_RUN_HERE) if not any(_named({k: ""}, b.section, b.first) for b in blocks)
    ]
    assert not gone, f"blocks named here but not in the README any more: {gone}"


@pytest.mark.timeout(900)
def test_bring_your_own_model(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    shell = Shell.for_user(project, tmp_path / "ports")
    lines = block("Bring your own model", "driftloop init").lines
    try:
        outputs = {}
        for line in lines:
            outputs[line.split("#")[0].strip()] = shell.run(line)
    finally:
        shell.stop()
    run = json.loads(outputs["driftloop retrain demand --json"].stdout)
    assert run["phase"] == "Succeeded" and run["outcome"] == "first-version", run.get("reason")
    assert run["champion_before"] is None and run["champion_after"] == "v1"
    shown = outputs["driftloop registry show demand champion"]
    assert "v1" in shown.stdout and "mae" in shown.stdout
    # everything stayed in the project directory: state under ./.driftloop, YAML under ./manifests
    assert (project / ".driftloop" / "runs").is_dir()
    generated = project / "manifests" / "base" / "generated"
    assert (generated / "workflows" / "driftloop-retrain-demand.yaml").is_file()
    assert (generated / "sensors" / "sensor.yaml").is_file()


def test_byom_directory_builds_for_a_cluster(tmp_path: Path) -> None:
    """The "From this directory to a cluster" block, without docker and the cluster: in a fresh `init`
    directory, its `compile` and `kubectl kustomize` lines verbatim give a complete install — the namespace,
    the ConfigMap and ServiceAccounts the generated templates reference, the model's template running the
    user's image — that passes the strict schema check and the pod policy."""
    shell = Shell.for_user(tmp_path, tmp_path / "ports")
    shell.run("driftloop init demand --task regression")
    lines = block("Bring your own model", "docker build").lines
    compiled = shell.run(next(line for line in lines if " compile" in line))
    assert "yours to edit" in compiled.stdout and "warning" not in compiled.stderr
    built = shell.run(next(line for line in lines if line.startswith("kubectl kustomize")))
    docs = [d for d in yaml.safe_load_all(built.stdout) if d]
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for needed in [
        ("Namespace", "driftloop"),
        ("ConfigMap", "driftloop-config"),
        ("ServiceAccount", "driftloop-workflow"),
        ("WorkflowTemplate", "driftloop-retrain-demand"),
        ("Sensor", "driftloop-drift"),
    ]:
        assert needed in kinds, f"{needed} is not in the build of a BYOM directory"
    assert not any(k == "WorkflowTemplate" and n.endswith("-credit") for k, n in kinds)  # no example model
    template = next(d for d in docs if d["metadata"]["name"] == "driftloop-retrain-demand")
    train = next(t for t in template["spec"]["templates"] if t["name"] == "train")
    image = train["script" if "script" in train else "container"]["image"]
    assert image == "registry.example.com/demand:0.1.0"
    # everything in namespace driftloop but Argo's controller settings (manifests/components/argo-controller)
    outside = {(d["kind"], d["metadata"]["name"]) for d in docs if d["metadata"].get("namespace") == "argo"}
    assert outside == {("ConfigMap", "workflow-controller-configmap")}
    namespaced = [d for d in docs if d["kind"] != "Namespace" and d["metadata"].get("namespace") != "argo"]
    assert {d["metadata"].get("namespace") for d in namespaced} == {"driftloop"}
    report = validate_documents(docs, "byom/overlays/local-cluster")
    assert report.ok, report.errors[:3]
    assert not check(docs), check(docs)[:3]
    # a second compile keeps the user's edits of the scaffolded files
    overlay = tmp_path / "manifests" / "overlays" / "local-cluster" / "kustomization.yaml"
    overlay.write_text(overlay.read_text().replace("kafka.kafka.svc.cluster.local", "my-kafka.example"))
    again = shell.run("driftloop --set models.demand.image=registry.example.com/demand:0.1.0 compile --check")
    assert "is up to date" in " ".join(again.stdout.split())
    assert "my-kafka.example" in overlay.read_text()
