"""Durable run submissions and the workers that carry them out.

A submission is one S3 object ``sensor/submissions/<workflow-name>.json`` created with a conditional
write (it exists once per Workflow name), holding the Workflow to create and its status
(``queued`` → ``running`` → ``Succeeded`` / ``Failed`` / ``Error``, or ``superseded``). The sensor commits
Kafka offsets only after the record exists, so a run is never lost; the name is derived from the event id,
so it is never doubled. :class:`Runner` then runs it — on the local executor (a thread pool, one run per
model at a time, resolving ``workflowTemplateRef`` from ``manifests/``) or on an Argo server
(``settings.argo.server_url``) — and on restart resumes every record not yet finished.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

__all__ = ["Runner", "SubmissionStore"]

log = logging.getLogger("driftloop.sensor")
_OPEN = ("queued", "running")


class SubmissionStore:
    """The durable submissions, each signed (:mod:`driftloop.signing`): a record's ``workflow`` is run on
    the host, so one that is unsigned or whose signature fails — written through the bucket by anyone but
    the sensor — is refused, logged and never run."""

    def __init__(self, store: Any, prefix: str = "sensor/submissions") -> None:
        self.store = store
        self.prefix = prefix.rstrip("/")
        self._signer: Any = None
        self._verifier: Any = None

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}.json"

    def _sign(self, key: str, sub: dict[str, Any]) -> dict[str, Any]:
        from driftloop.signing import sign_record, signing_key

        if self._signer is None:
            self._signer = signing_key(self.store.settings)
        return sign_record(self._signer, "submission", key, sub)

    def _verify(self, key: str, data: Any) -> dict[str, Any]:
        from driftloop.signing import verify_key, verify_record

        if self._verifier is None:
            self._verifier = verify_key(self.store.settings)
        return verify_record(self._verifier, "submission", key, data)

    def create(self, sub: dict[str, Any]) -> bool:
        """Write a new record; False when one with this Workflow name exists already."""
        key = self.key(sub["name"])
        body = json.dumps(self._sign(key, sub), sort_keys=True, default=str).encode()
        return bool(self.store.create(key, body, "application/json"))

    def exists(self, name: str) -> bool:
        return bool(self.store.exists(self.key(name)))

    def get(self, name: str) -> dict[str, Any]:
        """The verified record; IntegrityError when it is unsigned or forged."""
        key = self.key(name)
        return self._verify(key, self.store.get_json(key))

    def update(self, name: str, **fields: Any) -> None:
        key = self.key(name)
        self.store.put_json(key, self._sign(key, {**self.get(name), **fields, "updated_at": time.time()}))

    def all(self) -> list[dict[str, Any]]:
        """Every verified record; one that fails its signature is logged and left out."""
        from driftloop.errors import IntegrityError

        out = []
        for key in self.store.list(f"{self.prefix}/"):
            try:
                out.append(self._verify(key, self.store.get_json(key)))
            except IntegrityError as exc:
                log.error("refused %s: %s", self.store.uri(key), exc)
        return out


class Runner:
    """Carries out durable submissions: one run per model at a time, FIFO per model."""

    def __init__(
        self,
        settings: Any,
        submissions: SubmissionStore,
        templates_dir: Path,
        *,
        workers: int = 2,
        on_finished: Callable[[str, str, str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.submissions = submissions
        self.templates_dir = templates_dir
        self.on_finished = on_finished
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sensor-run")
        self._lock = threading.Lock()
        self._queues: dict[str, deque[dict[str, Any]]] = {}
        self._busy: set[str] = set()

    def submit(self, sub: dict[str, Any]) -> None:
        model = str(sub["model"])
        with self._lock:
            self._queues.setdefault(model, deque()).append(sub)
            if model in self._busy:
                return
            self._busy.add(model)
        self._pool.submit(self._drain, model)

    def supersede(self, names: tuple[str, ...]) -> None:
        """Drop queued runs replaced by a newer one (a run already executing locally finishes)."""
        with self._lock:
            for q in self._queues.values():
                for sub in [s for s in q if s["name"] in names]:
                    q.remove(sub)
                    self.submissions.update(sub["name"], status="superseded")

    def resume(self) -> int:
        """Queue every record left open by an earlier process; returns how many."""
        open_subs = [s for s in self.submissions.all() if s.get("status") in _OPEN]
        for sub in sorted(open_subs, key=lambda s: s.get("created_at", 0)):
            self.submit(sub)
        return len(open_subs)

    def _drain(self, model: str) -> None:
        from driftloop.local.executor import is_closing

        while True:
            with self._lock:
                q = self._queues.get(model)
                if not q or is_closing():  # `up` stops: what is queued stays queued, resumed next start
                    self._busy.discard(model)
                    return
                sub = q.popleft()
            self._run(sub)

    def _run(self, sub: dict[str, Any]) -> None:
        name = sub["name"]
        # the run's uid is fixed once: a run resumed after a crash keeps its identity, so its own
        # admission ledger entry (which records the uid) admits it again
        uid = str(sub.get("uid") or uuid.uuid4())
        try:
            self.submissions.update(name, status="running", started_at=time.time(), uid=uid)
            if self.settings.argo.server_url:
                phase, message = _submit_to_argo(self.settings, sub["workflow"]), ""
            else:
                from driftloop.local.runs import run_local

                result = run_local(
                    sub["workflow"], None, self.settings, templates_dir=self.templates_dir, uid=uid
                )
                phase, message = result.phase, result.message or ""
        except Exception as exc:  # a failed run must not stop the runner
            log.warning("run %s failed to start: %s", name, exc)
            phase, message = "Error", str(exc)
        try:
            self.submissions.update(name, status=phase, message=message, finished_at=time.time())
        except Exception as exc:  # e.g. the record was replaced meanwhile (IntegrityError): log, go on
            log.error("run %s: its submission record cannot be updated: %s", name, exc)
        finally:
            if self.on_finished:
                self.on_finished(str(sub["model"]), name, phase)
        log.info("run %s %s", name, phase)

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)


def _submit_to_argo(settings: Any, workflow: dict[str, Any]) -> str:
    """Create the Workflow on the Argo server (through Hera's WorkflowsService); an existing Workflow of
    that name — the same event delivered again — counts as submitted."""
    from driftloop.submit import submit

    submit(settings, workflow)
    return "Submitted"
