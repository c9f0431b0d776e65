"""driftloop's configuration, resolved once at the entry point.

Precedence, highest first: CLI flags (``--set section.key=value`` and command flags) > ``DRIFTLOOP_*``
environment variables (``DRIFTLOOP_KAFKA__BOOTSTRAP_SERVERS``: sections and keys joined by ``__``) >
the YAML file (``driftloop.yaml`` in the working directory, or ``--config`` / ``DRIFTLOOP_CONFIG``) >
defaults. Unknown keys are rejected wherever they come from, naming the key.

When ``kafka.bootstrap_servers`` or ``s3.endpoint_url`` is empty, driftloop uses the embedded service
(Tansu / SeaweedFS on loopback, started by ``driftloop up``) at the ports under ``embedded``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from driftloop.errors import ConfigError
from driftloop.modelspec import MODEL_NAME, CanarySettings, ModelSpec, example_spec

__all__ = ["ENV_PREFIX", "CanarySettings", "Settings", "export_settings", "load_settings", "masked_dict"]

ENV_PREFIX = "DRIFTLOOP_"
DEFAULT_CONFIG_FILE = "driftloop.yaml"
# Environment variables with the prefix that are not settings.
_ENV_NOT_SETTINGS = {
    "DRIFTLOOP_CONFIG",
    "DRIFTLOOP_DEBUG",
    "DRIFTLOOP_UPDATE_GOLDEN",
    "DRIFTLOOP_TERMINATION_LOG",
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class KafkaSettings(_Section):
    bootstrap_servers: str = Field("", description="host:port[,host:port]; empty = the embedded broker")
    engine: Literal["tansu", "apache"] = Field(
        "tansu",
        description="the embedded broker `driftloop up` starts: tansu (built in) or apache (Apache Kafka on "
        "Java 17+, from the jars `make kafka` installs)",
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = ""
    sasl_username: str = ""
    sasl_password: SecretStr = SecretStr("")
    ssl_cafile: str = Field("", description="CA bundle for SSL / SASL_SSL")
    client_id: str = "driftloop"
    # kafka-python 3.x joins a consumer group only after the rebalance timeout, which follows
    # max_poll_interval_ms; a small value keeps local consumers quick to start.
    max_poll_interval_ms: int = Field(3_000, ge=1_000)
    request_timeout_ms: int = Field(10_000, ge=1_000)


class TopicSettings(_Section):
    drift_events: str = "driftloop.drift-events"
    inference_log: str = "driftloop.inference-log"
    feedback: str = "driftloop.feedback"
    outcomes: str = "driftloop.retrain-outcomes"
    dead_letters: str = "driftloop.dead-letters"
    eventbus: str = Field(
        "driftloop.eventbus",
        description="the event topic of a Kafka EventBus (Argo Events adds <topic>-<sensor>-trigger and "
        "-action)",
    )
    partitions: int = Field(1, ge=1)

    def all(self) -> list[str]:
        return [self.drift_events, self.inference_log, self.feedback, self.outcomes, self.dead_letters]


class S3Settings(_Section):
    endpoint_url: str = Field("", description="http(s)://host:port; empty = the embedded SeaweedFS")
    region: str = "us-east-1"
    bucket: str = "driftloop"
    # empty with the embedded S3: the data_dir's own random pair (driftloop.s3.credentials)
    access_key_id: str = ""
    secret_access_key: SecretStr = SecretStr("")


class EmbeddedSettings(_Section):
    host: str = "127.0.0.1"
    kafka_port: int = Field(19092, ge=1, le=65535)
    kafka_controller_port: int = Field(19093, ge=1, le=65535, description="kafka.engine=apache only (KRaft)")
    kafka_libs: str = Field(
        "", description="kafka.engine=apache: the directory of Apache Kafka's jars; empty = .bin/kafka/libs"
    )
    s3_port: int = Field(18333, ge=1, le=65535)
    # SeaweedFS needs a master, a volume server and a filer behind its S3 gateway; their gRPC ports are
    # the HTTP port + 10000, so keep these below 55536.
    weed_master_port: int = Field(19333, ge=1, le=55535)
    weed_volume_port: int = Field(18080, ge=1, le=55535)
    weed_filer_port: int = Field(18888, ge=1, le=55535)
    kafka_storage: Literal["memory", "s3"] = Field(
        "s3",
        description="where the embedded broker keeps its data: s3 (on the embedded SeaweedFS, survives "
        "a restart) or memory (faster, lost on restart)",
    )
    start_timeout_s: float = Field(60.0, gt=0)
    stop_grace_s: float = Field(5.0, ge=0)
    runs_stop_timeout_s: float = Field(
        120.0,
        gt=0,
        description="how long `up` waits, when it stops, for its cancelled runs' exit handlers (`down` waits "
        "for `up` that long plus a minute before it kills it)",
    )


class ArgoSettings(_Section):
    server_url: str = Field("", description="Argo Server URL; empty = run workflows in the local executor")
    namespace: str = "driftloop"
    token: SecretStr = SecretStr("")
    verify_ssl: bool = True
    service_account: str = "driftloop-workflow"


class RegistrySettings(_Section):
    signing_key: SecretStr = Field(
        SecretStr(""),
        description="Ed25519 private key (base64) that signs registry records; only signing components hold "
        "it; empty = a key pair under data_dir (local mode)",
    )
    verify_key: str = Field(
        "",
        description="Ed25519 public key (base64) that checks registry signatures; empty = the signing key's "
        "public half, or local mode's key pair",
    )


class DeploySettings(_Section):
    target: Literal["local", "kubernetes", "kserve"] = "local"
    namespace: str = "driftloop"


class ServingSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(
        8080, ge=0, le=65535, description="predict, metadata, health and metrics (0: any free port)"
    )
    feedback_port: int = Field(
        8081,
        ge=0,
        le=65535,
        description="POST /v1/feedback only (and the health probes), so a NetworkPolicy can admit it from "
        "fewer clients than predict; 0: any free port",
    )
    canary_fraction: float = Field(0.2, ge=0, le=1)
    log_queue_size: int = Field(10_000, ge=1)
    log_batch_size: int = Field(200, ge=1)
    auth_token: SecretStr = Field(
        SecretStr(""),
        description="bearer token required by POST /v1/feedback (empty: open; DRIFTLOOP_SERVING__AUTH_TOKEN)",
    )
    max_concurrency: int = Field(
        256, ge=1, description="open connections + requests in progress; beyond it the server answers 503"
    )
    max_connections_per_client: int = Field(
        64,
        ge=1,
        description="connections one client address may predict on; more get 429 (health probes excepted). "
        "Behind a proxy every client has the proxy's address: raise it to max_concurrency there",
    )
    max_body_bytes: int = Field(
        32 * 1024 * 1024, ge=1024, description="the largest request body in bytes (413 beyond)"
    )
    max_body_bytes_in_flight: int = Field(
        256 * 1024 * 1024,
        ge=1024,
        description="bytes of request bodies (past the first 64 KiB of each) held at once; beyond: 503",
    )
    max_json_values: int = Field(
        250_000,
        ge=100,
        description="JSON values (numbers, strings, arrays, objects) one body may hold; more: a 413, before "
        "the body is parsed (250,000: a full batch of 10,000 rows x 25 features)",
    )
    max_json_depth: int = Field(32, ge=4, description="how deeply a body's arrays and objects may nest (400)")
    drain_s: float = Field(
        0.0,
        ge=0,
        le=60,
        description="on SIGTERM, keep serving this long with /readyz answering 503 before the listeners "
        "close, so a Kubernetes Service stops sending new connections first (0: close at once)",
    )

    @model_validator(mode="after")
    def _distinct_ports(self) -> ServingSettings:
        if self.port and self.port == self.feedback_port:
            raise ValueError(
                f"serving.port and serving.feedback_port are both {self.port}: feedback needs a port of its "
                "own (set serving.feedback_port, default 8081)"
            )
        return self


class SensorSettings(_Section):
    consumer_group: str = "driftloop-sensor"
    cooldown_s: float = Field(600.0, ge=0)
    concurrency_policy: Literal["skip", "queue", "replace"] = "skip"
    max_pending: int = Field(20, ge=1)
    storm_max_per_hour: int = Field(6, ge=1)


class Settings(_Section):
    """The whole configuration. Sections mirror the YAML file and the ``DRIFTLOOP_*`` variables."""

    data_dir: Path = Field(
        Path(".driftloop"),
        validate_default=True,
        description="state, logs, runs and embedded-service data",
    )
    models: dict[str, ModelSpec] = Field(
        default_factory=dict,
        description="the models driftloop monitors, retrains and serves: name -> spec (or a list of "
        "built-in examples); none by default",
    )
    eventbus: Literal["auto", "kafka", "jetstream"] = Field(
        "auto",
        description="the Argo Events EventBus on a cluster: kafka (on the configured Kafka) or jetstream "
        "(NATS run by Argo Events); auto = kafka when kafka.bootstrap_servers is set",
    )
    manifests_dir: Path = Field(
        Path("manifests"), validate_default=True, description="where `driftloop compile` writes YAML"
    )
    kafka: KafkaSettings = KafkaSettings()
    topics: TopicSettings = TopicSettings()
    s3: S3Settings = S3Settings()
    embedded: EmbeddedSettings = EmbeddedSettings()
    argo: ArgoSettings = ArgoSettings()
    registry: RegistrySettings = RegistrySettings()
    deploy: DeploySettings = DeploySettings()
    serving: ServingSettings = ServingSettings()
    canary: CanarySettings = CanarySettings()
    sensor: SensorSettings = SensorSettings()

    @field_validator("data_dir", "manifests_dir", mode="after")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        # Resolved once, here: a step process, a sandbox or a child started elsewhere must find the same
        # directory (a relative data_dir once sent a step's config path into its sandbox). A path from
        # the config file was already made relative to that file (_file_relative).
        return Path(value).expanduser().resolve()

    @field_validator("models", mode="before")
    @classmethod
    def _expand_models(cls, value: Any) -> Any:
        # DRIFTLOOP_MODELS=a,b and --set models=a,b arrive as one string; a list names built-in examples
        if isinstance(value, str):
            value = [m.strip() for m in value.split(",") if m.strip()]
        if isinstance(value, list | tuple):
            return {str(name): example_spec(str(name)) for name in value}
        if isinstance(value, Mapping):
            out = {}
            for name, spec in value.items():
                # `models: {credit: {}}` or `credit: null` = the built-in example of that name; any other
                # entry is the user's own spec, whatever its name (never merged with an example)
                out[name] = spec if spec else example_spec(str(name))
            return out
        return value

    @model_validator(mode="after")
    def _check_models(self) -> Settings:
        for name in self.models:
            if not MODEL_NAME.match(name) or len(name) > 63:
                raise ValueError(
                    f"model name {name!r} is not an RFC 1123 label (lowercase letters, digits, '-', "
                    "at most 63 characters)"
                )
        return self

    def model(self, name: str) -> ModelSpec:
        """The spec of model ``name``; a ConfigError names the configured models."""
        spec = self.models.get(name)
        if spec is None:
            raise ConfigError(
                f"model {name!r} is not configured (models: {', '.join(self.models) or 'none'})",
                "add it under `models:` in driftloop.yaml (`driftloop init NAME` scaffolds one)",
            )
        return spec

    def canary_for(self, name: str) -> CanarySettings:
        """The canary section with model ``name``'s overrides applied."""
        spec = self.models.get(name)
        overrides = spec.canary.model_dump(exclude_unset=True) if spec is not None else {}
        if not overrides:
            return self.canary
        return CanarySettings.model_validate({**self.canary.model_dump(), **overrides})

    @property
    def kafka_is_embedded(self) -> bool:
        return not self.kafka.bootstrap_servers

    @property
    def s3_is_embedded(self) -> bool:
        return not self.s3.endpoint_url

    @property
    def bootstrap_servers(self) -> str:
        """The Kafka address clients use: the configured one, or the embedded broker's."""
        if self.kafka.bootstrap_servers:
            return self.kafka.bootstrap_servers
        return f"{self.embedded.host}:{self.embedded.kafka_port}"

    @property
    def s3_endpoint(self) -> str:
        """The S3 endpoint clients use: the configured one, or the embedded SeaweedFS gateway."""
        if self.s3.endpoint_url:
            return self.s3.endpoint_url
        return f"http://{self.embedded.host}:{self.embedded.s3_port}"


