"""What every driftloop pod gets: the image, a restricted security context, resources, /tmp, the config.

Each template runs as a non-root user with a read-only root filesystem, no privilege escalation, every
capability dropped and the RuntimeDefault seccomp profile (the Kubernetes "restricted" Pod Security
Standard). ``/tmp`` is an ``emptyDir`` (Hera's runner writes its outputs under ``/tmp/hera-outputs``);
the ``driftloop-config`` ConfigMap (``driftloop.yaml``: endpoints, no credentials) is mounted read-only at
``/etc/driftloop`` and read by :func:`workflows.steps.context.step_settings`; credentials arrive as
``DRIFTLOOP_*`` variables from Secrets (the manifests' credentials component patches them in), which take
precedence over the file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from driftloop.contracts import NO_RETRY_EXPRESSION

__all__ = [
    "CONFIG_MAP",
    "DEFAULT_IMAGE",
    "DEPLOY_ACCOUNT",
    "IO_RETRY",
    "SIGNING_ENV",
    "SIGNING_SECRET",
    "PodSize",
    "runner_step",
]

DEFAULT_IMAGE = "ghcr.io/driftloop/driftloop:0.1.0"
CONFIG_MAP = "driftloop-config"
#: the Secret (key ``signing-key``) with the Ed25519 key that signs registry records; only the templates
#: built with ``signs=True`` reference it — never the train step (the user's code) nor a model server,
#: which get the public key (Secret ``driftloop-verify``, key ``verify-key``) from the credentials component
SIGNING_SECRET = "driftloop-signing"
#: the ServiceAccount of the steps that change the model servers (``deploys=True``): only it is bound to
#: the Role that may ``patch`` the server Deployments — a step that runs the user's code (train, evaluate)
#: runs as ``argo.service_account``, which may not
DEPLOY_ACCOUNT = "driftloop-deploy"
SIGNING_ENV = "DRIFTLOOP_REGISTRY__SIGNING_KEY"
RUN_AS_USER = 10001


@dataclass(frozen=True)
class PodSize:
    """Requests = what the step usually needs; limits = what it may burst to."""

    cpu: str = "250m"
    memory: str = "512Mi"
    cpu_limit: str = "1"
    memory_limit: str = "1Gi"


SMALL = PodSize()
LARGE = PodSize(cpu="1", memory="2Gi", cpu_limit="2", memory_limit="4Gi")

#: I/O steps (S3, Kafka, the registry, the deploy target) are retried: 4 attempts, 10s, 20s, 40s apart
#: (no ``backoff.cap``: Argo Workflows 3.6 has no such field — `argo lint --offline` refuses it).
#: ``Always`` covers both a failed process (a timeout surfacing as an exception) and a lost pod (Error).
#: A configuration, usage or data error (exit code ``NO_RETRY_EXIT``) is not retried: it would fail again.
#: Argo's schema types these IntOrString fields as strings; strings validate strictly and mean the same.
IO_RETRY: dict[str, Any] = {
    "limit": "3",
    "retry_policy": "Always",
    "backoff": {"duration": "10s", "factor": "2"},
    "expression": NO_RETRY_EXPRESSION,
}


def _security() -> tuple[Any, Any]:
    from hera.workflows import models as m

    seccomp = m.SeccompProfile(type="RuntimeDefault")
    container = m.SecurityContext(
        allow_privilege_escalation=False,
        read_only_root_filesystem=True,
        run_as_non_root=True,
        run_as_user=RUN_AS_USER,
        run_as_group=RUN_AS_USER,
        capabilities=m.Capabilities(drop=["ALL"]),
        seccomp_profile=seccomp,
    )
    pod = m.PodSecurityContext(
        run_as_non_root=True,
        run_as_user=RUN_AS_USER,
        run_as_group=RUN_AS_USER,
        fs_group=RUN_AS_USER,
        seccomp_profile=seccomp,
    )
    return container, pod


def _signing_env() -> Any:
    from hera.workflows import SecretEnv

    return SecretEnv(name=SIGNING_ENV, secret_name=SIGNING_SECRET, secret_key="signing-key", optional=True)


def runner_step(
    fn: Callable[..., Any],
    name: str,
    *,
    image: str = DEFAULT_IMAGE,
    size: PodSize = SMALL,
    retry: bool = False,
    deadline_s: int = 1800,
    component: str = "retrain",
    signs: bool = False,
    deploys: bool = False,
) -> Callable[..., Any]:
    """``fn`` as a Hera runner script template (``@script(constructor="runner")``) with driftloop's pod
    settings; call the result inside a DAG context to add a task. ``signs``: the step writes registry
    records, so its container gets the signing key; ``deploys``: it changes the model servers, so it runs
    as :data:`DEPLOY_ACCOUNT`."""
    from hera.workflows import (
        ConfigMapVolume,
        EmptyDirVolume,
        Env,
        Resources,
        RetryStrategy,
        script,
    )
    from hera.workflows import models as m

    container_security, pod_security = _security()
    retry_strategy = None
    if retry:
        retry_strategy = RetryStrategy(
            limit=IO_RETRY["limit"],
            retry_policy=IO_RETRY["retry_policy"],
            backoff=m.Backoff(**IO_RETRY["backoff"]),
            expression=IO_RETRY["expression"],
        )
    return script(
        name=name,
        constructor="runner",
        image=image,
        image_pull_policy="IfNotPresent",
        labels={
            "app.kubernetes.io/name": "driftloop",
            "app.kubernetes.io/component": component,
            "driftloop.io/step": name,
        },
        resources=Resources(
            cpu_request=size.cpu,
            cpu_limit=size.cpu_limit,
            memory_request=size.memory,
            memory_limit=size.memory_limit,
        ),
        security_context=container_security,
        pod_security_context=pod_security,
        volumes=[
            EmptyDirVolume(name="tmp", mount_path="/tmp", size_limit=m.Quantity("2Gi")),
            # Hera names the ConfigMap after the volume
            ConfigMapVolume(name=CONFIG_MAP, mount_path="/etc/driftloop", optional=True),
        ],
        env=[
            Env(name="PYTHONDONTWRITEBYTECODE", value="1"),
            # optional: without the Secret the step stops with a one-line error naming the setting, and
            # the local executor (no Secrets there; the key is in the data_dir) runs the template as is
            *([_signing_env()] if signs else []),
        ],
        service_account_name=DEPLOY_ACCOUNT if deploys else None,
        retry_strategy=retry_strategy,
        active_deadline_seconds=str(deadline_s),  # IntOrString in Argo's schema
    )(fn)
