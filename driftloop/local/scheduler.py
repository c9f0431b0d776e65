"""Local mode's CronWorkflow controller: fires the compiled CronWorkflows on their ``schedules``.

It reads the CronWorkflow YAML that ``driftloop compile`` wrote (the same documents a cluster gets) and,
like Argo's controller, creates a Workflow named ``<cron-name>-<unix time of the scheduled minute>`` from
``spec.workflowSpec`` (a ``workflowTemplateRef`` plus arguments), honouring ``suspend``,
``concurrencyPolicy`` (``Allow`` | ``Forbid`` | ``Replace`` — Replace is treated as Forbid locally: a
running local run is not killed) and ``startingDeadlineSeconds`` (a start later than that is skipped).
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from driftloop.config import Settings
from driftloop.local.cron import next_fire

__all__ = ["CronJob", "CronScheduler", "load_cron_workflows"]

log = logging.getLogger("driftloop.local.scheduler")

Submit = Callable[[dict[str, Any]], threading.Thread | None]


def load_cron_workflows(manifests_dir: Path) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(Path(manifests_dir).rglob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "CronWorkflow":
                docs.append(doc)
    return docs


@dataclass
class CronJob:
    doc: dict[str, Any]
    next_at: datetime
    running: threading.Thread | None = None
    fired: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.doc["metadata"]["name"])

    @property
    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = self.doc.get("spec", {})
        return spec

    def schedules(self) -> list[str]:
        spec = self.spec
        return list(spec.get("schedules") or ([spec["schedule"]] if spec.get("schedule") else []))

    def workflow_for(self, scheduled: datetime) -> dict[str, Any]:
        name = f"{self.name}-{int(scheduled.timestamp())}"
        meta = copy.deepcopy(self.spec.get("workflowMetadata") or {})
        labels = {**meta.get("labels", {}), "workflows.argoproj.io/cron-workflow": self.name}
        return {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "metadata": {
                **meta,
                "name": name,
                "labels": labels,
                "namespace": self.doc["metadata"].get("namespace", "default"),
            },
            "spec": copy.deepcopy(self.spec.get("workflowSpec", {})),
        }


class CronScheduler:
    """A Component for ``driftloop up``: one thread that sleeps until the next CronWorkflow is due."""

    name = "scheduler"

    def __init__(
        self,
        settings: Settings,
        submit: Submit,
        docs: list[dict[str, Any]] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self._submit = submit
        self._now = now or (lambda: datetime.now(UTC))
        docs = docs if docs is not None else load_cron_workflows(settings.manifests_dir)
        start = self._now()
        self.jobs = [
            CronJob(d, next_fire(CronJob(d, start).schedules(), d["spec"].get("timezone"), start))
            for d in docs
            if CronJob(d, start).schedules()
        ]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self) -> None:
        for job in self.jobs:
            log.info("%s: next run %s (%s)", job.name, job.next_at.isoformat(), ", ".join(job.schedules()))
        self._thread = threading.Thread(target=self._loop, name="driftloop-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def healthy(self) -> bool:
        return self._error is None

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                self.tick()
                due = min((j.next_at for j in self.jobs), default=None)
                wait = 60.0 if due is None else max(0.05, (due - self._now()).total_seconds())
                self._stop.wait(min(wait, 30.0))
        except BaseException as exc:  # reported through healthy()
            log.exception("scheduler failed")
            self._error = exc

    def tick(self) -> list[str]:
        """Fire every job that is due now; returns the names of the Workflows created."""
        created: list[str] = []
        now = self._now()
        for job in self.jobs:
            if job.next_at > now:
                continue
            scheduled = job.next_at
            job.next_at = next_fire(job.schedules(), job.spec.get("timezone"), now)
            deadline = job.spec.get("startingDeadlineSeconds")
            if job.spec.get("suspend"):
                log.info("%s: suspended, skipping the %s run", job.name, scheduled.isoformat())
                continue
            if deadline is not None and now - scheduled > timedelta(seconds=int(deadline)):
                log.info("%s: missed the %s run by more than %ss", job.name, scheduled.isoformat(), deadline)
                continue
            policy = job.spec.get("concurrencyPolicy", "Allow")
            if policy in ("Forbid", "Replace") and job.running is not None and job.running.is_alive():
                log.info(
                    "%s: previous run still running, concurrencyPolicy %s skips this one", job.name, policy
                )
                continue
            workflow = job.workflow_for(scheduled)
            job.running = self._submit(workflow)
            job.fired.append(workflow["metadata"]["name"])
            created.append(workflow["metadata"]["name"])
            log.info("%s: created workflow %s", job.name, workflow["metadata"]["name"])
        return created


def run_in_executor(settings: Settings) -> Submit:
    """A submit function that runs each Workflow in the local executor on its own thread."""

    def submit(workflow: dict[str, Any]) -> threading.Thread:
        from driftloop.local.runs import run_local

        def target() -> None:
            try:
                result = run_local(workflow, None, settings, templates_dir=Path(settings.manifests_dir))
                log.info("%s %s", workflow["metadata"]["name"], result.phase)
            except Exception as exc:  # a failed scheduled run must not stop the scheduler
                log.warning("%s could not run: %s", workflow["metadata"]["name"], exc)

        thread = threading.Thread(target=target, name=f"cron-{workflow['metadata']['name']}", daemon=True)
        thread.start()
        return thread

    return submit


def scheduler_component(settings: Settings) -> CronScheduler:
    """``driftloop up``'s scheduler: fires the compiled CronWorkflows into the local executor."""
    return CronScheduler(settings, run_in_executor(settings))