def _deep_merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _set_path(target: dict[str, Any], dotted: str, value: Any, origin: str) -> None:
    parts = [p for p in dotted.split(".") if p]
    if not parts:
        raise ConfigError(
            f"empty setting name in {origin}", "use section.key=value, e.g. kafka.bootstrap_servers"
        )
    node = target
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"setting {dotted!r} in {origin} conflicts with another value", "set it once")
    node[parts[-1]] = value


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name in _ENV_NOT_SETTINGS:
            continue
        dotted = name[len(ENV_PREFIX) :].lower().replace("__", ".")
        _set_path(out, dotted, value, f"environment variable {name}")
    return out


def _from_file(path: Path, explicit: bool) -> dict[str, Any]:
    if not path.exists():
        if explicit:
            raise ConfigError(f"config file {path} does not exist", "fix --config / DRIFTLOOP_CONFIG")
        return {}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f" (line {line + 1})" if line is not None else ""
        raise ConfigError(f"config file {path} is not valid YAML{where}", "fix the YAML syntax") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of sections", "see README: Configuration")
    return data


def _file_relative(layer: dict[str, Any], base: Path) -> dict[str, Any]:
    """Paths in a config file are relative to that file, as in a kustomization or a compose file:
    ``data_dir`` and ``manifests_dir``; a model's ``code_dir`` (default: the file's directory) and local
    ``dataset`` (never the working directory, which differs for a step process)."""
    layer = dict(layer)
    for key in ("data_dir", "manifests_dir"):
        value = layer.get(key)
        if isinstance(value, str | Path) and str(value) and not Path(value).expanduser().is_absolute():
            layer[key] = str(base / value)
    models = layer.get("models")
    if not isinstance(models, Mapping):
        return layer
    out = {}
    for name, spec in models.items():
        if isinstance(spec, Mapping) and spec:  # an empty entry names a built-in example
            code_dir = spec.get("code_dir")
            spec = {**spec, "code_dir": str(base / code_dir) if code_dir else str(base)}
            dataset = str(spec.get("dataset") or "")
            if dataset and "://" not in dataset and not Path(dataset).is_absolute():
                spec["dataset"] = str(base / dataset)  # a local table, next to the config file
        out[name] = spec
    return {**layer, "models": out}


