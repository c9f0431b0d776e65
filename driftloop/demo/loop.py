"""``driftloop demo``: the whole loop on one machine, end to end, with a timeline.

Embedded Kafka + S3 → train v1 through the model's compiled retrain WorkflowTemplate in the local
executor → serve it → labelled traffic → a baseline check (no drift) → inject a downturn → the monitor
detects it and publishes a CloudEvent → the local sensor, evaluating the compiled Sensor, starts exactly
one retrain → v2 is registered with lineage back to the event, deployed as a canary, analysed on live
traffic and promoted. Then (credit, the default ``shift="both"``) a concept shift on top — the same
inputs, new outcomes — which no drift test sees: the accuracy measured on feedback labels drops, and the
monitor starts a second retrain with reason ``performance`` (v3). Last, a burst of duplicate drift events,
which must not start a second run.

``example`` picks the world (:mod:`driftloop.demo.scenarios`): ``credit`` (a classifier, the default) or
``demand`` (a regression whose canary is judged by its error on feedback labels). ``shift`` picks what
is injected: ``drift``, ``concept`` (credit: the concept shift alone) or ``both`` (credit's default).
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from driftloop.config import Settings
from driftloop.contracts import retrain_template
from driftloop.demo.scenarios import Scenario, scenario
from driftloop.demo.timeline import Timeline
from driftloop.errors import DriftloopError, ServiceError, UsageError, WorkflowError

__all__ = ["SHIFTS", "DemoResult", "run_demo"]

#: What ``driftloop demo --shift`` injects: ``drift`` (the inputs move), ``concept`` (the outcomes do), or
#: ``both``, one after the other (the default where the example has a concept-shift world).
SHIFTS = ("drift", "concept", "both")


@dataclass
class DemoResult:
    ok: bool
    summary: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def _wait(what: str, check: Callable[[], Any], timeout_s: float, poll_s: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(poll_s)
    raise ServiceError(f"demo: timed out after {timeout_s:.0f}s waiting for {what}", "see the log above")


def _demo_settings(settings: Settings, example: str) -> Settings:
    """The demo's own data directory (``<data_dir>/demo/<example>``, started afresh) and its canary
    evidence: at least 100 labels per side before accuracy decides, so a verdict is not a coin toss on a
    few dozen labels; and latency judged with a wide slack, because here one process on two cores serves
    the traffic, generates it and runs the retrain — a p95 measured like that says nothing about the
    model."""
    from driftloop.modelspec import ModelSpec, example_spec

    data_dir = Path(settings.data_dir).resolve() / "demo" / example  # one example never wipes another
    canary = settings.canary.model_copy(
        update={
            "min_labels": max(settings.canary.min_labels, 100),
            "min_requests": max(settings.canary.min_requests, 150),
            "latency_slack_ms": max(settings.canary.latency_slack_ms, 2000.0),
        }
    )
    spec = settings.models.get(example) or ModelSpec.model_validate(example_spec(example))
    # two retrains minutes apart (the drift, then the concept shift): no cooldown between drift triggers
    sensor = settings.sensor.model_copy(update={"cooldown_s": 0.0})
    return settings.model_copy(
        update={"data_dir": data_dir, "canary": canary, "sensor": sensor, "models": {example: spec}}
    )


def _manifests(settings: Settings, model: str) -> Path:
    """The compiled YAML the loop runs: the committed ``manifests/`` when it holds the templates, else
    compiled now (the same pure renderers) into the demo's data directory."""
    configured = Path(settings.manifests_dir)
    sensors = list(configured.rglob("sensor.yaml"))
    if (
        any(configured.rglob(f"{retrain_template(model)}.yaml"))
        and sensors
        and f"^{model}$" in sensors[0].read_text()
    ):
        return configured.resolve()
    from driftloop.compiler import write

    target = Path(settings.data_dir) / "manifests"
    write(settings, target)
    return target


