"""The model server: ``driftloop serve --model M`` — predict, health, metrics, feedback, canary routing.

Public API::

    from driftloop.serving import ModelServer
    with ModelServer(settings, "credit", port=0) as server:   # champion (+ canary) from the registry
        ...                                                   # POST {server.url}/v1/models/credit/predict

See :mod:`driftloop.serving.service` for the request, response and inference-log record shapes and
:mod:`workflows.deploy.analysis` for canary analysis.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from driftloop.serving.router import bucket_of, choose_route
from driftloop.serving.server import ModelServer

if TYPE_CHECKING:
    from driftloop.config import Settings

__all__ = ["ModelServer", "bucket_of", "choose_route", "server_component"]


def server_component(settings: Settings) -> ModelServer:
    """``driftloop up``'s model server: every registry model, discovered as they appear."""
    return ModelServer(settings, None)