def _describe(err: ValidationError, origins: dict[str, str]) -> ConfigError:
    first = err.errors()[0]
    key = ".".join(str(p) for p in first["loc"])
    origin = origins.get(key, origins.get(key.split(".")[0], "configuration"))
    if origin == "environment":
        origin = f"environment variable {ENV_PREFIX}{key.upper().replace('.', '__')}"
    if first["type"] == "extra_forbidden":
        return ConfigError(
            f"unknown setting {key!r} (from {origin})",
            "remove it or fix its spelling; `driftloop config show` lists every setting",
        )
    msg = str(first["msg"]).removeprefix("Value error, ")
    if not key:
        return ConfigError(f"invalid configuration: {msg}", "change that value")
    return ConfigError(f"invalid value for {key!r} (from {origin}): {msg}", "change that value")


def _origins(layers: list[tuple[str, dict[str, Any]]]) -> dict[str, str]:
    origins: dict[str, str] = {}

    def walk(prefix: str, node: Mapping[str, Any], origin: str) -> None:
        for key, value in node.items():
            dotted = f"{prefix}{key}"
            origins[dotted] = origin
            if isinstance(value, Mapping):
                walk(f"{dotted}.", value, origin)

    for origin, layer in layers:
        walk("", layer, origin)
    return origins