def _check(
    settings: Settings, registry: Any, model: str, last: int, publish: bool
) -> tuple[Any, Any, str | None]:
    """One check of the champion on the last ``last`` inference-log records and the feedback labels
    that arrived for them (the monitor's code: drift, and performance against the holdout)."""
    from monitors.publish import champion_performance, champion_profile, check_and_publish
    from monitors.window import load_labels, load_window, window_start_ms

    profile = champion_profile(settings, model, registry)
    window, info = load_window("kafka", settings, model=model, last=last, log_fields=True)
    performance = champion_performance(settings, model, registry)
    labels = load_labels("kafka", settings, model=model, since_ms=window_start_ms(info))
    out = check_and_publish(
        settings, profile, window, info=info, publish=publish, performance=performance, labels=labels
    )
    return out.result, out.event, out.report_uri


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def run_demo(
    settings: Settings,
    *,
    rows: int = 6000,
    example: str = "credit",
    shift: str = "",
    console: Console | None = None,
) -> DemoResult:
    """Run the loop; returns whether every stage succeeded, with the summary written to disk.

    ``shift``: ``drift`` (the inputs move: dataset drift triggers the retrain) or ``concept`` (the same
    inputs, new outcomes: the accuracy measured on feedback labels drops, and that triggers it)."""
    from driftloop.local.runtime import Supervisor

    console = console or Console(stderr=True)
    world = scenario(example)
    shift = shift or ("both" if world.concept_data is not None else "drift")
    if shift not in SHIFTS:
        raise UsageError(f"no shift {shift!r}", f"use one of {', '.join(SHIFTS)}")
    if shift in ("concept", "both") and world.concept_data is None:
        raise UsageError(f"example {example!r} has no concept-shift world", "use --example credit")
    shifts = ("drift", "concept") if shift == "both" else (shift,)
    settings = _demo_settings(settings, example)
    data_dir = Path(settings.data_dir)
    if (data_dir / "stack.json").exists():
        from driftloop.local.embedded import stop_from_state

        stop_from_state(data_dir)
    shutil.rmtree(data_dir, ignore_errors=True)
    out_dir = data_dir / "output"
    out_dir.mkdir(parents=True)
    tl = Timeline(console)
    tl.mark("start", f"driftloop demo — data under {data_dir}")
    sup = Supervisor(settings, [])
    parts: list[Any] = []
    try:
        sup.start()
        tl.mark("stack", f"embedded Kafka {settings.bootstrap_servers} and S3 {settings.s3_endpoint} ready")
        return _loop(settings, world, tl, out_dir, rows, parts, shifts)
    except DriftloopError as exc:
        # A failed demo still leaves its timeline behind, with the stage it stopped at.
        failure = {"ok": False, "failures": [str(exc)], "timeline": tl.entries, "output_dir": str(out_dir)}
        (out_dir / "summary.json").write_text(json.dumps(failure, indent=2, default=str))
        raise
    finally:
        for part in reversed(parts):
            try:
                part.stop()
            except Exception as exc:
                console.print(f"warning: stopping {type(part).__name__}: {exc}")
        sup.stop()


