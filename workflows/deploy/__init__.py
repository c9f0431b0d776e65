"""Deploy targets: where a canary runs and how traffic moves, behind one interface.

``get_target(settings)`` returns the target named by ``deploy.target``:

* ``local`` — the registry's aliases and the challenger's ``canary_deploy`` record; the local model
  server (``driftloop serve`` / ``driftloop up``) picks them up within a second and routes the step's
  ``fraction`` of requests to a canary, or mirrors them to a shadow.
* ``kubernetes`` — a canary Deployment beside the stable one behind one Service; the traffic weight is
  the replica ratio (a shadow is mirrored by the stable pods' server).
* ``kserve`` — an InferenceService's ``canaryTrafficPercent`` (Serverless mode; a canary in
  RawDeployment mode is refused, a shadow works in both).

A model's ``deploy`` spec picks the strategy (``canary`` | ``shadow``) and the traffic steps
(:func:`workflows.deploy.target.rollout`); every target moves through the steps with ``set_step``.

Every target analyses the canary the same way (:mod:`workflows.deploy.analysis`: the inference log plus
feedback labels) and refuses to promote a version whose recorded analysis did not say ``promote``.
Manifests for the ``kubernetes`` target: :func:`render_serving_manifests`.
"""

from __future__ import annotations

from typing import Any

from driftloop.config import Settings
from workflows.deploy.manifests import render_serving_manifests
from workflows.deploy.target import BaseTarget, DeployTarget

__all__ = ["BaseTarget", "DeployTarget", "get_target", "render_serving_manifests"]


def get_target(settings: Settings, **options: Any) -> DeployTarget:
    """The configured target; ``options`` go to its constructor (e.g. ``api_client`` in tests)."""
    kind = settings.deploy.target
    if kind == "kubernetes":
        from workflows.deploy.k8s import KubernetesTarget

        return KubernetesTarget(settings, **options)
    if kind == "kserve":
        from workflows.deploy.kserve import KServeTarget

        return KServeTarget(settings, **options)
    from workflows.deploy.local import LocalTarget

    return LocalTarget(settings, **options)
