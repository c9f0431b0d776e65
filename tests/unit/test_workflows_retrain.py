"""The Hera definitions render to what Argo and the manifests checks expect (no field silently dropped)."""

from __future__ import annotations

import itertools

import pytest
import yaml

from driftloop.config import load_settings
from driftloop.contracts import REASONS
from driftloop.modelspec import example_spec
from workflows.cron import build_crons
from workflows.monitor import build_monitor
from workflows.retrain import build_retrain, parameters


@pytest.fixture(scope="module")
def settings():
    return load_settings(env={})


@pytest.fixture(scope="module")
def retrain(settings):
    return yaml.safe_load(build_retrain(settings, "credit").to_yaml())


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
        "register",
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
        "register": "evaluate",
        "deploy-canary": "register",
        # a bare name would also accept a *Skipped* deploy-canary (rejected gate) and start the analysis
        "analyze-canary": "deploy-canary.Succeeded",
        "promote": "analyze-canary.Succeeded",
        "rollback": "analyze-canary.Succeeded",
    }
    # the recomputed gate of register decides, never evaluate's own verdict
    assert tasks["deploy-canary"]["when"] == "{{tasks.register.outputs.parameters.verdict}} == passed"
    assert tasks["promote"]["when"].endswith("== promote") and tasks["rollback"]["when"].endswith(
        "== rollback"
    )
    challenger = tasks["evaluate"]["arguments"]["artifacts"]
    assert challenger == [{"name": "challenger", "from": "{{tasks.train.outputs.artifacts.model}}"}]
    assert tasks["register"]["arguments"]["artifacts"] == [
        {"name": "challenger", "from": "{{tasks.train.outputs.artifacts.model}}"},
        {"name": "scores", "from": "{{tasks.evaluate.outputs.artifacts.metrics}}"},
        {"name": "estimator", "from": "{{tasks.evaluate.outputs.artifacts.estimator}}"},
    ]
    params = {p["name"]: p["value"] for p in tasks["register"]["arguments"]["parameters"]}
    assert params["model_sha256"] == "{{tasks.train.outputs.parameters.model_sha256}}"
    assert params["gate_margin"] == "{{workflow.parameters.gate_margin}}"  # the run's, not evaluate's


def test_workflow_spec_fields(retrain):
    spec = retrain["spec"]
    assert retrain["metadata"]["name"] == "driftloop-retrain-credit"
    assert spec["entrypoint"] == "retrain" and spec["onExit"] == "exit-handler"
    assert spec["serviceAccountName"] == "driftloop-workflow"
    assert spec["activeDeadlineSeconds"] == 4 * 3600
    # Argo v4: synchronization.mutexes (a list); the old singular `mutex` is gone from the schema
    assert spec["synchronization"] == {"mutexes": [{"name": "driftloop-retrain-credit"}]}
    meta = spec["workflowMetadata"]
    assert meta["labels"]["app.kubernetes.io/name"] == "driftloop"
    assert meta["labels"]["driftloop.io/model"] == "credit"
    assert meta["labelsFrom"]["driftloop.io/reason"] == {"expression": "workflow.parameters.reason"}
    assert {"workflows.argoproj.io/title", "workflows.argoproj.io/description"} <= set(meta["annotations"])
    assert "workflows.argoproj.io/description" in retrain["metadata"]["annotations"]


def test_parameters_form(retrain, settings):
    params = {p["name"]: p for p in retrain["spec"]["arguments"]["parameters"]}
    assert list(params)[:5] == ["model", "reason", "event_id", "report_uri", "dataset_uri"]
    assert params["model"]["value"] == "credit" and params["model"]["enum"] == ["credit"]
    assert params["reason"]["enum"][:3] == ["drift", "schedule", "manual"]
    assert params["reason"]["enum"] == list(REASONS)
    assert params["gate_margin"]["value"] == "0.02" and params["event_id"]["value"] == ""
    assert params["primary_metric"]["value"] == "roc_auc"
    assert params["primary_metric"]["enum"] == ["roc_auc", "accuracy", "f1", "log_loss"]
    assert all(p.get("description") for p in params.values())
    assert len(params) == len(parameters("credit", settings.model("credit"), settings))


