"""driftloop's exceptions.

Every error driftloop raises on purpose derives from :class:`DriftloopError`. The CLI turns one into a
single line ``error: <what went wrong> — <what to change>`` and an exit code; ``--debug`` shows the
traceback. The hierarchy::

    DriftloopError                 exit 1 unless said otherwise
    ├── ConfigError                exit 2 — bad/unknown setting, bad flag value
    ├── UsageError                 exit 2 — bad CLI input (missing file, bad argument combination)
    ├── DataError                  exit 2 — input data that cannot be used (schema, empty window, ...)
    ├── EventError                 exit 2 — an event that does not match the schema
    ├── NotFound                   exit 1 — a stored object, version or run does not exist
    ├── Conflict                   exit 1 — a create-if-absent write found the object already there
    ├── ConnectionError_           exit 1 — a service (Kafka, S3, Argo) cannot be reached; retriable
    ├── IntegrityError             exit 1 — a checksum mismatch (tampered model file)
    ├── WorkflowError              exit 1 — a workflow could not be compiled, loaded or run
    └── ServiceError               exit 1 — an embedded service failed to start or stop

``retriable`` tells a caller whether trying again can help (kafka-python's habit).
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "Conflict",
    "ConnectionError_",
    "DataError",
    "DriftloopError",
    "EventError",
    "IntegrityError",
    "NotFound",
    "ServiceError",
    "UsageError",
    "WorkflowError",
]


class DriftloopError(Exception):
    """Base class: ``message`` says what went wrong, ``hint`` what to change."""

    exit_code: int = 1
    retriable: bool = False

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message


class ConfigError(DriftloopError):
    """A setting is unknown, malformed or inconsistent."""

    exit_code = 2


class UsageError(DriftloopError):
    """The command line asks for something that cannot be done as given."""

    exit_code = 2


class DataError(DriftloopError):
    """Input data cannot be used (wrong schema, empty, unreadable)."""

    exit_code = 2


class EventError(DriftloopError):
    """An event is malformed or does not match its schema."""

    exit_code = 2


class NotFound(DriftloopError):  # noqa: N818 - reads as a status, like httpx's names
    """A stored object (S3 key, model version, run record) does not exist; ``key`` names it."""

    def __init__(self, message: str, hint: str | None = None, key: str = "") -> None:
        super().__init__(message, hint)
        self.key = key


class Conflict(DriftloopError):  # noqa: N818
    """A create-if-absent write found the object already there."""


class ConnectionError_(DriftloopError):  # noqa: N801, N818 - avoid shadowing the builtin ConnectionError
    """A service (Kafka, S3, Argo server, Kubernetes API) cannot be reached."""

    retriable = True


class IntegrityError(DriftloopError):
    """Stored bytes do not match their recorded checksum."""


class WorkflowError(DriftloopError):
    """A workflow cannot be compiled, loaded or run."""


class ServiceError(DriftloopError):
    """An embedded service failed to start, answer or stop."""
