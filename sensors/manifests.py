"""Compile a :class:`~sensors.rule.TriggerRule` into Argo Events YAML: EventBus, EventSource, Sensor.

A pure function of the rule and the settings (``render_sensor_manifests``); ``driftloop compile`` writes
the result under ``manifests/`` and ``--check`` fails when it is stale. The monitored models come from
``settings.models`` unless the rule names them (:meth:`TriggerRule.for_settings`).

The Sensor runs as :data:`SENSOR_ACCOUNT`, whose Role may only ``create`` ``workflows``, so its trigger
is a ``k8s`` trigger with ``operation: create``: one create through the dynamic client. The
``argoWorkflow`` trigger would shell out to ``argo submit`` and then list workflows by label, which that
Role does not allow (argoproj/argo-events ``pkg/sensors/triggers/argo-workflow``). In Argo Events v1.x
the k8s trigger has no ``group``/``version``/``resource`` fields: the resource to create is derived from
the ``apiVersion``/``kind`` of ``source.resource`` (``argoproj.io/v1alpha1`` ``Workflow`` → ``workflows``,
``triggers.GetGroupVersionResource``). No ``liveObject`` and no trigger ``policy``: both read objects back.
 Objects are built with
``hera.events.models`` and dumped to plain dicts; two places are patched after the dump because Hera
7.1's generated models cannot express them (see :func:`_dump`):

* ``ArtifactLocation.resource`` is a ``K8SResource`` holding one base64 ``value``: a dict passed there is
  silently dropped (the dump shows ``resource: {}``), so the Workflow is set on the dumped dict.
* ``Backoff.duration`` / ``factor`` / ``jitter`` are modelled as objects (``Int64OrString``, ``Amount``)
  while the Argo Events v1.9 schema wants a string/number, so ``retryStrategy`` is written as plain data.

Secrets (SASL user/password, CA certificate) are ``secretKeyRef`` references, never values.
"""

from __future__ import annotations

from typing import Any

import yaml

from driftloop.compiler import header
from driftloop.config import Settings
from driftloop.contracts import RETRAIN_TEMPLATE_OF_EVENT, RUN_NAME_TEMPLATE, TRIGGER_PARAMETERS
from sensors import security
from sensors.rule import DEFAULT_RULE, TriggerRule

__all__ = [
    "EVENT_BUS",
    "EVENT_SOURCE_ACCOUNT",
    "KAFKA_SECRET",
    "KAFKA_TLS_SECRET",
    "SENSOR_ACCOUNT",
    "SENSOR_FILE",
    "build_event_bus",
    "build_event_source",
    "build_sensor",
    "event_bus_kind",
    "event_bus_topics",
    "render_sensor_manifests",
    "workflow_resource",
]

EVENT_BUS = "driftloop"
KAFKA_SECRET = "driftloop-kafka"  # keys: username, password
KAFKA_TLS_SECRET = "driftloop-kafka-tls"  # key: ca.crt
SENSOR_FILE = "base/generated/sensors/sensor.yaml"
#: The Sensor pod's account (manifests/base/rbac-sensor.yaml): may only create argoproj.io workflows.
SENSOR_ACCOUNT = "driftloop-sensor"
#: The EventSource pod's account (manifests/base/rbac-eventsource.yaml): on a Kafka EventBus Argo Events
#: elects the active EventSource pod with a Kubernetes Lease, which the namespace's default account may
#: not touch.
EVENT_SOURCE_ACCOUNT = "driftloop-eventsource"
_LABELS = {"app.kubernetes.io/name": "driftloop", "app.kubernetes.io/part-of": "driftloop"}


def _meta(name: str, component: str) -> dict[str, Any]:
    # No namespace: kustomize sets it (manifests/base), as for the WorkflowTemplates.
    return {"name": name, "labels": {**_LABELS, "app.kubernetes.io/component": component}}


def _dump(model: Any) -> dict[str, Any]:
    out: dict[str, Any] = model.model_dump(by_alias=True, exclude_none=True, mode="json")
    return out


def _sasl_tls(settings: Settings) -> dict[str, Any]:
    """SASL / TLS blocks as secret references, following ``kafka.security_protocol``."""
    from hera.events.models import SASLConfig, TLSConfig
    from hera.events.models.io.k8s.api.core.v1 import SecretKeySelector

    out: dict[str, Any] = {}
    k = settings.kafka
    if k.security_protocol.startswith("SASL"):
        out["sasl"] = _dump(
            SASLConfig(
                mechanism=k.sasl_mechanism or "PLAIN",
                user_secret=SecretKeySelector(name=KAFKA_SECRET, key="username"),
                password_secret=SecretKeySelector(name=KAFKA_SECRET, key="password"),
            )
        )
    if k.security_protocol.endswith("SSL"):
        tls: dict[str, Any] = {}
        if k.ssl_cafile:
            tls = _dump(TLSConfig(ca_cert_secret=SecretKeySelector(name=KAFKA_TLS_SECRET, key="ca.crt")))
        # TLSConfig.enabled exists in the v1.9 schema but not in Hera 7.1's model.
        out["tls"] = tls or {"enabled": True}
    return out


