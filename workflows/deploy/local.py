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

    def promote(self, model: str, version: str) -> dict[str, Any]:
        self.check_promotable(model, version)
        self._promote_aliases(model, version)
        return {"target": self.name, "model": model, "champion": version}

    def rollback(self, model: str, version: str) -> dict[str, Any]:
        self._clear_canary(model, version)
        return {
            "target": self.name,
            "model": model,
            "rolled_back": version,
            "champion": self.registry.get_alias(model, "champion"),
        }