def load_settings(
    config_path: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve the configuration: ``overrides`` (dotted keys) > env > file > defaults.

    ``config_path`` None means ``DRIFTLOOP_CONFIG`` or ``./driftloop.yaml`` if it exists.
    """
    env = os.environ if env is None else env
    explicit = config_path is not None or bool(env.get("DRIFTLOOP_CONFIG"))
    path = Path(config_path or env.get("DRIFTLOOP_CONFIG") or DEFAULT_CONFIG_FILE)
    file_layer = _file_relative(_from_file(path, explicit), path.resolve().parent)
    env_layer = _from_env(env)
    flag_layer: dict[str, Any] = {}
    for dotted, value in (overrides or {}).items():
        _set_path(flag_layer, dotted, value, f"flag {dotted}")
    layers = [(f"file {path}", file_layer), ("environment", env_layer), ("command line", flag_layer)]
    merged: dict[str, Any] = {}
    for _, layer in layers:
        merged = _deep_merge(merged, layer)
    try:
        return Settings.model_validate(merged)
    except ValidationError as err:
        raise _describe(err, _origins(layers)) from None


def masked_dict(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain data, every secret shown as ``****`` (or empty when unset)."""

    def mask(node: Any) -> Any:
        if isinstance(node, BaseModel):
            return {name: mask(getattr(node, name)) for name in type(node).model_fields}
        if isinstance(node, dict):
            return {k: mask(v) for k, v in node.items()}
        if isinstance(node, list | tuple):  # e.g. a model's notifications.webhooks
            return [mask(v) for v in node]
        if isinstance(node, SecretStr):
            return "****" if node.get_secret_value() else ""
        if isinstance(node, Path):
            return str(node)
        return node

    return mask(settings)


def export_settings(settings: Settings, path: Path) -> Path:
    """Write the effective settings, secrets included, to a 0600 YAML file that a child process loads
    with ``DRIFTLOOP_CONFIG`` — how local mode hands a workflow step the very configuration (flags
    included) of the command that started it. Paths are made absolute: the child may run elsewhere."""

    def plain(node: Any) -> Any:
        if isinstance(node, BaseModel):
            return {name: plain(getattr(node, name)) for name in type(node).model_fields}
        if isinstance(node, dict):
            return {k: plain(v) for k, v in node.items()}
        if isinstance(node, list | tuple):  # e.g. a model's notifications.webhooks
            return [plain(v) for v in node]
        if isinstance(node, SecretStr):
            return node.get_secret_value()
        if isinstance(node, Path):
            return str(node.resolve())
        return node

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.touch(mode=0o600)
    tmp.write_text(yaml.safe_dump(plain(settings), sort_keys=False))
    tmp.replace(path)
    return path
