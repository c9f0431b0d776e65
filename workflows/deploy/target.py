"""The deploy-target interface and what every target shares: the registry, canary analysis, and the
promote guard."""

from __future__ import annotations

import time
from typing import Any, Protocol

from driftloop.config import Settings
from driftloop.errors import WorkflowError
from driftloop.registry import Registry
from workflows.deploy.analysis import CanaryLimits, Verdict, analyze_canary

__all__ = ["BaseTarget", "DeployTarget"]


class DeployTarget(Protocol):
    name: str

    def deploy_canary(self, model: str, version: str) -> dict[str, Any]: ...

    def analyze(self, model: str, version: str, **limits: Any) -> Verdict: ...

    def promote(self, model: str, version: str) -> dict[str, Any]: ...

    def rollback(self, model: str, version: str) -> dict[str, Any]: ...


class BaseTarget:
    name = "base"

    def __init__(self, settings: Settings, registry: Registry | None = None) -> None:
        self.settings = settings
        self._registry = registry

    @property
    def registry(self) -> Registry:
        """The model registry (created on first use: the cluster-side operations do not need it)."""
        if self._registry is None:
            from driftloop.s3 import S3Store

            self._registry = Registry(S3Store(self.settings))
        return self._registry

    def _mark_canary(self, model: str, version: str) -> None:
        """Point the canary alias at ``version`` (if not yet) and note when it started taking traffic:
        the analysis window starts there."""
        if self.registry.get_alias(model, "canary") != version:
            self.registry.set_alias(model, "canary", version, reason=f"canary via {self.name}")
        self.registry.record(
            model,
            version,
            "canary_deploy",
            {
                "started_ms": int(time.time() * 1000),
                "target": self.name,
                "fraction": self.settings.serving.canary_fraction,
            },
        )

    def analyze(self, model: str, version: str, **limits: Any) -> Verdict:
        # the `canary` settings with the model's overrides; the caller's limits win
        defaults: dict[str, Any] = self.settings.canary_for(model).model_dump()
        spec = self.settings.models.get(model)
        if spec is not None:
            defaults["task"] = spec.task
        return analyze_canary(
            self.settings, self.registry, model, version, CanaryLimits.from_kwargs(**{**defaults, **limits})
        )

    # --- promote / rollback: the same bookkeeping for every target; traffic moves in the hooks -------
    def promote(self, model: str, version: str) -> dict[str, Any]:
        """The canary becomes the champion (refused unless its analysis said promote)."""
        self.check_promotable(model, version)
        self._move_traffic_to(model, version)
        self._promote_aliases(model, version)
        return {"target": self.name, "model": model, "champion": version}

    def rollback(self, model: str, version: str) -> dict[str, Any]:
        """The canary is withdrawn; the champion stays."""
        self._withdraw_canary(model)
        self._clear_canary(model, version)
        return {
            "target": self.name,
            "model": model,
            "rolled_back": version,
            "champion": self.registry.get_alias(model, "champion"),
        }

    def _move_traffic_to(self, model: str, version: str) -> None:
        """Send all traffic to ``version`` (nothing to do where the aliases are the deployment)."""

    def _withdraw_canary(self, model: str) -> None:
        """Stop sending traffic to the canary (nothing to do where the aliases are the deployment)."""

    def check_promotable(self, model: str, version: str) -> None:
        """The champion is never replaced by a version whose canary analysis did not say promote."""
        record = self.registry.get(model, version).records.get("canary_analysis") or {}
        if record.get("decision") != "promote":
            raise WorkflowError(
                f"refusing to promote {model} {version}: its canary analysis says "
                f"{record.get('decision') or 'nothing (not analysed)'}",
                "run the canary analysis first; only a 'promote' verdict can replace the champion",
            )

    def _promote_aliases(self, model: str, version: str) -> None:
        if self.registry.get_alias(model, "champion") != version:
            self.registry.promote(model, version, reason=f"promoted via {self.name}")
        elif self.registry.get_alias(model, "canary") == version:
            self.registry.clear_alias(model, "canary", reason="promoted")

    def _clear_canary(self, model: str, version: str) -> None:
        if self.registry.get_alias(model, "canary") == version:
            self.registry.clear_alias(model, "canary", reason=f"rolled back via {self.name}")
