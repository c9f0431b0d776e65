"""The ``local`` target: the registry is the deployment. The local model server follows the ``canary``
alias and the challenger's ``canary_deploy`` record (polled every second): it routes ``fraction`` of the
requests to a canary, or mirrors ``fraction`` of them to a shadow, which never answers."""

from __future__ import annotations

from workflows.deploy.target import BaseTarget

__all__ = ["LocalTarget"]


class LocalTarget(BaseTarget):
    name = "local"