def _loop(
    settings: Settings,
    world: Scenario,
    tl: Timeline,
    out_dir: Path,
    rows: int,
    parts: list[Any],
    shifts: tuple[str, ...] = ("drift",),
) -> DemoResult:
    from driftloop.demo.traffic import Traffic
    from driftloop.local.executor import find_template
    from driftloop.local.runs import run_local
    from driftloop.local.sensor.service import LocalSensor
    from driftloop.registry import Registry
    from driftloop.s3 import S3Store
    from driftloop.serving import ModelServer

    model, spec = world.model, settings.model(world.model)
    retrain = retrain_template(model)
    store = S3Store(settings)
    registry = Registry(store)
    manifests = _manifests(settings, model)
    settings = settings.model_copy(update={"manifests_dir": manifests})
    dataset = f"datasets/{model}/current.parquet"
    store.put_parquet(dataset, world.data(rows, 1, False))
    tl.mark("data", f"{rows} {world.rows_are} → {store.uri(dataset)}")

    sensor = LocalSensor(settings)
    sensor.start()
    parts.append(sensor)
    tl.mark("sensor", f"local sensor consuming {settings.topics.drift_events} with {manifests}/…/sensor.yaml")

    template = find_template(retrain, manifests)
    first = run_local(template, {"model": model, "reason": "manual"}, settings, templates_dir=manifests)
    if first.phase != "Succeeded" or registry.get_alias(model, "champion") != "v1":
        raise WorkflowError(f"training v1 ended {first.phase}: {first.message}", f"see {first.record_path}")
    v1 = registry.get(model, "v1")
    tl.mark("train", f"v1 trained by {retrain} in the local executor: {_metric(v1.metrics)}; champion")

    server = ModelServer(settings, model, poll_s=0.5)
    server.start()
    parts.append(server)
    _wait("the model server to load v1", lambda: _ready(server.url), 30)
    tl.mark("serve", f"model server at {server.url} serving champion v1")

    token = settings.serving.auth_token.get_secret_value()
    traffic = Traffic(
        server.url,
        model,
        world.data(20_000, 2, False),
        target=spec.target,
        rate=20,
        batch=25,
        token=token,
        feedback_url=server.feedback_url,
    )
    traffic.start()
    parts.append(traffic)
    window = 1500
    _wait("baseline traffic", lambda: traffic.sent * traffic.batch >= window, 60)
    base, base_event, _ = _check(settings, registry, model, window, publish=True)
    if base.status == "quality":
        raise ServiceError(
            f"the baseline window failed data-quality checks: {_problems(base)}", "report a bug"
        )
    tl.mark(
        "baseline",
        f"monitor check on {window} logged predictions: {base.status}, "
        f"drift share {base.drift_share:.2f} ({base_event.type})",
    )

    phases = [
        _phase(settings, world, tl, store, registry, sensor, traffic, dataset, rows, window, shift, n + 2)
        for n, shift in enumerate(shifts)
    ]
    lead = phases[0]
    event, name = lead.event, lead.name

    from driftloop.kafka import Publisher

    with Publisher(settings) as pub:
        for _ in range(20):
            pub.publish(settings.topics.drift_events, event, key=model)
    time.sleep(3)
    runs = [s for s in sensor.submissions.all() if s.get("event_id") == event.id or s.get("name") == name]
    tl.mark("duplicates", f"20 redeliveries of event {event.id[:8]}…: {len(runs)} run in total")

    report_path = out_dir / "drift-report.html"
    report_uri = lead.report_uri
    if report_uri:
        from driftloop.s3 import parse_s3_uri

        report_path.write_bytes(
            S3Store(settings, bucket=parse_s3_uri(report_uri)[0]).get_bytes(parse_s3_uri(report_uri)[1])
        )
    traffic.stop()
    champion = registry.get_alias(model, "champion")
    failures = []
    if base.status != "ok":
        failures.append(f"the baseline check said {base.status}, expected ok")
    for ph in phases:
        failures += ph.failures(registry, model)
    if champion != phases[-1].version:
        failures.append(f"champion is {champion}, expected {phases[-1].version}")
    if len(runs) != 1:
        failures.append(f"{len(runs)} runs for one drift event, expected 1")
    summary = {
        "ok": not failures,
        "failures": failures,
        "model": model,
        "shift": "both" if len(phases) > 1 else lead.shift,
        "reason": lead.result.reason,
        "timeline": tl.entries,
        "latencies_s": {**lead.latencies(), "total": round(phases[-1].t_done - tl.t0, 2)},
        "drift_event": event.to_dict(),
        "phases": [ph.to_dict() for ph in phases],
        "report": str(report_path) if report_uri else None,
        "output_dir": str(out_dir),
        "report_uri": report_uri,
        "registry": {"champion": champion, "versions": [v.to_dict() for v in registry.versions(model)]},
        "traffic": {
            "requests": traffic.sent,
            "errors": traffic.errors,
            "rows_by_version": dict(traffic.versions),
        },
        "duplicates": {"published": 20, "runs_for_event": len(runs)},
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return DemoResult(ok=not failures, summary=summary, failures=failures)


@dataclass
class _Phase:
    """One retrain the demo provokes: what was injected, the event, the run, when things happened."""

    shift: str
    version: str
    result: Any
    event: Any
    name: str
    report_uri: str | None
    t_drift: float
    t_detect: float
    t_trigger: float
    t_done: float

    @property
    def expected(self) -> str:
        return "performance" if self.shift == "concept" else "drift"

    def latencies(self) -> dict[str, float]:
        return {
            "drift_to_detected": round(self.t_detect - self.t_drift, 2),
            "detected_to_triggered": round(self.t_trigger - self.t_detect, 2),
            "drift_to_promoted": round(self.t_done - self.t_drift, 2),
        }

    def failures(self, registry: Any, model: str) -> list[str]:
        out = []
        try:
            version = registry.get(model, self.version)
        except DriftloopError:
            return [f"{self.shift}: {self.version} was not registered"]
        lineage = version.lineage
        if lineage.get("event_id") != self.event.id:
            out.append(
                f"{self.version}'s lineage names event {lineage.get('event_id')!r}, not {self.event.id}"
            )
        if lineage.get("reason") != self.expected:
            out.append(
                f"{self.version}'s lineage gives reason {lineage.get('reason')!r}, not {self.expected}"
            )
        if (version.records.get("canary_analysis") or {}).get("decision") != "promote":
            out.append(f"{self.version} was not promoted after the {self.shift}")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "shift": self.shift,
            "version": self.version,
            "reason": self.result.reason,
            "signals": list(self.result.signals),
            "event": self.event.to_dict(),
            "run": self.name,
            "latencies_s": self.latencies(),
        }