def event_bus_kind(settings: Settings) -> str:
    """``eventbus``: ``kafka`` or ``jetstream``; ``auto`` = kafka when a Kafka address is configured (the
    cluster already runs the broker driftloop needs), else JetStream."""
    if settings.eventbus != "auto":
        return settings.eventbus
    return "kafka" if settings.kafka.bootstrap_servers else "jetstream"


def event_bus_topics(settings: Settings, sensor: str = DEFAULT_RULE.name) -> list[str]:
    """The Kafka topics a Kafka EventBus needs (Argo Events creates none unless the brokers auto-create
    topics): the event topic, and per Sensor ``<topic>-<sensor>-trigger`` and ``-action``."""
    topic = settings.topics.eventbus
    return [topic, f"{topic}-{sensor}-trigger", f"{topic}-{sensor}-action"]


def build_event_bus(settings: Settings) -> dict[str, Any]:
    """The EventBus (Hera 7.1 has no EventBus model, so this one is plain data): on the configured Kafka
    (``spec.kafka``: its address, SASL/TLS from the same Secrets as the EventSource, the event topic
    ``topics.eventbus``), or a JetStream one the Argo Events controller runs."""
    if event_bus_kind(settings) == "kafka":
        spec: dict[str, Any] = {
            "kafka": {
                "url": settings.bootstrap_servers,
                "topic": settings.topics.eventbus,
                # a Sensor that starts after events were sent still reads them. The API field is `oldest`
                # (Argo Events' docs say startOldest; its schema refuses that) and groupName is required.
                "consumerGroup": {
                    "groupName": f"{settings.sensor.consumer_group}-eventbus",
                    "oldest": True,
                    "rebalanceStrategy": "range",
                },
                **_sasl_tls(settings),
            }
        }
    else:
        spec = {
            "jetstream": {
                "version": "2.10.10",
                "replicas": 3,
                "persistence": {"volumeSize": "1Gi"},
                # fsGroup: nats writes its stream files to the persistence volume as a non-root user.
                "securityContext": security.pod_security_context(fs_group=True),
                "containerTemplate": security.container("nats"),
                "reloaderContainerTemplate": security.container("sidecar"),
                "metricsContainerTemplate": security.container("sidecar"),
            }
        }
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "EventBus",
        "metadata": _meta(EVENT_BUS, "eventbus"),
        "spec": spec,
    }


def build_event_source(settings: Settings, rule: TriggerRule = DEFAULT_RULE) -> dict[str, Any]:
    """A Kafka EventSource on the drift topic, in the sensor's consumer group, JSON bodies decoded."""
    from hera.events.models import EventSourceSpec, KafkaConsumerGroup, KafkaEventSource

    kafka = KafkaEventSource(
        url=settings.bootstrap_servers,
        topic=settings.topics.drift_events,
        json_body=True,
        consumer_group=KafkaConsumerGroup(
            group_name=settings.sensor.consumer_group, oldest=True, rebalance_strategy="range"
        ),
    )
    entry = {**_dump(kafka), **_sasl_tls(settings)}
    entry["connectionBackoff"] = {"duration": "10s", "steps": 5, "factor": 2, "jitter": 0.2}
    spec = _dump(EventSourceSpec(event_bus_name=EVENT_BUS))
    spec["template"] = security.pod_template("eventsource", EVENT_SOURCE_ACCOUNT)
    spec["kafka"] = {rule.event_name: entry}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "EventSource",
        "metadata": _meta(rule.event_source, "eventsource"),
        "spec": spec,
    }


