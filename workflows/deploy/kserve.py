"""The ``kserve`` target: an InferenceService per model (named like the model) whose predictor runs the
driftloop model server; KServe's own canary rollout splits the traffic.

deploy-canary pins the predictor container to the version and sets ``canaryTrafficPercent`` (KServe
sends that share to the new revision, the rest to the last rolled-out one); promote removes
``canaryTrafficPercent`` (the new revision takes all traffic); rollback sets it to 0 (all traffic back on
the previous revision) — https://kserve.github.io/website/latest/modelserving/v1beta1/rollout/canary/.
Patches are JSON merge patches through ``CustomObjectsApi``.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from driftloop.errors import WorkflowError
from workflows.deploy.k8s import ClusterTarget
from workflows.deploy.manifests import server_args

__all__ = ["KServeTarget"]

GROUP, VERSION, PLURAL = "serving.kserve.io", "v1beta1", "inferenceservices"


class KServeTarget(ClusterTarget):
    name = "kserve"

    @functools.cached_property
    def api(self) -> Any:
        from kubernetes import client

        return client.CustomObjectsApi(self.api_client)

    def _isvc(self, what: str, fn: Any, *args: Any) -> Any:
        return self._call(what, fn, GROUP, VERSION, self.namespace, PLURAL, *args)

    def _get(self, model: str) -> dict[str, Any]:
        return dict(self._isvc(f"get inferenceservice {model}", self.api.get_namespaced_custom_object, model))

    def _patch(self, model: str, predictor: dict[str, Any]) -> None:
        self._isvc(
            f"patch inferenceservice {model}",
            self.api.patch_namespaced_custom_object,
            model,
            {"spec": {"predictor": predictor}},
        )

    def wait_ready(self, model: str) -> None:
        deadline = time.monotonic() + self.timeout_s
        while True:
            isvc = self._get(model)
            status = isvc.get("status") or {}
            ready = any(
                c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []
            )
            current = (status.get("observedGeneration") or 0) >= (
                isvc.get("metadata", {}).get("generation") or 0
            )
            if ready and current:
                return
            if time.monotonic() >= deadline:
                raise WorkflowError(
                    f"inferenceservice {model} not ready within {self.timeout_s:.0f}s",
                    f"see `kubectl -n {self.namespace} describe inferenceservice {model}`",
                )
            time.sleep(self.poll_s)

    # --- cluster operations (no registry) ---------------------------------------------------------
    def start_canary(self, model: str, version: str) -> int:
        """Pin the predictor to ``version`` with ``canaryTrafficPercent``; wait until ready. Returns it."""
        isvc = self._get(model)
        containers = [dict(c) for c in isvc.get("spec", {}).get("predictor", {}).get("containers") or []]
        if not containers:
            raise WorkflowError(
                f"inferenceservice {model} has no predictor container",
                "deploy the driftloop model server as its custom predictor container",
            )
        containers[0]["args"] = server_args(model, version)
        percent = round(self.settings.serving.canary_fraction * 100)
        self._patch(model, {"canaryTrafficPercent": percent, "containers": containers})
        self.wait_ready(model)
        return percent

    def take_all_traffic(self, model: str) -> None:
        self._patch(model, {"canaryTrafficPercent": None})  # merge patch: null removes the field
        self.wait_ready(model)

    def remove_canary(self, model: str) -> None:
        self._patch(model, {"canaryTrafficPercent": 0})

    # --- the DeployTarget interface ---------------------------------------------------------------
    def deploy_canary(self, model: str, version: str) -> dict[str, Any]:
        percent = self.start_canary(model, version)
        self._mark_canary(model, version)
        return {"target": self.name, "model": model, "canary": version, "percent": percent}

    def _move_traffic_to(self, model: str, version: str) -> None:
        self.take_all_traffic(model)

    def _withdraw_canary(self, model: str) -> None:
        self.remove_canary(model)