def test_spec_values_reach_the_steps_and_user_code_steps_get_the_model_image():
    settings = load_settings(
        env={},
        overrides={
            "models": {
                "demand": {
                    "task": "regression",
                    "target": "units",
                    "trainer": "demand_model:train",
                    "image": "registry.example.com/demand:1.4",
                    "resources": {"cpu": "3", "memory": "6Gi", "cpu_limit": "4", "memory_limit": "8Gi"},
                    "params": {"alpha": 0.5},
                    "metrics": {"primary": "rmse", "gate_margin": 1.5},
                }
            }
        },
    )
    doc = yaml.safe_load(build_retrain(settings, "demand").to_yaml())
    templates = _templates(doc)
    for name in ("preprocess", "train", "evaluate"):
        script = templates[name]["script"]
        assert script["image"] == "registry.example.com/demand:1.4", name
        assert script["resources"]["requests"] == {"cpu": "3", "memory": "6Gi"}, name
    for name in ("validate-data", "register", "deploy-canary", "publish-outcome"):
        assert templates[name]["script"]["image"] == "ghcr.io/driftloop/driftloop:0.1.0", name
    args = {p["name"]: p["value"] for p in _tasks(doc)["train"]["arguments"]["parameters"]}
    assert args["trainer"] == "demand_model:train" and args["task"] == "regression"
    assert args["base_params"] == '{"alpha": 0.5}' and args["params"] == "{{workflow.parameters.params}}"
    params = {p["name"]: p for p in doc["spec"]["arguments"]["parameters"]}
    assert params["primary_metric"]["value"] == "rmse" and params["gate_margin"]["value"] == "1.5"
    evaluate = {p["name"]: p["value"] for p in _tasks(doc)["evaluate"]["arguments"]["parameters"]}
    assert evaluate["min_score"] == ""  # regression: no first-model bar unless set