def workflow_resource(settings: Settings, rule: TriggerRule = DEFAULT_RULE) -> dict[str, Any]:
    """The Workflow the trigger creates: a reference to the template; the name and the parameters are
    filled by the trigger's ``parameters`` (``dest``)."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {
            "name": "placeholder",  # replaced by dest: metadata.name
            "labels": {
                **_LABELS,
                "app.kubernetes.io/component": "retrain",
                "driftloop.io/trigger": rule.name,
            },
        },
        "spec": {
            # replaced by the trigger: the retrain template of the event's model
            "workflowTemplateRef": {"name": rule.template},
            "arguments": {"parameters": [{"name": p, "value": ""} for p in TRIGGER_PARAMETERS]},
        },
    }


def _trigger_parameters(rule: TriggerRule) -> list[Any]:
    from hera.events.models import TriggerParameter, TriggerParameterSource

    dep = rule.dependency

    def arg(name: str, **src: Any) -> TriggerParameter:
        return TriggerParameter(
            src=TriggerParameterSource(dependency_name=dep, **src),
            dest=f"spec.arguments.parameters.{TRIGGER_PARAMETERS.index(name)}.value",
        )

    return [
        arg("model", data_key="body.data.model"),
        arg("reason", data_key="body.data.reason", value=rule.reason),
        arg("event_id", data_key="body.id"),
        arg("report_uri", data_key="body.data.report_uri", value=""),
        TriggerParameter(
            src=TriggerParameterSource(dependency_name=dep, data_template=RUN_NAME_TEMPLATE),
            dest="metadata.name",
        ),
        # one template per model (driftloop.contracts.retrain_template); the filter admits only models
        # that have one
        TriggerParameter(
            src=TriggerParameterSource(dependency_name=dep, data_template=RETRAIN_TEMPLATE_OF_EVENT),
            dest="spec.workflowTemplateRef.name",
        ),
        TriggerParameter(
            src=TriggerParameterSource(dependency_name=dep, data_key="body.data.model"),
            dest="metadata.labels.driftloop\\.io/model",
        ),
    ]


def _dead_letter_trigger(settings: Settings, rule: TriggerRule) -> dict[str, Any]:
    """A Kafka trigger to the dead-letter topic, used when the Workflow cannot be created."""
    from hera.events.models import KafkaTrigger, TriggerParameter, TriggerParameterSource, TriggerTemplate

    dep = rule.dependency
    kafka = KafkaTrigger(
        url=settings.bootstrap_servers,
        topic=settings.topics.dead_letters,
        required_acks=-1,
        payload=[
            TriggerParameter(
                src=TriggerParameterSource(dependency_name=dep, value="trigger-failed"), dest="reason"
            ),
            TriggerParameter(
                src=TriggerParameterSource(dependency_name=dep, value=settings.topics.drift_events),
                dest="source_topic",
            ),
            TriggerParameter(
                src=TriggerParameterSource(dependency_name=dep, data_key="body"), dest="payload"
            ),
        ],
    )
    template = _dump(TriggerTemplate(name=f"{rule.name}-dead-letter", kafka=kafka))
    template["kafka"].update(_sasl_tls(settings))
    return {"template": template, "atLeastOnce": True}


def build_sensor(settings: Settings, rule: TriggerRule = DEFAULT_RULE) -> dict[str, Any]:
    """The Sensor: one dependency with the rule's filters, one ``k8s`` trigger creating the Workflow."""
    from hera.events.models import (
        DataFilter,
        EventDependency,
        EventDependencyFilter,
        ExprFilter,
        PayloadField,
        RateLimit,
        SensorSpec,
        StandardK8STrigger,
        Trigger,
        TriggerTemplate,
    )

    rule = rule.for_settings(settings)

    data = [
        DataFilter(path="body.type", type="string", value=rule.type_patterns()),
        # the monitor sets data.retrain when a signal its definition's `triggers` name fired
        DataFilter(path="body.data.retrain", type="bool", value=["true"]),
    ]
    if rule.models:
        data.append(DataFilter(path="body.data.model", type="string", value=rule.model_patterns()))
    exprs = None
    if rule.min_drift_share is not None:
        exprs = [
            ExprFilter(
                expr=f"share >= {rule.min_drift_share!r}",
                fields=[PayloadField(name="share", path="body.data.drift_share")],
            )
        ]
    dependency = EventDependency(
        name=rule.dependency,
        event_source_name=rule.event_source,
        event_name=rule.event_name,
        filters_logical_operator="and",
        filters=EventDependencyFilter(
            data=data,
            data_logical_operator="and",
            exprs=exprs,
            expr_logical_operator="and" if exprs else None,
        ),
    )
    trigger = Trigger(
        template=TriggerTemplate(
            name=f"{rule.name}-retrain",
            k8s=StandardK8STrigger(operation="create", parameters=_trigger_parameters(rule)),
        ),
        at_least_once=True,
        rate_limit=RateLimit(unit="Minute", requests_per_unit=rule.rate_per_minute),
    )
    spec = _dump(
        SensorSpec(
            event_bus_name=EVENT_BUS,
            dependencies=[dependency],
            triggers=[trigger],
        )
    )
    triggers = spec.pop("triggers")  # spec.template first, for the reader of the YAML
    spec["template"] = security.pod_template("sensor", SENSOR_ACCOUNT)
    spec["triggers"] = triggers
    trig = triggers[0]
    # Hera drops a dict given as source.resource (K8SResource only models a base64 value): set it here.
    trig["template"]["k8s"]["source"] = {"resource": workflow_resource(settings, rule)}
    # Hera's Backoff models duration/factor/jitter as objects; the schema wants string / numbers.
    trig["retryStrategy"] = {"steps": rule.retry_steps, "duration": "2s", "factor": 2, "jitter": 0.2}
    trig["dlqTrigger"] = _dead_letter_trigger(settings, rule)
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Sensor",
        "metadata": _meta(rule.name, "sensor"),
        "spec": spec,
    }


def _yaml(doc: dict[str, Any]) -> str:
    body = yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=120)
    return header("sensors/manifests.py") + body


def render_sensor_manifests(settings: Settings, rule: TriggerRule = DEFAULT_RULE) -> dict[str, str]:
    """Relative path under ``manifests/`` → YAML text, one object per file."""
    rule = rule.for_settings(settings)
    base = SENSOR_FILE.rsplit("/", 1)[0]
    return {
        f"{base}/eventbus.yaml": _yaml(build_event_bus(settings)),
        f"{base}/eventsource.yaml": _yaml(build_event_source(settings, rule)),
        SENSOR_FILE: _yaml(build_sensor(settings, rule)),
    }
