"""``driftloop up`` / ``down`` / ``status``: local mode's embedded stack."""

from __future__ import annotations

import json
import logging
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from driftloop.cli._common import console, err_console, settings_from, writable_data_dir
from driftloop.config import Settings
from driftloop.errors import ConfigError, DriftloopError, ServiceError

if TYPE_CHECKING:
    from driftloop.serving import ModelServer

log = logging.getLogger("driftloop.up")


def _self_check(settings: Settings) -> dict[str, float]:
    """Round-trip one Kafka message and one S3 object through driftloop's own I/O layer."""
    from driftloop.kafka import Consumer, Publisher, ensure_topics
    from driftloop.s3 import S3Store

    timings: dict[str, float] = {}
    topic = f"driftloop.selfcheck.{uuid.uuid4().hex[:8]}"
    t0 = time.monotonic()
    ensure_topics(settings, [topic])
    payload = {"check": uuid.uuid4().hex}
    with Publisher(settings) as pub:
        pub.publish(topic, payload, key="self-check", wait=True)
    with Consumer(settings, [topic], group_id=f"selfcheck-{payload['check'][:8]}") as consumer:
        deadline = time.monotonic() + 20
        got: list[Any] = []
        while not got and time.monotonic() < deadline:
            got = [r for r in consumer.poll(200) if json.loads(r.value) == payload]
        if not got:
            raise ServiceError(
                f"self-check: the message sent to {topic} did not come back within 20 s",
                "see <data_dir>/logs/kafka.log",
            )
        consumer.commit()
    timings["kafka_roundtrip_s"] = time.monotonic() - t0
    t0 = time.monotonic()
    store = S3Store(settings)
    key = f"_selfcheck/{payload['check']}.json"
    store.put_json(key, payload)
    if store.get_json(key) != payload:
        raise ServiceError(
            "self-check: the S3 object read back differs from the one written", "see logs/s3.log"
        )
    store.delete(key)
    timings["s3_roundtrip_s"] = time.monotonic() - t0
    return timings


def _reconcile(settings: Settings) -> None:
    """Registry aliases agree with the runs: a canary whose run is gone is rolled back (the sensor then
    resumes that run from its durable submission)."""
    from driftloop.local.executor import sweep
    from sensors.admission import local_liveness
    from workflows.deploy.reconcile import reconcile_canaries

    cleaned = sweep(settings.data_dir)
    if cleaned:
        log.info(
            "removed the sandboxes and settings copies of %s (their executor was killed)", ", ".join(cleaned)
        )
    try:
        for action in reconcile_canaries(settings, local_liveness(settings)):
            log.warning(
                "reconciled %s: canary %s rolled back (%s is gone)",
                action["model"],
                action["version"],
                action["owner"],
            )
    except DriftloopError as exc:  # reconciliation must not keep the stack from starting
        log.warning("reconciliation skipped: %s", exc)


