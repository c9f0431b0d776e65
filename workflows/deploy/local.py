"""The ``local`` target: the registry's aliases are the deployment; the local model server follows them
(it polls the alias pointers every second and routes ``serving.canary_fraction`` to the canary)."""

from __future__ import annotations

from typing import Any

from workflows.deploy.target import BaseTarget

__all__ = ["LocalTarget"]


class LocalTarget(BaseTarget):
    name = "local"

    def deploy_canary(self, model: str, version: str) -> dict[str, Any]:
        self._mark_canary(model, version)
        return {
            "target": self.name,
            "model": model,
            "canary": version,
            "fraction": self.settings.serving.canary_fraction,
        }