def _phase(
    settings: Settings,
    world: Scenario,
    tl: Timeline,
    store: Any,
    registry: Any,
    sensor: Any,
    traffic: Any,
    dataset: str,
    rows: int,
    window: int,
    shift: str,
    number: int,
) -> _Phase:
    """Inject ``shift``, let the monitor see it and the sensor start one retrain, wait for version
    ``v<number>`` to be registered, canaried and the run to end."""
    from driftloop.contracts import run_name

    model, version = world.model, f"v{number}"
    sent_before = traffic.sent
    if shift == "concept":
        assert world.concept_data is not None  # checked by run_demo
        after_drift = number > 2  # a concept shift after the downturn: the downturn's inputs, new outcomes
        t_drift = tl.mark("concept", f"{world.concept}; fresh labelled data lands in S3")
        traffic.switch(world.concept_data(20_000, 3 + number, after_drift))
        store.put_parquet(dataset, world.concept_data(rows, 4 + number, after_drift))
    else:
        t_drift = tl.mark("drift", f"{world.drift}; fresh labelled data lands in S3")
        traffic.switch(world.data(20_000, 3, True))
        store.put_parquet(dataset, world.data(rows, 4, True))
    _wait(f"{shift}ed traffic", lambda: (traffic.sent - sent_before) * traffic.batch >= window, 60)
    expected = "performance" if shift == "concept" else "drift"
    if shift == "concept":
        time.sleep(2)  # labels come a moment after their predictions: let the window's last ones arrive
    result, event, report_uri = _check(settings, registry, model, window, publish=True)
    t_detect = tl.mark(
        "detected",
        f"{_detected(result)}; CloudEvent {event.id} ({event.type}) → {settings.topics.drift_events}",
        event_id=event.id,
    )
    if result.reason != expected:
        raise ServiceError(
            f"the monitor did not ask for a retrain for the injected {shift} "
            f"(signals {result.signals}, reason {result.reason})",
            "the demo data should trigger it; report a bug",
        )
    name = run_name(model, event.id)
    _wait(f"the sensor to submit {name}", lambda: sensor.submissions.exists(name), 30, 0.1)
    t_trigger = tl.mark(
        "triggered", f"sensor admitted the event → Workflow {name} from {retrain_template(model)}"
    )
    _wait(
        f"{version} to be registered",
        lambda: (
            registry.get_alias(model, "canary") == version
            or registry.get_alias(model, "champion") == version
            or _finished(sensor, name)
        ),
        120,
        0.2,
    )
    tl.mark(
        "canary",
        f"{version} registered ({_metric(registry.get(model, version).metrics)}) and deployed as canary "
        f"({settings.serving.canary_fraction:.0%} of traffic)",
    )
    _wait(f"{name} to finish", lambda: _finished(sensor, name), 180, 0.2)
    champion = registry.get_alias(model, "champion")
    t_done = tl.mark(
        "promoted" if champion == version else "rejected",
        f"run {sensor.submissions.get(name).get('status')}: champion is {champion}",
    )
    return _Phase(shift, version, result, event, name, report_uri, t_drift, t_detect, t_trigger, t_done)


def _detected(result: Any) -> str:
    """What the check found, for the timeline: the drifted columns, or the performance drop."""
    perf = result.performance
    if result.reason in ("performance", "estimated-performance") and perf is not None:
        m = perf.metric
        actual = (perf.actual or {}).get(m)
        est = (perf.estimated or {}).get(m)
        shown = f"{actual:.3f} measured on {perf.labels} labels" if actual is not None else "no labels"
        estimate = f", {est:.3f} estimated without them" if est is not None else ""
        return (
            f"performance: {m} {shown}{estimate} vs {perf.reference.get(m, float('nan')):.3f} on the "
            f"holdout; drift share {result.drift_share:.2f}"
        )
    drifted = sorted(c for c, r in result.columns.items() if r.drifted)
    return f"{result.status}: drift share {result.drift_share:.2f}, drifted {drifted}"


def _finished(sensor: Any, name: str) -> bool:
    try:
        status = sensor.submissions.get(name).get("status")
    except DriftloopError:
        return False
    return status in {"Succeeded", "Failed", "Error", "Submitted"}


def _metric(metrics: dict[str, Any]) -> str:
    """``roc_auc 0.712 on the holdout`` from the registry's metrics (holdout scores by name)."""
    name = str(metrics.get("primary_metric") or "roc_auc")
    score = (metrics.get("holdout") or {}).get(name)
    return f"{name} {score:.3f} on the holdout" if isinstance(score, int | float) else "no holdout score"


def _problems(result: Any) -> str:
    return "; ".join(str(getattr(p, "message", p)) for p in result.quality[:3]) or "no quality problems"
