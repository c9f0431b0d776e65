"""The ``kubernetes`` target: a canary Deployment beside the stable one behind one Service.

Traffic is split by ready replicas: with ``N`` stable replicas the canary gets
``k = max(1, round(N·f / (1 - f)))`` replicas for ``f = serving.canary_fraction`` (4 stable + 1 canary
= 20 %). deploy-canary pins the canary pods to the version and scales them up; promote pins the stable
Deployment to the version (a rolling update) and scales the canary to 0; rollback scales the canary to
0. Each change waits for the rollout (observed generation, updated and available replicas). The objects
come from :func:`workflows.deploy.manifests.render_serving_manifests`; this target only ``get``\\s and
``patch``\\es them. Credentials: in-cluster config, else the kubeconfig.

Stepped rollouts (``deploy.steps``) rescale the canary Deployment at each step. A replica split cannot
give the canary everything: a step of 1.0 means as many canary replicas as stable ones (half the
traffic); promote then moves the stable Deployment. A **shadow** gets no Deployment of its own (its pods
would answer requests through the Service): the stable pods run the same driftloop server, which reads
the challenger's ``canary_deploy`` record (``strategy: shadow``) and mirrors the requests to it in
process, logging them with ``route: "shadow"``.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from driftloop.config import Settings
from driftloop.errors import ConnectionError_, WorkflowError
from driftloop.registry import Registry
from workflows.deploy.manifests import CONTAINER, canary_name, server_args, stable_name
from workflows.deploy.target import BaseTarget

__all__ = ["KubernetesTarget", "canary_replicas", "kube_client"]

STRATEGIC = "application/strategic-merge-patch+json"


def kube_client() -> Any:
    """An ApiClient from the in-cluster service account, else from the kubeconfig."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    try:
        config.load_incluster_config()
    except ConfigException:
        try:
            config.load_kube_config()
        except (ConfigException, OSError) as exc:
            raise ConnectionError_(
                f"no Kubernetes credentials: {exc}", "run in a pod with a service account, or set KUBECONFIG"
            ) from None
    return client.ApiClient()


def api_error(exc: Any, what: str) -> Exception:
    status = getattr(exc, "status", 0) or 0
    if status == 404:
        return WorkflowError(f"{what} does not exist", "apply the serving manifests (manifests/serving/)")
    if status in (401, 403):
        return WorkflowError(
            f"not allowed to {what}",
            "bind the deploy Role (manifests/serving/rbac.yaml) to the workflow's account",
        )
    return ConnectionError_(
        f"Kubernetes API failed to {what}: HTTP {status} {getattr(exc, 'reason', '')}",
        "check the API server and retry",
    )


def canary_replicas(stable: int, fraction: float) -> int:
    if fraction <= 0:
        return 0
    if fraction >= 1:
        return max(1, stable)
    return max(1, round(stable * fraction / (1 - fraction)))


class ClusterTarget(BaseTarget):
    """What the Kubernetes and KServe targets share: an API client (in-cluster config or kubeconfig),
    the namespace, a wait budget, and API errors turned into one-line driftloop errors."""

    def __init__(
        self,
        settings: Settings,
        registry: Registry | None = None,
        api_client: Any = None,
        timeout_s: float = 300.0,
        poll_s: float = 2.0,
    ) -> None:
        super().__init__(settings, registry)
        self.api_client = api_client or kube_client()
        self.namespace = settings.deploy.namespace
        self.timeout_s = timeout_s
        self.poll_s = poll_s

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from kubernetes.client.exceptions import ApiException

        try:
            return fn(*args, **kwargs)
        except ApiException as exc:
            raise api_error(exc, what) from None


