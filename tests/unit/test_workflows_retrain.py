"""The Hera definitions render to what Argo and the manifests checks expect (no field silently dropped)."""

from __future__ import annotations

import pytest
import yaml

from driftloop.config import load_settings
from workflows.cron import build_crons
from workflows.monitor import build_monitor
from workflows.retrain import NAME, PARAMETERS, build_retrain


@pytest.fixture(scope="module")
def settings():
    return load_settings(env={})


@pytest.fixture(scope="module")
def retrain(settings):
    return yaml.safe_load(build_retrain(settings).to_yaml())


def _templates(doc):
    return {t["name"]: t for t in doc["spec"]["templates"]}


def _tasks(doc, dag="retrain"):
    return {t["name"]: t for t in _templates(doc)[dag]["dag"]["tasks"]}


def test_dag_order_and_conditions(retrain):
    tasks = _tasks(retrain)
    assert list(tasks) == [
        "validate-data",
        "preprocess",
        "train",
        "evaluate",
        "deploy-canary",
        "analyze-canary",
        "promote",
        "rollback",
    ]
    deps = {name: t.get("depends") for name, t in tasks.items()}
    assert deps == {
        "validate-data": None,
        "preprocess": "validate-data",
        "train": "preprocess",
        "evaluate": "train",
        "deploy-canary": "evaluate",
        # a bare name would also accept a *Skipped* deploy-canary (rejected gate) and start the analysis
        "analyze-canary": "deploy-canary.Succeeded",
        "promote": "analyze-canary.Succeeded",
        "rollback": "analyze-canary.Succeeded",
    }
    assert tasks["deploy-canary"]["when"] == "{{tasks.evaluate.outputs.parameters.verdict}} == passed"
    assert tasks["promote"]["when"].endswith("== promote") and tasks["rollback"]["when"].endswith(
        "== rollback"
    )
    challenger = tasks["evaluate"]["arguments"]["artifacts"]
    assert challenger == [{"name": "challenger", "from": "{{tasks.train.outputs.artifacts.model}}"}]


def test_workflow_spec_fields(retrain):
    spec = retrain["spec"]
    assert retrain["metadata"]["name"] == NAME
    assert spec["entrypoint"] == "retrain" and spec["onExit"] == "exit-handler"
    assert spec["serviceAccountName"] == "driftloop-workflow"
    assert spec["activeDeadlineSeconds"] == 4 * 3600
    # Argo v4: synchronization.mutexes (a list); the old singular `mutex` is gone from the schema
    assert spec["synchronization"] == {
        "mutexes": [{"name": "driftloop-retrain-{{workflow.parameters.model}}"}]
    }
    meta = spec["workflowMetadata"]
    assert meta["labels"]["app.kubernetes.io/name"] == "driftloop"
    assert meta["labelsFrom"]["driftloop.io/model"] == {"expression": "workflow.parameters.model"}
    assert meta["labelsFrom"]["driftloop.io/reason"] == {"expression": "workflow.parameters.reason"}
    assert {"workflows.argoproj.io/title", "workflows.argoproj.io/description"} <= set(meta["annotations"])
    assert "workflows.argoproj.io/description" in retrain["metadata"]["annotations"]


def test_parameters_form(retrain):
    params = {p["name"]: p for p in retrain["spec"]["arguments"]["parameters"]}
    assert list(params)[:6] == ["model", "reason", "event_id", "report_uri", "dataset_uri", "gate_margin"]
    assert "value" not in params["model"]  # required in the submit form
    assert params["reason"]["enum"] == ["drift", "schedule", "manual"]
    assert params["gate_margin"]["value"] == "0.02" and params["event_id"]["value"] == ""
    assert all(p.get("description") for p in params.values())
    assert len(params) == len(PARAMETERS)


