"""The deploy-target interface and what every target shares: the registry, the rollout plan, canary
analysis, and the promote guard.

A rollout (:class:`Rollout`, from the model's ``deploy`` spec) is a strategy — ``canary`` (the challenger
answers a share of the requests) or ``shadow`` (it gets a mirrored copy of live traffic and never
answers) — and one or more traffic steps. Each step is written to the registry as the challenger's
``canary_deploy`` record (``strategy``, ``fraction``, ``step``, ``started_ms``, ``target``): the model
server's slot watcher reads it and routes or mirrors accordingly, and the step's analysis window starts
at its ``started_ms``. The ``canary`` alias points at the challenger in both strategies.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from driftloop.config import Settings
from driftloop.errors import WorkflowError
from driftloop.registry import Registry
from workflows.deploy.analysis import CanaryLimits, Verdict, analyze_canary

__all__ = ["DEPLOY_RECORD", "BaseTarget", "DeployTarget", "Rollout", "rollout"]

DEPLOY_RECORD = "canary_deploy"
Strategy = Literal["canary", "shadow"]


@dataclass(frozen=True)
class Rollout:
    """How a model's challenger reaches traffic: its strategy and the traffic share of each step."""

    strategy: Strategy
    steps: tuple[float, ...]

    def fraction(self, step: int) -> float:
        if not 0 <= step < len(self.steps):
            raise WorkflowError(
                f"rollout step {step} does not exist (steps: {list(self.steps)})",
                "recompile the retrain template after changing deploy.steps (`driftloop compile`)",
            )
        return self.steps[step]


def rollout(settings: Settings, model: str) -> Rollout:
    """``model``'s rollout: ``deploy.steps`` of its spec, else one step at ``serving.canary_fraction``
    (a canary) or mirroring every request (a shadow: it answers nobody, so all traffic is safe)."""
    spec = settings.models.get(model)
    steps = tuple(spec.deploy.steps) if spec is not None and spec.deploy.steps else ()
    strategy: Strategy = spec.deploy.strategy if spec is not None else "canary"
    default = 1.0 if strategy == "shadow" else settings.serving.canary_fraction
    return Rollout(strategy, steps or (default,))


class DeployTarget(Protocol):
    name: str

    def deploy_canary(self, model: str, version: str) -> dict[str, Any]: ...

    def set_step(self, model: str, version: str, step: int) -> dict[str, Any]: ...

    def analyze(self, model: str, version: str, *, since_ms: int | None = None, **limits: Any) -> Verdict: ...

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

    def deploy_canary(self, model: str, version: str) -> dict[str, Any]:
        """Start the rollout of ``version``: its first step (the canary alias moves here)."""
        return self.set_step(model, version, 0)

    def set_step(self, model: str, version: str, step: int) -> dict[str, Any]:
        """Move ``version`` to rollout step ``step``: traffic first (the target's hook), then the alias
        and the ``canary_deploy`` record whose ``started_ms`` opens the step's analysis window."""
        plan = rollout(self.settings, model)
        fraction = plan.fraction(step)
        out = dict(self._set_traffic(model, version, fraction, plan.strategy, first=step == 0) or {})
        record = self._mark_canary(model, version, fraction=fraction, step=step, strategy=plan.strategy)
        return {
            "target": self.name,
            "model": model,
            "canary": version,
            "strategy": plan.strategy,
            "fraction": fraction,
            "step": step,
            "steps": len(plan.steps),
            "started_ms": record["started_ms"],
            **out,
        }

    def _set_traffic(
        self, model: str, version: str, fraction: float, strategy: Strategy, *, first: bool
    ) -> dict[str, Any]:
        """Give ``version`` ``fraction`` of the traffic (``first``: it is not running yet). Nothing to do
        where the registry record is the deployment (the local server reads it)."""
        return {}

    def _mark_canary(
        self,
        model: str,
        version: str,
        *,
        fraction: float | None = None,
        step: int = 0,
        strategy: Strategy = "canary",
    ) -> dict[str, Any]:
        """Point the canary alias at ``version`` (if not yet) and record the step it is in: the server
        routes (or mirrors) by it, and the step's analysis window starts at ``started_ms``."""
        if self.registry.get_alias(model, "canary") != version:
            self.registry.set_alias(model, "canary", version, reason=f"{strategy} via {self.name}")
        record = {
            "strategy": strategy,
            "fraction": self.settings.serving.canary_fraction if fraction is None else fraction,
            "step": step,
            "started_ms": int(time.time() * 1000),
            "target": self.name,
        }
        self.registry.record(model, version, DEPLOY_RECORD, record)
        return record

    def analyze(self, model: str, version: str, *, since_ms: int | None = None, **limits: Any) -> Verdict:
        """The verdict on ``version`` over traffic since ``since_ms`` (default: the current step's start).
        The `canary` settings with the model's overrides; the caller's limits win.

        A rollout of k steps analyses k windows, each its own sequence: each gets ``alpha / k`` (a union
        bound), so an equal challenger is rolled back by *any* step with probability at most alpha."""
        defaults: dict[str, Any] = self.settings.canary_for(model).model_dump()
        spec = self.settings.models.get(model)
        if spec is not None:
            defaults["task"] = spec.task
        k = len(rollout(self.settings, model).steps)
        if k > 1:
            defaults["accuracy_confidence"] = 1 - (1 - float(defaults["accuracy_confidence"])) / k
        return analyze_canary(
            self.settings,
            self.registry,
            model,
            version,
            CanaryLimits.from_kwargs(**{**defaults, **limits}),
            since_ms=since_ms,
            problem=lambda: self.traffic_problem(model),
        )

    def traffic_problem(self, model: str) -> str | None:
        """What keeps live traffic from ``model``, when this target can tell (None: nothing known)."""
        return None

    # --- promote / rollback: the same bookkeeping for every target; traffic moves in the hooks -------
    def promote(self, model: str, version: str) -> dict[str, Any]:
        """The canary becomes the champion (refused unless its analysis said promote)."""
        self.check_promotable(model, version)
        self._move_traffic_to(model, version)
        self._promote_aliases(model, version)
        return {"target": self.name, "model": model, "champion": version}

    def rollback(self, model: str, version: str) -> dict[str, Any]:
        """The canary is withdrawn; the champion stays."""
        self._withdraw_canary(model, version)
        self._clear_canary(model, version)
        return {
            "target": self.name,
            "model": model,
            "rolled_back": version,
            "champion": self.registry.get_alias(model, "champion"),
        }

    def _move_traffic_to(self, model: str, version: str) -> None:
        """Send all traffic to ``version`` (nothing to do where the aliases are the deployment)."""

    def _withdraw_canary(self, model: str, version: str) -> None:
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
