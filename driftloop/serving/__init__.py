"""The model server: ``driftloop serve --model M`` — predict, health, metrics, feedback, canary routing.

Public API::

    from driftloop.serving import ModelServer
    with ModelServer(settings, "credit", port=0) as server:   # champion (+ canary) from the registry
        ...                                                   # POST {server.url}/v1/models/credit/predict

See :mod:`driftloop.serving.service` for the request, response and inference-log record shapes and
:mod:`driftloop.serving.analysis` for canary analysis.
"""

from driftloop.serving.router import bucket_of, choose_route
from driftloop.serving.server import ModelServer

__all__ = ["ModelServer", "bucket_of", "choose_route"]