def up(
    ctx: typer.Context,
    data_dir: Path | None = typer.Option(None, help="state/log/data directory [data_dir]"),
    kafka_port: int | None = typer.Option(None, help="embedded Kafka port [embedded.kafka_port]"),
    s3_port: int | None = typer.Option(None, help="embedded S3 port [embedded.s3_port]"),
    self_check: bool = typer.Option(
        False, "--self-check", help="round-trip a Kafka message and an S3 object"
    ),
    once: bool = typer.Option(False, "--once", help="stop again after starting (and the self-check)"),
    components: bool = typer.Option(
        True,
        "--components/--services-only",
        help="also start the local-mode components (sensor, scheduler, ...)",
    ),
) -> None:
    """Start local mode: embedded Kafka (Tansu) and S3 (SeaweedFS), then the local components.

    A configured kafka.bootstrap_servers or s3.endpoint_url is used instead of the embedded one.
    Ctrl-C or `driftloop down` stops everything.
    """
    from driftloop.local.runtime import Supervisor, component_factories
    from driftloop.serving.presence import announce

    settings = settings_from(
        ctx, **{"data_dir": data_dir, "embedded.kafka_port": kafka_port, "embedded.s3_port": s3_port}
    )
    if components and not settings.models:
        raise ConfigError(
            f"no model is configured (no driftloop.yaml in {Path.cwd()}, nor --config / DRIFTLOOP_CONFIG)",
            "run `driftloop init NAME --task classification|regression` to scaffold one, or `driftloop demo` "
            "to watch the whole loop; `driftloop up --services-only` starts Kafka and S3 alone",
        )
    writable_data_dir(settings)
    from driftloop.cli.models import check_models
    from driftloop.compiler import local_manifests

    check_models(settings)
    if components:  # the Sensor and templates of the configured models, compiled now if need be
        manifests = local_manifests(settings)
        if manifests != Path(settings.manifests_dir):
            log.info(
                "compiled the Sensor and the templates of %s into %s", ", ".join(settings.models), manifests
            )
        settings = settings.model_copy(update={"manifests_dir": manifests})
    factories = list(component_factories().values()) if components else []
    sup = Supervisor(settings, factories=factories, before_components=_reconcile)
    sup.install_signal_handlers()
    sup.start()
    try:
        table = Table(title="driftloop is up", show_header=True)
        table.add_column("service")
        table.add_column("endpoint")
        table.add_column("mode")
        table.add_row(
            "kafka", settings.bootstrap_servers, "embedded" if settings.kafka_is_embedded else "external"
        )
        table.add_row("s3", settings.s3_endpoint, "embedded" if settings.s3_is_embedded else "external")
        table.add_row("bucket", settings.s3.bucket, "")
        table.add_row("topics", ", ".join(settings.topics.all()), "")
        server = _model_server(sup.components)
        if server is not None:  # its real ports (0 in the settings = any free port)
            token = "bearer token" if settings.serving.auth_token.get_secret_value() else "no token"
            table.add_row("model server", f"{server.url} (predict)", "every registered model")
            table.add_row("feedback", f"{server.feedback_url}/v1/feedback", token)
        err_console.print(table)
        if self_check:
            timings = _self_check(settings)
            err_console.print(
                f"self-check passed: kafka round trip {timings['kafka_roundtrip_s']:.2f}s, "
                f"s3 round trip {timings['s3_roundtrip_s']:.2f}s"
            )
        if not once:
            err_console.print("running — Ctrl-C or `driftloop down` stops everything")
            if server is not None:  # canary analyses of local runs see that a server takes traffic
                with announce(settings.data_dir, server.url, None, server.feedback_url):
                    sup.wait()
            else:
                sup.wait()
    finally:
        sup.stop()


def _model_server(components: list[Any]) -> ModelServer | None:
    """The model server among ``up``'s components (imported only when ``up`` has built one)."""
    if not components:
        return None
    from driftloop.serving import ModelServer

    return next((c for c in components if isinstance(c, ModelServer)), None)


def down(
    ctx: typer.Context,
    data_dir: Path | None = typer.Option(None, help="state directory of the stack [data_dir]"),
) -> None:
    """Stop the local stack started by `driftloop up` (from its state file); leaves no process behind.

    A recorded PID that now belongs to another process (a stale state file) is left alone."""
    from driftloop.local.embedded import read_state, stop_stack

    settings = settings_from(ctx, data_dir=data_dir)
    where = Path(settings.data_dir).resolve()
    if read_state(settings.data_dir):
        err_console.print(
            "stopping: the runs of `driftloop up` (their exit handlers run), its components, then Kafka, S3",
            soft_wrap=True,
        )
    from driftloop.local.executor import sweep

    report = stop_stack(
        settings.data_dir,
        grace_s=settings.embedded.stop_grace_s,
        owner_wait_s=settings.embedded.runs_stop_timeout_s + 60,
    )
    sweep(settings.data_dir)  # sandboxes and secrets copies of runs whose executor was killed
    for what in report.killed:
        err_console.print(f"killed: {what}", markup=False, soft_wrap=True)
    for what in report.stale:
        err_console.print(f"stale: {what} is not ours, left alone", markup=False, soft_wrap=True)
    if report.stopped:
        err_console.print(f"stopped: {', '.join(report.stopped)}")
    elif report.state_removed:
        err_console.print(
            f"nothing is running from {where} (removed its stale {where / 'stack.json'})", soft_wrap=True
        )
    else:
        err_console.print(f"nothing is running from {where}")