def test_every_pod_template_is_restricted(settings):
    for doc in (
        yaml.safe_load(build_retrain(settings).to_yaml()),
        yaml.safe_load(build_monitor(settings).to_yaml()),
    ):
        pods = [t for t in doc["spec"]["templates"] if "script" in t or "container" in t]
        assert pods
        for t in pods:
            c = t["script"]
            sc = c["securityContext"]
            assert (
                sc["runAsNonRoot"]
                and sc["readOnlyRootFilesystem"]
                and sc["allowPrivilegeEscalation"] is False
            )
            assert sc["capabilities"] == {"drop": ["ALL"]} and sc["seccompProfile"] == {
                "type": "RuntimeDefault"
            }
            assert (
                t["securityContext"]["runAsNonRoot"]
                and t["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
            )
            assert set(c["resources"]) == {"requests", "limits"}, t["name"]
            assert {"cpu", "memory"} <= set(c["resources"]["limits"])
            mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
            volumes = {v["name"]: v for v in t["volumes"]}
            assert "emptyDir" in volumes[mounts["/tmp"]], t["name"]
            assert volumes[mounts["/etc/driftloop"]]["configMap"]["name"] == "driftloop-config"
            assert c["image"] == "ghcr.io/driftloop/driftloop:0.1.0"
            assert c["args"][:2] == ["-m", "hera.workflows.runner"] and c["source"] == "{{inputs.parameters}}"
            assert t["activeDeadlineSeconds"]


def test_io_steps_retry_with_backoff(retrain):
    templates = _templates(retrain)
    for name in ("validate-data", "preprocess", "evaluate", "deploy-canary", "publish-outcome"):
        rs = templates[name]["retryStrategy"]
        assert rs["limit"] == "3" and rs["backoff"] == {"duration": "10s", "factor": "2", "cap": "2m"}, name
    assert "retryStrategy" not in templates["train"]  # CPU-bound and deterministic: a retry would not help


def test_outputs_are_artifacts_in_the_default_repository(retrain):
    templates = _templates(retrain)
    arts = {a["name"]: a for a in templates["evaluate"]["outputs"]["artifacts"]}
    assert set(arts) == {"metrics", "reference-profile"} and arts["reference-profile"]["optional"] is True
    assert all("s3" not in a and a["archive"] == {"none": {}} for a in arts.values())
    assert templates["train"]["outputs"]["artifacts"][0]["name"] == "model"
    assert {p["name"] for p in templates["evaluate"]["outputs"]["parameters"]} >= {"verdict", "version"}


def test_exit_handler_publishes_with_workflow_status(retrain):
    task = _tasks(retrain, "exit-handler")["publish-outcome"]
    args = {p["name"]: p["value"] for p in task["arguments"]["parameters"]}
    assert args["status"] == "{{workflow.status}}" and args["workflow_uid"] == "{{workflow.uid}}"


def test_first_task_seam(settings):
    from hera.workflows import Container

    def extra():
        Container(name="admit", image="busybox", command=["true"])

    def first():
        from hera.workflows import Task

        return Task(name="admission", template="admit")

    doc = yaml.safe_load(build_retrain(settings, first_task=first, extra_templates=extra).to_yaml())
    tasks = _tasks(doc)
    assert next(iter(tasks)) == "admission" and tasks["validate-data"]["depends"] == "admission.Succeeded"


def test_crons_refer_to_templates(settings):
    crons = {c.name: yaml.safe_load(c.to_yaml()) for c in build_crons(settings)}
    weekly, hourly = crons["driftloop-retrain-weekly"]["spec"], crons["driftloop-monitor-hourly"]["spec"]
    assert weekly["schedules"] == ["0 3 * * 1"] and "schedule" not in weekly
    assert weekly["workflowSpec"]["workflowTemplateRef"] == {"name": "driftloop-retrain"}
    assert {"name": "reason", "value": "schedule"} in weekly["workflowSpec"]["arguments"]["parameters"]
    assert hourly["workflowSpec"]["workflowTemplateRef"] == {"name": "driftloop-monitor"}
    for spec in (weekly, hourly):
        assert spec["concurrencyPolicy"] == "Forbid" and spec["timezone"] == "UTC"
        assert spec["startingDeadlineSeconds"] > 0
        assert spec["successfulJobsHistoryLimit"] == 3 and spec["failedJobsHistoryLimit"] == 5


def test_one_weekly_retrain_per_model():
    names = [c.name for c in build_crons(load_settings(env={}, overrides={"models": "credit,churn"}))]
    assert names == ["driftloop-retrain-weekly", "driftloop-retrain-weekly-churn", "driftloop-monitor-hourly"]


def test_rendering_is_deterministic(settings):
    assert build_retrain(settings).to_yaml() == build_retrain(settings).to_yaml()
    custom = load_settings(env={}, overrides={"argo.service_account": "other-sa"})
    assert yaml.safe_load(build_retrain(custom).to_yaml())["spec"]["serviceAccountName"] == "other-sa"