class KubernetesTarget(ClusterTarget):
    name = "kubernetes"

    @functools.cached_property
    def apps(self) -> Any:
        from kubernetes import client

        return client.AppsV1Api(self.api_client)

    def _read(self, name: str) -> Any:
        return self._call(
            f"get deployment {name}", self.apps.read_namespaced_deployment, name, self.namespace
        )

    def _patch(self, name: str, body: dict[str, Any]) -> Any:
        return self._call(
            f"patch deployment {name}",
            self.apps.patch_namespaced_deployment,
            name,
            self.namespace,
            body,
            _content_type=STRATEGIC,
        )

    @staticmethod
    def _pin(model: str, version: str, image: str | None, replicas: int | None) -> dict[str, Any]:
        container: dict[str, Any] = {"name": CONTAINER, "args": server_args(model, version)}
        if image:
            container["image"] = image
        label = {"driftloop.io/model-version": version}
        spec: dict[str, Any] = {
            "template": {"metadata": {"labels": label}, "spec": {"containers": [container]}}
        }
        if replicas is not None:
            spec["replicas"] = replicas
        return {"metadata": {"labels": label}, "spec": spec}

    def wait_rollout(self, name: str) -> None:
        deadline = time.monotonic() + self.timeout_s
        while True:
            dep = self._read(name)
            want = dep.spec.replicas or 0
            st = dep.status
            done = (
                st is not None
                and (st.observed_generation or 0) >= (dep.metadata.generation or 0)
                and (st.updated_replicas or 0) >= want
                and (st.available_replicas or 0) >= want
                and (st.replicas or 0) <= want  # old pods gone
            )
            if done:
                return
            if time.monotonic() >= deadline:
                raise WorkflowError(
                    f"deployment {name} did not become ready within {self.timeout_s:.0f}s "
                    f"({st.available_replicas if st else 0}/{want} available)",
                    f"see `kubectl -n {self.namespace} describe deployment {name}`",
                )
            time.sleep(self.poll_s)

    # --- cluster operations (no registry) ---------------------------------------------------------
    def start_canary(self, model: str, version: str, fraction: float | None = None) -> dict[str, Any]:
        """Pin the canary Deployment to ``version``, scale it to its share, wait for the rollout."""
        stable = self._read(stable_name(model))
        image = stable.spec.template.spec.containers[0].image
        share = self.settings.serving.canary_fraction if fraction is None else fraction
        k = canary_replicas(stable.spec.replicas or 0, share)
        self._patch(canary_name(model), self._pin(model, version, image, k))
        self.wait_rollout(canary_name(model))
        return {"canary": version, "canary_replicas": k, "stable_replicas": stable.spec.replicas}

    def scale_canary(self, model: str, fraction: float) -> dict[str, Any]:
        """A later rollout step: rescale the (already pinned) canary to ``fraction``; wait for it."""
        stable = self._read(stable_name(model))
        k = canary_replicas(stable.spec.replicas or 0, fraction)
        self._patch(canary_name(model), {"spec": {"replicas": k}})
        self.wait_rollout(canary_name(model))
        return {"canary_replicas": k, "stable_replicas": stable.spec.replicas}

    def move_stable(self, model: str, version: str) -> None:
        """Pin the stable Deployment to ``version`` (a rolling update) and wait for it."""
        self._patch(stable_name(model), self._pin(model, version, None, None))
        self.wait_rollout(stable_name(model))

    def remove_canary(self, model: str) -> None:
        self._patch(canary_name(model), {"spec": {"replicas": 0}})

    # --- the DeployTarget interface ---------------------------------------------------------------
    def _set_traffic(
        self, model: str, version: str, fraction: float, strategy: str, *, first: bool
    ) -> dict[str, Any]:
        if strategy == "shadow":  # mirrored inside the stable pods: see the module docstring
            return {"mirrored_by": stable_name(model)}
        if first:
            return self.start_canary(model, version, fraction)
        return self.scale_canary(model, fraction)

    def _move_traffic_to(self, model: str, version: str) -> None:
        self.move_stable(model, version)
        self.remove_canary(model)

    def _withdraw_canary(self, model: str, version: str) -> None:
        self.remove_canary(model)
