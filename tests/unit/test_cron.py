from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from driftloop.config import load_settings
from driftloop.errors import WorkflowError
from driftloop.local.cron import CronSchedule, next_fire
from driftloop.local.scheduler import CronScheduler


def at(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("expr", "after", "expected"),
    [
        ("@hourly", "2026-11-24T10:15:00", "2026-11-24T11:00:00"),
        ("*/15 * * * *", "2026-11-24T10:15:00", "2026-11-24T10:30:00"),
        ("0 3 * * MON", "2026-11-24T10:00:00", "2026-11-30T03:00:00"),  # 24 Nov 2026 is a Tuesday
        ("0 3 * * 7", "2026-11-24T10:00:00", "2026-11-29T03:00:00"),  # 7 = Sunday
        ("30 2 1 JAN,JUL *", "2026-11-24T10:00:00", "2027-01-01T02:30:00"),
        ("0 0 13 * FRI", "2026-11-24T10:00:00", "2026-11-27T00:00:00"),  # dom OR dow when both restricted
        ("@weekly", "2026-11-24T10:00:00", "2026-11-29T00:00:00"),
        ("0 9-17/4 * * *", "2026-11-24T10:00:00", "2026-11-24T13:00:00"),
    ],
)
def test_next_fire(expr: str, after: str, expected: str) -> None:
    assert next_fire([expr], "UTC", at(after)) == at(expected)


def test_timezone_and_several_schedules() -> None:
    # 02:00 in Berlin (UTC+1 in November) is 01:00 UTC
    got = next_fire(["0 2 * * *", "0 23 * * *"], "Europe/Berlin", at("2026-11-24T00:30:00"))
    assert got.astimezone(UTC) == at("2026-11-24T01:00:00")


@pytest.mark.parametrize("expr", ["* * * *", "61 * * * *", "x * * * *", "5-1 * * * *"])
def test_bad_expressions(expr: str) -> None:
    with pytest.raises(WorkflowError, match="cron"):
        CronSchedule.parse(expr)


def cron_doc(name: str, schedule: str, **spec: object) -> dict:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "CronWorkflow",
        "metadata": {"name": name, "namespace": "driftloop"},
        "spec": {
            "schedules": [schedule],
            "timezone": "UTC",
            "workflowSpec": {
                "workflowTemplateRef": {"name": "driftloop-monitor"},
                "arguments": {"parameters": [{"name": "model", "value": "credit"}]},
            },
            **spec,
        },
    }


def test_scheduler_fires_due_jobs_with_argo_names_and_forbid_policy() -> None:
    clock = [at("2026-11-24T10:59:30")]
    submitted: list[dict] = []
    gate = threading.Event()

    def submit(wf: dict) -> threading.Thread:
        submitted.append(wf)
        t = threading.Thread(target=gate.wait, daemon=True)
        t.start()
        return t

    sched = CronScheduler(
        load_settings(env={}),
        submit,
        docs=[cron_doc("monitor-hourly", "@hourly", concurrencyPolicy="Forbid")],
        now=lambda: clock[0],
    )
    assert sched.tick() == []
    clock[0] = at("2026-11-24T11:00:01")
    first = sched.tick()
    assert first == [f"monitor-hourly-{int(at('2026-11-24T11:00:00').timestamp())}"]
    wf = submitted[0]
    assert wf["kind"] == "Workflow"
    assert wf["spec"]["workflowTemplateRef"] == {"name": "driftloop-monitor"}
    assert wf["metadata"]["labels"]["workflows.argoproj.io/cron-workflow"] == "monitor-hourly"
    clock[0] = at("2026-11-24T12:00:01")
    assert sched.tick() == []  # the 11:00 run still runs: Forbid skips 12:00
    gate.set()
    sched.jobs[0].running.join(2)
    clock[0] = at("2026-11-24T13:00:01")
    assert len(sched.tick()) == 1


def test_scheduler_honours_suspend_and_starting_deadline() -> None:
    clock = [at("2026-11-24T10:59:00")]
    submitted: list[dict] = []
    docs = [
        cron_doc("suspended", "@hourly", suspend=True),
        cron_doc("late", "@hourly", startingDeadlineSeconds=30),
    ]
    sched = CronScheduler(
        load_settings(env={}), lambda wf: submitted.append(wf), docs=docs, now=lambda: clock[0]
    )
    clock[0] = at("2026-11-24T11:00:00") + timedelta(seconds=90)  # 90 s late > 30 s deadline
    assert sched.tick() == []
    assert submitted == []
    clock[0] = at("2026-11-24T12:00:10")
    assert sched.tick() == ["late-" + str(int(at("2026-11-24T12:00:00").timestamp()))]
