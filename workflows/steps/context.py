"""What every step shares: settings at entry, the code version, tables on S3 and the run record.

The run record (``retrain-runs/<model>/<workflow name>.json`` in the bucket) collects what each step
decided (gate verdict, registered version, canary verdict). The exit handler reads it instead of
``{{workflow.outputs.parameters.*}}``: Argo cannot resolve a global output in an exit handler when the
step producing it never ran (argoproj/argo-workflows#4680, #1759), and a failed run is exactly when the
outcome event matters. Anyone with the bucket's keys can write it, so it is signed by the steps that hold the
signing key, and what keyless steps report is kept apart (:func:`read_run_record`).
"""

from __future__ import annotations

import functools
import io
import logging
import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftloop.config import Settings, load_settings
from driftloop.errors import DataError, IntegrityError, NotFound

if TYPE_CHECKING:
    import pandas as pd

    from driftloop.s3 import S3Store

__all__ = [
    "CONFIG_FILE",
    "RUN_RECORD_KIND",
    "code_version",
    "default_dataset_uri",
    "read_run_record",
    "read_table",
    "record_error",
    "step_settings",
    "update_run_record",
    "write_table",
]

log = logging.getLogger(__name__)

#: In a pod the ``driftloop-config`` ConfigMap is mounted here (see :mod:`workflows.pod`); locally the file
#: does not exist and the usual precedence applies (``DRIFTLOOP_*`` env > ./driftloop.yaml > defaults).
CONFIG_FILE = Path("/etc/driftloop/driftloop.yaml")


def pin_native_threads() -> None:
    """One OpenMP / BLAS thread unless ``OMP_NUM_THREADS`` says otherwise.

    scikit-learn's HistGradientBoosting starts one OpenMP thread per core it sees; in a CPU-limited pod
    (which still sees every core of the node) or on a busy machine those threads wait on each other at
    every barrier and training gets many times slower (seen here: 40 s instead of 1.5 s on two busy
    cores). The step's data is small; set OMP_NUM_THREADS in the pod to use more cores.
    """
    if os.environ.get("OMP_NUM_THREADS"):
        return
    # The variable is read when the OpenMP runtime loads (scikit-learn is imported lazily, later);
    # threadpoolctl covers runtimes that are already loaded.
    os.environ["OMP_NUM_THREADS"] = "1"
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


def step_settings() -> Settings:
    """The settings of a step process, resolved once at its entry (which also pins native threads)."""
    pin_native_threads()
    return load_settings(CONFIG_FILE if CONFIG_FILE.is_file() else None, env=dict(os.environ))


@functools.cache
def code_version() -> str:
    """``<driftloop version>+<git sha>``: the sha from ``GIT_SHA`` (set when the image is built) or
    ``git rev-parse`` in a checkout; just the version when neither is available."""
    from driftloop import __version__

    sha = os.environ.get("GIT_SHA", "").strip()
    if not sha:
        try:
            out = subprocess.run(
                ["git", "rev-parse", "--short=12", "HEAD"],
                cwd=Path(__file__).resolve().parent,
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            )
            sha = out.stdout.strip() if out.returncode == 0 else ""
        except (OSError, subprocess.SubprocessError):
            sha = ""
    return f"{__version__}+{sha[:12]}" if sha else __version__


def default_dataset_uri(settings: Settings, model: str) -> str:
    """Where a model's training data lives when the run names none."""
    return f"s3://{settings.s3.bucket}/datasets/{model}/current.parquet"


def _store_for(settings: Settings, uri: str) -> tuple[S3Store, str]:
    from driftloop.s3 import S3Store, parse_s3_uri

    bucket, key = parse_s3_uri(uri)
    return S3Store(settings, bucket=bucket), key


def read_table(settings: Settings, uri: str) -> pd.DataFrame:
    """A Parquet or CSV table from ``s3://bucket/key`` or a local path."""
    import pandas as pd

    if uri.startswith("s3://"):
        store, key = _store_for(settings, uri)
        try:
            data = store.get_bytes(key)
        except NotFound:
            raise DataError(f"{uri} does not exist", "upload the data set or pass dataset_uri") from None
        source: Any = io.BytesIO(data)
    else:
        path = Path(uri)
        if not path.is_file():
            raise DataError(f"{uri}: no such file", "pass an s3:// URI or an existing path as dataset_uri")
        source = path
    try:
        if uri.endswith(".csv"):
            return pd.read_csv(source)
        return pd.read_parquet(source)
    except (ValueError, OSError) as exc:
        raise DataError(
            f"{uri} is not a readable Parquet/CSV table ({exc})", "store Parquet or .csv"
        ) from None


