"""The ``local`` target: the registry is the deployment. The local model server follows the ``canary``
alias and the challenger's ``canary_deploy`` record (polled every second): it routes ``fraction`` of the
requests to a canary, or mirrors ``fraction`` of them to a shadow, which never answers."""

from __future__ import annotations

from workflows.deploy.target import BaseTarget

__all__ = ["LocalTarget"]


class LocalTarget(BaseTarget):
    name = "local"

    def traffic_problem(self, model: str) -> str | None:
        """No model server runs on this machine for ``model`` (``driftloop up`` and ``driftloop serve``
        announce theirs under the data directory)."""
        from driftloop.serving.presence import serves

        if serves(self.settings.data_dir, model):
            return None
        return (
            f"no model server is serving {model} on this machine (`driftloop up --services-only` starts none)"
        )