def _reachable(settings: Settings) -> dict[str, bool]:
    from driftloop.endpoints import listening
    from driftloop.errors import ConnectionError_
    from driftloop.kafka import wait_for_kafka
    from driftloop.s3 import wait_for_s3

    out = {}
    probes = (
        ("kafka", settings.bootstrap_servers, wait_for_kafka),
        ("s3", settings.s3_endpoint, wait_for_s3),
    )
    for name, endpoint, probe in probes:
        if not listening(endpoint):  # a stopped service: known in milliseconds, not after client retries
            out[name] = False
            continue
        try:
            probe(settings, 2.0)
            out[name] = True
        except ConnectionError_:
            out[name] = False
    return out


def status(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Show what local mode runs and what is reachable."""
    from driftloop.local.embedded import process_matches, read_state

    settings = settings_from(ctx)
    state = read_state(settings.data_dir) or {}
    running = {
        s["name"]: {"pid": s["pid"], "alive": process_matches(s) == "ours"} for s in state.get("services", [])
    }
    reach = _reachable(settings)
    report: dict[str, Any] = {
        "data_dir": str(Path(settings.data_dir).resolve()),
        "owner_pid": state.get("owner_pid"),
        "services": {
            "kafka": {
                "endpoint": settings.bootstrap_servers,
                "embedded": settings.kafka_is_embedded,
                "reachable": reach["kafka"],
                **running.get("kafka", {}),
            },
            "s3": {
                "endpoint": settings.s3_endpoint,
                "embedded": settings.s3_is_embedded,
                "reachable": reach["s3"],
                **running.get("s3", {}),
            },
        },
    }
    from driftloop.cli.status import loop_status

    report["components"] = state.get("components", [])
    report.update(loop_status(settings, reach))
    if as_json:
        console.print_json(json.dumps(report, default=str))
        return
    table = Table(title=f"driftloop status ({report['data_dir']})")
    for col in ("service", "endpoint", "mode", "process", "reachable"):
        table.add_column(col)
    for name, svc in report["services"].items():
        proc = (f"pid {svc['pid']} " + ("running" if svc["alive"] else "dead")) if "pid" in svc else "-"
        table.add_row(
            name,
            svc["endpoint"],
            "embedded" if svc["embedded"] else "external",
            proc,
            "[green]yes[/]" if svc["reachable"] else "[red]no[/]",
        )
    console.print(table)
    if report["components"]:
        console.print(f"components: {', '.join(report['components'])}")
    elif state:
        console.print("components: none (driftloop up runs the services only: --services-only)")
    else:
        console.print("components: none (driftloop up is not running)")
    _print_models(report)


def _print_models(report: dict[str, Any]) -> None:
    if report.get("models") is None:
        console.print("models: unknown (S3 unreachable)")
        return
    table = Table(title="models")
    for col in ("model", "champion", "canary", "versions", "last drift check"):
        table.add_column(col)
    checks = report.get("last_checks") or {}
    for model, info in report["models"].items():
        check = checks.get(model)
        last = (
            f"{check['time']}  drift={check['dataset_drift']} share={check['drift_share']}" if check else "-"
        )
        table.add_row(
            model, info.get("champion") or "-", info.get("canary") or "-", str(info["versions"]), last
        )
    console.print(table)
    runs = report.get("runs") or {}
    for run in runs.get("running", []):
        console.print(f"running: {run['name']} ({run['status']})")
    for run in runs.get("recent", []):
        console.print(f"recent run: {run['name']} {run['phase']}")
    for err in report.get("errors", []):
        console.print(f"[yellow]{err}[/]")
