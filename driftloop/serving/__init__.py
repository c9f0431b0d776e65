"""The model server: ``driftloop serve --model M`` — Open Inference Protocol V2 and KServe V1 predict,
health, metrics, feedback, canary routing and shadow mirroring (an ASGI app on uvicorn).

Public API::

    from driftloop.serving import ModelServer
    with ModelServer(settings, "credit", port=0) as server:   # champion (+ canary) from the registry
        ...                                                   # POST {server.url}/v2/models/credit/infer
        ...                                                   # POST {server.feedback_url}/v1/feedback

See :mod:`driftloop.serving.app` for the endpoints, :mod:`driftloop.serving.ports` for which port serves
which, :mod:`driftloop.serving.protocol` for the V1/V2
shapes, :mod:`driftloop.serving.service` for the inference-log record and :mod:`workflows.deploy.analysis`
for canary analysis.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from driftloop.serving.router import Router
from driftloop.serving.server import ModelServer

if TYPE_CHECKING:
    from driftloop.config import Settings

__all__ = ["ModelServer", "Router", "server_component"]


def server_component(settings: Settings) -> ModelServer:
    """``driftloop up``'s model server: every registry model, discovered as they appear."""
    return ModelServer(settings, None)