def test_every_pod_template_is_restricted(settings):
    for doc in (
        yaml.safe_load(build_retrain(settings, "credit").to_yaml()),
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
    for name in ("validate-data", "preprocess", "evaluate", "register", "deploy-canary", "publish-outcome"):
        rs = templates[name]["retryStrategy"]
        # no backoff.cap: Argo 3.6 does not have it
        assert rs["limit"] == "3" and rs["backoff"] == {"duration": "10s", "factor": "2"}, name
        assert rs["expression"] == "asInt(lastRetry.exitCode) != 2", name  # a configuration error: no retry
    assert "retryStrategy" not in templates["train"]  # CPU-bound and deterministic: a retry would not help


def test_outputs_are_artifacts_in_the_default_repository(retrain):
    templates = _templates(retrain)
    arts = {a["name"]: a for a in templates["evaluate"]["outputs"]["artifacts"]}
    assert set(arts) == {"metrics", "estimator"}
    registered = {a["name"]: a for a in templates["register"]["outputs"]["artifacts"]}
    assert set(registered) == {"registration", "reference-profile"}
    assert registered["reference-profile"]["optional"] is True
    assert all("s3" not in a and a["archive"] == {"none": {}} for a in [*arts.values(), *registered.values()])
    assert templates["train"]["outputs"]["artifacts"][0]["name"] == "model"
    assert {p["name"] for p in templates["register"]["outputs"]["parameters"]} >= {"verdict", "version"}


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

    doc = yaml.safe_load(build_retrain(settings, "credit", first_task=first, extra_templates=extra).to_yaml())
    tasks = _tasks(doc)
    assert next(iter(tasks)) == "admission" and tasks["validate-data"]["depends"] == "admission.Succeeded"


def test_crons_refer_to_templates(settings):
    crons = {c.name: yaml.safe_load(c.to_yaml()) for c in build_crons(settings)}
    weekly, hourly = crons["retrain-credit"]["spec"], crons["monitor-credit"]["spec"]
    assert weekly["schedules"] == ["0 3 * * 1"] and "schedule" not in weekly
    assert weekly["workflowSpec"]["workflowTemplateRef"] == {"name": "driftloop-retrain-credit"}
    assert {"name": "reason", "value": "schedule"} in weekly["workflowSpec"]["arguments"]["parameters"]
    assert hourly["workflowSpec"]["workflowTemplateRef"] == {"name": "driftloop-monitor"}
    assert {"name": "model", "value": "credit"} in hourly["workflowSpec"]["arguments"]["parameters"]
    for spec in (weekly, hourly):
        assert spec["concurrencyPolicy"] == "Forbid" and spec["timezone"] == "UTC"
        assert spec["startingDeadlineSeconds"] > 0
        assert spec["successfulJobsHistoryLimit"] == 3 and spec["failedJobsHistoryLimit"] == 5


def test_crons_per_model_follow_their_schedules():
    settings = load_settings(
        env={},
        overrides={
            "models": {
                "credit": {},
                "demand": {
                    **example_spec("demand"),
                    "retrain_schedule": "",
                    "monitor": {"schedule": "0 * * * *"},
                },
                "x" * 63: {"target": "y", "trainer": "m:train"},
            }
        },
    )
    crons = {c.name: c for c in build_crons(settings)}
    assert set(crons) >= {"retrain-credit", "monitor-credit", "monitor-demand"}
    assert "retrain-demand" not in crons  # an empty retrain_schedule: no scheduled retrain
    assert crons["monitor-demand"].schedules == ["0 * * * *"]
    assert all(len(name) <= 52 for name in crons), list(crons)  # Argo's CronWorkflow name limit


def test_rendering_is_deterministic(settings):
    assert build_retrain(settings, "credit").to_yaml() == build_retrain(settings, "credit").to_yaml()
    custom = load_settings(env={}, overrides={"argo.service_account": "other-sa"})
    assert (
        yaml.safe_load(build_retrain(custom, "credit").to_yaml())["spec"]["serviceAccountName"] == "other-sa"
    )


def _with(**spec_extra):
    from driftloop.config import load_settings as load

    spec = {**example_spec("credit"), **spec_extra}
    settings = load(env={}, overrides={"models": {"credit": spec}})
    return settings, yaml.safe_load(build_retrain(settings, "credit").to_yaml())


def test_stepped_rollout_is_a_chain_of_tasks_each_after_a_promote():
    _, doc = _with(deploy={"steps": [0.1, 0.25, 0.5, 1.0]})
    tasks = _tasks(doc)
    chain = ["analyze-canary", "canary-step-1", "canary-step-2", "canary-step-3"]
    for prev, step in itertools.pairwise(chain):
        t = tasks[step]
        assert t["template"] == "canary-step" and t["depends"] == f"{prev}.Succeeded"
        assert t["when"] == f"{{{{tasks.{prev}.outputs.parameters.verdict}}}} == promote"
        args = {p["name"]: p["value"] for p in t["arguments"]["parameters"]}
        assert args["step"] == step.rsplit("-", 1)[1]
        assert args["duration_s"] == "{{workflow.parameters.canary_duration_s}}"
    # each analysing task has its own rollback (a `when` cannot read a skipped task's outputs)
    rollbacks = {
        "rollback": "analyze-canary",
        **{f"rollback-step-{i}": f"canary-step-{i}" for i in (1, 2, 3)},
    }
    for name, after in rollbacks.items():
        assert tasks[name]["template"] == "rollback" and tasks[name]["depends"] == f"{after}.Succeeded"
        assert tasks[name]["when"] == f"{{{{tasks.{after}.outputs.parameters.verdict}}}} == rollback"
    assert tasks["promote"]["depends"] == "canary-step-3.Succeeded"
    assert "request-approval" not in tasks


def test_approval_waits_on_a_suspend_then_checks_the_decision():
    _, doc = _with(approval="required", approval_timeout_s=7200)
    tasks, templates = _tasks(doc), _templates(doc)
    assert templates["wait-approval"] == {"name": "wait-approval", "suspend": {"duration": "7200"}}
    assert tasks["request-approval"]["depends"] == "analyze-canary.Succeeded"
    assert tasks["request-approval"]["when"].endswith(
        "analyze-canary.outputs.parameters.verdict}} == promote"
    )
    assert tasks["wait-approval"]["depends"] == "request-approval.Succeeded"
    assert tasks["check-approval"]["depends"] == "wait-approval.Succeeded"
    assert tasks["promote"]["when"] == "{{tasks.check-approval.outputs.parameters.verdict}} == promote"
    assert (
        tasks["rollback-rejected"]["when"]
        == "{{tasks.check-approval.outputs.parameters.verdict}} == rollback"
    )
    assert tasks["rollback"]["when"] == "{{tasks.analyze-canary.outputs.parameters.verdict}} == rollback"
    timeout = {p["name"]: p["value"] for p in tasks["request-approval"]["arguments"]["parameters"]}[
        "timeout_s"
    ]
    assert timeout == "7200"
    # the run may wait that long on top of the retrain's own deadline
    assert doc["spec"]["activeDeadlineSeconds"] == 4 * 3600 + 7200


def test_stepped_and_approval_templates_validate_strictly(tmp_path):
    from driftloop.validation import validate_paths

    _, doc = _with(deploy={"strategy": "shadow", "steps": [0.5, 1.0]}, approval="required")
    (tmp_path / "retrain.yaml").write_text(yaml.safe_dump(doc))
    report = validate_paths([tmp_path])
    assert report.ok, report.errors


def test_deploy_approval_and_notification_specs_are_checked():
    from pydantic import ValidationError

    from driftloop.modelspec import ModelSpec

    base = example_spec("credit")
    for bad in (
        {"deploy": {"steps": [0.5, 0.25]}},
        {"deploy": {"steps": [0, 1]}},
        {"deploy": {"strategy": "blue-green"}},
        {"approval": "maybe"},
        {"notifications": {"webhooks": [{"format": "slack"}]}},  # no url
        {"notifications": {"webhooks": [{"url": "http://x", "events": ["deploy"]}]}},
    ):
        with pytest.raises(ValidationError):
            ModelSpec.model_validate({**base, **bad})
    spec = ModelSpec.model_validate(
        {**base, "notifications": {"webhooks": [{"url_env": "HOOK", "format": "slack"}]}}
    )
    assert spec.notifications.webhooks[0].events == ["outcome", "verdict", "approval"]


def test_each_rollout_step_gets_its_share_of_alpha(monkeypatch):
    """k steps are k sequences: alpha / k each keeps an equal challenger's overall rollback rate ≤ alpha."""
    import workflows.deploy.target as target

    seen = []
    monkeypatch.setattr(target, "analyze_canary", lambda *a, **kw: seen.append(a[4]))
    stepped, _ = _with(deploy={"steps": [0.1, 0.25, 0.5, 1.0]})
    target.BaseTarget(stepped, registry=object()).analyze("credit", "v2")
    one_step, _ = _with()
    target.BaseTarget(one_step, registry=object()).analyze("credit", "v2")
    target.BaseTarget(stepped, registry=object()).analyze("credit", "v2", accuracy_confidence=0.9)
    assert [round(limits.alpha, 6) for limits in seen] == [0.0125, 0.05, 0.1]  # the caller's limit wins


def test_rollout_plan_defaults():
    from driftloop.config import load_settings as load
    from workflows.deploy.target import rollout

    settings = load(env={}, overrides={"serving.canary_fraction": 0.3})
    assert rollout(settings, "credit").steps == (0.3,)
    settings, _ = _with(deploy={"strategy": "shadow"})
    plan = rollout(settings, "credit")
    assert plan.strategy == "shadow" and plan.steps == (1.0,)  # a shadow mirrors every request by default
