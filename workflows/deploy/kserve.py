"""The ``kserve`` target: an InferenceService per model (named like the model) whose predictor runs the
driftloop model server; KServe's own canary rollout splits the traffic.

**Serverless mode** (Knative revisions): deploy-canary pins the predictor container to the version and
sets ``canaryTrafficPercent`` (KServe sends that share to the new revision, the rest to the last
rolled-out one); each later rollout step patches the percent; promote removes ``canaryTrafficPercent``
(the new revision takes all traffic); rollback sets it to 0 (all traffic back on the previous revision)
— https://kserve.github.io/website/docs/model-serving/predictive-inference/rollout-strategies/canary.

**RawDeployment (Standard) mode**: KServe documents the canary rollout as Serverless-only and silently
ignores ``canaryTrafficPercent`` there (kserve/kserve#5335): pinning the version would send it *all*
traffic. A canary is therefore refused with a one-line error (use ``strategy: shadow``, the
``kubernetes`` target, or Serverless mode). KServe >= 0.20 adds a ``spec.canary`` list for Standard mode
(kserve/kserve#5672); it is not used yet.

**Shadow** (both modes): nothing is patched while the shadow runs — the predictor's driftloop server
reads the challenger's ``canary_deploy`` record and mirrors requests to it in process (v1beta1 has no
mirroring field). Promote pins the predictor to the version (a new revision / a rolling update takes
all traffic); rollback has nothing to undo.

The mode is the ``serving.kserve.io/deploymentMode`` annotation, else inferred from the status (a
Serverless predictor reports Knative revisions). Patches are JSON merge patches through
``CustomObjectsApi``.
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
MODE_ANNOTATION = "serving.kserve.io/deploymentMode"


def deployment_mode(isvc: dict[str, Any]) -> str:
    """``Serverless`` or ``RawDeployment`` (``Standard``, its newer name, counts as raw)."""
    mode = str((isvc.get("metadata", {}).get("annotations") or {}).get(MODE_ANNOTATION) or "")
    if mode:
        return "Serverless" if mode == "Serverless" else "RawDeployment"
    predictor = ((isvc.get("status") or {}).get("components") or {}).get("predictor") or {}
    return "Serverless" if predictor.get("latestCreatedRevision") else "RawDeployment"


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
    def _containers(self, model: str, isvc: dict[str, Any], version: str) -> list[dict[str, Any]]:
        containers = [dict(c) for c in isvc.get("spec", {}).get("predictor", {}).get("containers") or []]
        if not containers:
            raise WorkflowError(
                f"inferenceservice {model} has no predictor container",
                "deploy the driftloop model server as its custom predictor container",
            )
        containers[0]["args"] = server_args(model, version)
        return containers

    def start_canary(self, model: str, version: str, fraction: float | None = None) -> int:
        """Pin the predictor to ``version`` with ``canaryTrafficPercent``; wait until ready. Returns it."""
        isvc = self._get(model)
        if deployment_mode(isvc) != "Serverless":
            raise WorkflowError(
                f"inferenceservice {model} runs in RawDeployment mode, where KServe ignores "
                "canaryTrafficPercent: a canary would take all of its traffic",
                "use deploy.strategy: shadow for this model, deploy.target: kubernetes, or KServe's "
                "Serverless mode",
            )
        share = self.settings.serving.canary_fraction if fraction is None else fraction
        percent = round(share * 100)
        self._patch(
            model, {"canaryTrafficPercent": percent, "containers": self._containers(model, isvc, version)}
        )
        self.wait_ready(model)
        return percent

    def set_percent(self, model: str, fraction: float) -> int:
        """A later rollout step: the new revision's share, as a percent; wait until ready."""
        percent = round(fraction * 100)
        self._patch(model, {"canaryTrafficPercent": percent})
        self.wait_ready(model)
        return percent

    def pin(self, model: str, version: str) -> None:
        """The predictor runs ``version`` for all traffic (a shadow's promote)."""
        isvc = self._get(model)
        self._patch(
            model, {"canaryTrafficPercent": None, "containers": self._containers(model, isvc, version)}
        )
        self.wait_ready(model)

    def take_all_traffic(self, model: str) -> None:
        self._patch(model, {"canaryTrafficPercent": None})  # merge patch: null removes the field
        self.wait_ready(model)

    def remove_canary(self, model: str) -> None:
        self._patch(model, {"canaryTrafficPercent": 0})

    # --- the DeployTarget hooks -------------------------------------------------------------------
    def _strategy(self, model: str, version: str) -> str:
        record = self.registry.get(model, version).records.get("canary_deploy") or {}
        return str(record.get("strategy") or "canary")

    def _set_traffic(
        self, model: str, version: str, fraction: float, strategy: str, *, first: bool
    ) -> dict[str, Any]:
        if strategy == "shadow":  # mirrored by the predictor's own server: see the module docstring
            return {"mirrored_by": model}
        if first:
            return {"percent": self.start_canary(model, version, fraction)}
        return {"percent": self.set_percent(model, fraction)}

    def _move_traffic_to(self, model: str, version: str) -> None:
        if self._strategy(model, version) == "shadow":
            self.pin(model, version)
        else:
            self.take_all_traffic(model)

    def _withdraw_canary(self, model: str, version: str) -> None:
        if self._strategy(model, version) != "shadow":
            self.remove_canary(model)
