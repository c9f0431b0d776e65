"""Serving manifests, built as plain dicts and rendered to YAML (a pure function of the arguments).

Per model: a stable Deployment ``serve-<model>`` (follows the champion, or a version after a promote), a
canary Deployment ``serve-<model>-canary`` kept at 0 replicas until a canary is deployed, and one
Service selecting both — so the canary's traffic share is its share of the ready replicas. Shared: the
pods' ServiceAccount (no API token mounted) and a Role + RoleBinding for the deploy steps' own service
account (``driftloop-deploy``; the train and evaluate steps run as another) with only ``get`` and
``patch`` on exactly those Deployments (or the InferenceServices for ``kserve``).

Why the canary Deployment is pre-created at 0 replicas instead of created and deleted: RBAC cannot
restrict ``create`` by ``resourceNames`` (the name is not known when a create is authorised — see
https://kubernetes.io/docs/reference/access-authn-authz/rbac/#referring-to-resources), so creating it
would need create on *every* Deployment in the namespace. Scaling to 0 removes the canary's pods.

The server's bearer token (``serving.auth_token``, required by ``POST /v1/feedback``) comes from the
Secret :data:`TOKEN_SECRET` (key ``auth-token``) as ``DRIFTLOOP_SERVING__AUTH_TOKEN``. The reference is
required: no server pod starts without the Secret::

    kubectl -n driftloop create secret generic driftloop-serving \
        --from-literal=auth-token="$(openssl rand -hex 24)"

Feedback has a port of its own (:data:`FEEDBACK_PORT`, container and Service port ``feedback``) so that
``manifests/base/networkpolicy.yaml`` can admit it only from namespaces labelled
:data:`FEEDBACK_NAMESPACE_LABEL` while predict (:data:`PORT`, Service port 80) stays open to the cluster.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

from driftloop.config import Settings
from driftloop.errors import UsageError
from driftloop.registry import check_model_name
from workflows.pod import CONFIG_MAP, DEFAULT_IMAGE, DEPLOY_ACCOUNT, RUN_AS_USER

__all__ = [
    "CONTAINER",
    "FEEDBACK_NAMESPACE_LABEL",
    "FEEDBACK_PORT",
    "PORT",
    "SERVING_ACCOUNT",
    "TOKEN_SECRET",
    "canary_name",
    "deployment",
    "render_serving_manifests",
    "serving_objects",
    "stable_name",
]

CONTAINER = "server"
SERVING_ACCOUNT = "driftloop-serving"
DEPLOY_ROLE = "driftloop-deploy"
PORT = 8080
#: the port that takes only POST /v1/feedback (serving.feedback_port)
FEEDBACK_PORT = 8081
#: the label (value "true") a namespace needs for its pods to reach FEEDBACK_PORT (networkpolicy.yaml)
FEEDBACK_NAMESPACE_LABEL = "driftloop.io/feedback"
APP = "driftloop-serving"
#: the Secret (key ``auth-token``) holding the serving token
TOKEN_SECRET = "driftloop-serving"
#: serving.drain_s of the server pods: on SIGTERM they answer /readyz 503 and keep serving this long, so
#: the Service stops routing to them before their listeners close (a rolling update refuses no
#: connection). With the server's 10 s grace it stays inside the pods' default 30 s termination grace.
DRAIN_S = 5


def stable_name(model: str) -> str:
    return f"serve-{model}"


def canary_name(model: str) -> str:
    return f"serve-{model}-canary"


def _check(model: str) -> str:
    check_model_name(model)
    if len(canary_name(model)) > 63:
        raise UsageError(
            f"model name {model!r} is too long for serving resources",
            "use at most 50 characters (serve-<model>-canary must fit 63)",
        )
    return model


def labels(model: str, track: str | None = None) -> dict[str, str]:
    out = {
        "app.kubernetes.io/name": APP,
        "app.kubernetes.io/instance": model,
        "app.kubernetes.io/part-of": "driftloop",
        "app.kubernetes.io/component": "model-server",
    }
    if track:
        out["driftloop.io/track"] = track
    return out


def server_args(model: str, version: str) -> list[str]:
    return ["serve", "--model", model, "--model-version", version]


def _container(model: str, version: str, image: str) -> dict[str, Any]:
    def probe(path: str, period: int) -> dict[str, Any]:
        return {
            "httpGet": {"path": path, "port": "http"},
            "periodSeconds": period,
            "timeoutSeconds": 2,
            "failureThreshold": 3,
        }

    return {
        "name": CONTAINER,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": server_args(model, version),
        "ports": [
            {"name": "http", "containerPort": PORT, "protocol": "TCP"},
            {"name": "feedback", "containerPort": FEEDBACK_PORT, "protocol": "TCP"},
        ],
        "env": [
            {"name": "DRIFTLOOP_CONFIG", "value": "/etc/driftloop/driftloop.yaml"},
            {"name": "DRIFTLOOP_SERVING__HOST", "value": "0.0.0.0"},
            {"name": "DRIFTLOOP_SERVING__PORT", "value": str(PORT)},
            {"name": "DRIFTLOOP_SERVING__FEEDBACK_PORT", "value": str(FEEDBACK_PORT)},
            {"name": "DRIFTLOOP_SERVING__DRAIN_S", "value": str(DRAIN_S)},
            {
                "name": "DRIFTLOOP_SERVING__AUTH_TOKEN",
                # required: no server pod starts without the token, so labels cannot be forged by default
                "valueFrom": {"secretKeyRef": {"name": TOKEN_SECRET, "key": "auth-token"}},
            },
            {"name": "DRIFTLOOP_DATA_DIR", "value": "/tmp/driftloop"},
            {"name": "HOME", "value": "/tmp"},
        ],
        "resources": {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        },
        "livenessProbe": probe("/healthz", 10),
        "readinessProbe": probe("/readyz", 2),
        "startupProbe": {**probe("/healthz", 2), "failureThreshold": 30},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": RUN_AS_USER,
            "runAsGroup": RUN_AS_USER,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "config", "mountPath": "/etc/driftloop", "readOnly": True},
        ],
    }


def deployment(
    model: str, track: str, version: str, replicas: int, namespace: str, image: str
) -> dict[str, Any]:
    name = stable_name(model) if track == "stable" else canary_name(model)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {**labels(model, track), "driftloop.io/model-version": version},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels(model, track)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": {**labels(model, track), "driftloop.io/model-version": version}},
                "spec": {
                    "serviceAccountName": SERVING_ACCOUNT,
                    "automountServiceAccountToken": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": RUN_AS_USER,
                        "runAsGroup": RUN_AS_USER,
                        "fsGroup": RUN_AS_USER,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [_container(model, version, image)],
                    "volumes": [
                        {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
                        {"name": "config", "configMap": {"name": CONFIG_MAP, "optional": True}},
                    ],
                },
            },
        },
    }


def _service(model: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": stable_name(model), "namespace": namespace, "labels": labels(model)},
        "spec": {
            "selector": labels(model),  # both tracks: traffic splits by ready replicas
            "ports": [
                {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
                {"name": "feedback", "port": FEEDBACK_PORT, "targetPort": "feedback", "protocol": "TCP"},
            ],
        },
    }


def _rbac(models: list[str], settings: Settings) -> list[dict[str, Any]]:
    ns = settings.deploy.namespace
    if settings.deploy.target == "kserve":
        rule = {
            "apiGroups": ["serving.kserve.io"],
            "resources": ["inferenceservices"],
            "resourceNames": models,
            "verbs": ["get", "patch"],
        }
    else:
        names = [n for m in models for n in (stable_name(m), canary_name(m))]
        rule = {
            "apiGroups": ["apps"],
            "resources": ["deployments"],
            "resourceNames": names,
            "verbs": ["get", "patch"],
        }
    meta = {"namespace": ns, "labels": {"app.kubernetes.io/part-of": "driftloop"}}
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": SERVING_ACCOUNT, **meta},
            "automountServiceAccountToken": False,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": DEPLOY_ROLE, **meta},
            "rules": [rule],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": DEPLOY_ROLE, **meta},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": DEPLOY_ROLE},
            "subjects": [
                {
                    "kind": "ServiceAccount",
                    "name": DEPLOY_ACCOUNT,  # the deploy steps' own account, not every workflow pod's
                    "namespace": settings.argo.namespace,
                }
            ],
        },
    ]


def serving_objects(
    settings: Settings, models: Iterable[str], image: str = DEFAULT_IMAGE, replicas: int = 4
) -> dict[str, list[dict[str, Any]]]:
    """Relative path -> the objects in that file."""
    names = [_check(m) for m in models]
    ns = settings.deploy.namespace
    out: dict[str, list[dict[str, Any]]] = {"serving/rbac.yaml": _rbac(names, settings)}
    for m in names:
        out[f"serving/{m}.yaml"] = [
            deployment(m, "stable", "champion", replicas, ns, image),
            deployment(m, "canary", "champion", 0, ns, image),
            _service(m, ns),
        ]
    return out


def render_serving_manifests(
    settings: Settings, models: Iterable[str] = ("credit",), image: str = DEFAULT_IMAGE, replicas: int = 4
) -> dict[str, str]:
    """Relative path (under ``manifests/``) -> YAML: ``serving/rbac.yaml`` and ``serving/<model>.yaml``."""
    return {
        path: yaml.safe_dump_all(docs, sort_keys=False, explicit_start=True)
        for path, docs in serving_objects(settings, models, image, replicas).items()
    }