def write_table(settings: Settings, uri: str, df: pd.DataFrame) -> str:
    """Write ``df`` as Parquet to ``s3://bucket/key``; returns the URI."""
    store, key = _store_for(settings, uri)
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    store.put_bytes(key, buf.getvalue())
    return uri


RUN_RECORD_KIND = "run record"


def _record_key(model: str, workflow_name: str, reported: bool = False) -> str:
    suffix = ".reported.json" if reported else ".json"
    return f"retrain-runs/{model}/{workflow_name or 'local'}{suffix}"


def _holds_signing_key(settings: Settings) -> bool:
    """A step given only the verify key (the user's train and evaluate steps on a cluster) cannot sign."""
    return bool(settings.registry.signing_key.get_secret_value() or not settings.registry.verify_key)


def _get(settings: Settings, key: str) -> Any:
    from driftloop.s3 import S3Store

    try:
        return S3Store(settings).get_json(key)
    except NotFound:
        return None


def _signed_part(settings: Settings, model: str, workflow_name: str) -> dict[str, Any]:
    """The signed record, verified; a record that does not verify is ignored (logged), never trusted."""
    from driftloop.signing import verify_key, verify_record

    key = _record_key(model, workflow_name)
    doc = _get(settings, key)
    if doc is None:
        return {}
    try:
        record = verify_record(verify_key(settings), RUN_RECORD_KIND, key, doc)
    except IntegrityError as exc:
        log.warning("ignoring the run record: %s", exc)
        return {}
    return {k: v for k, v in record.items() if k != "signature"}


def _reported_part(settings: Settings, model: str, workflow_name: str) -> dict[str, Any]:
    doc = _get(settings, _record_key(model, workflow_name, reported=True))
    return dict(doc) if isinstance(doc, dict) else {}


def read_run_record(settings: Settings, model: str, workflow_name: str) -> dict[str, Any]:
    """What the run's steps recorded so far (``{}`` when nothing yet).

    The record is written by steps that hold the signing key (register, deploy, approval, the exit handler)
    and signed; what keyless steps report (train's and evaluate's errors, evaluate's scores) is kept beside
    it unsigned. Only the signed part is trusted: a step's error messages are merged in as its own words,
    anything else it reported appears under ``reported`` and never where a decision is read (``version``,
    ``evaluate``, ``canary``, ``promoted``...)."""
    record = _signed_part(settings, model, workflow_name)
    reported = _reported_part(settings, model, workflow_name)
    errors = {**(reported.pop("errors", None) or {}), **(record.get("errors") or {})}
    if errors:
        record["errors"] = {str(k): str(v) for k, v in errors.items()}
    if reported:
        record["reported"] = reported
    return record


def update_run_record(settings: Settings, model: str, workflow_name: str, **fields: Any) -> dict[str, Any]:
    """Merge ``fields`` into the run record: signed when this step holds the signing key, else into the
    unsigned part of what keyless steps report. Steps of one run never write it concurrently (the DAG is a
    chain and the model's mutex serialises runs), so read-merge-write is enough."""
    from driftloop.s3 import S3Store
    from driftloop.signing import sign_record, signing_key

    store = S3Store(settings)
    if not _holds_signing_key(settings):
        key = _record_key(model, workflow_name, reported=True)
        record = {**_reported_part(settings, model, workflow_name), **fields}
        store.put_json(key, record)
        return record
    key = _record_key(model, workflow_name)
    record = {**_signed_part(settings, model, workflow_name), **fields}
    store.put_json(key, sign_record(signing_key(settings), RUN_RECORD_KIND, key, record))
    return record


def record_error(settings: Settings, model: str, workflow_name: str, step: str, message: str) -> None:
    """Keep a failed step's one-line reason in the run record (``errors.<step>``), where the exit handler
    finds it for the outcome event. Best effort: S3 being down must not hide the original error."""
    from driftloop.errors import DriftloopError

    try:
        mine = (
            _signed_part(settings, model, workflow_name)
            if _holds_signing_key(settings)
            else _reported_part(settings, model, workflow_name)
        )
        errors = {**(mine.get("errors") or {}), step: message}
        update_run_record(settings, model, workflow_name, errors=errors)
    except DriftloopError:
        pass
