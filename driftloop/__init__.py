"""driftloop: event-driven retraining for ML models on Argo.

Drift monitors (``monitors``) publish CloudEvents to Kafka; an Argo Events Sensor (``sensors``) turns a
drift event into a run of the retraining WorkflowTemplate (``workflows``). ``driftloop`` holds what they
share — configuration, errors, the event envelope, Kafka and S3 access, the model registry, the CLI —
and local mode, which runs the same compiled YAML on one machine.
"""

from driftloop.errors import (
    ConfigError,
    ConnectionError_,
    DataError,
    DriftloopError,
    EventError,
    IntegrityError,
    ServiceError,
    UsageError,
    WorkflowError,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "ConnectionError_",
    "DataError",
    "DriftloopError",
    "EventError",
    "IntegrityError",
    "ServiceError",
    "UsageError",
    "WorkflowError",
    "__version__",
]
