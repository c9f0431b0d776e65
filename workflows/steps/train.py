"""train: run the user's trainer on the train snapshot and package what it returns.

The trainer contract: ``train(data: DataFrame, target: str, params: dict) -> model`` where ``data`` holds
the (preprocessed) feature columns and the target, and ``model`` has ``predict(DataFrame)`` — and
``predict_proba`` for classification. driftloop wraps the result in a
:class:`~driftloop.artifact.ModelArtifact` (raw feature names, the preprocess reference, the classes), the
file ``evaluate`` gates and the server loads. A trainer that raises, runs past ``timeout_s`` or returns
something without ``predict`` fails the step with a one-line reason.
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftloop.errors import DataError, WorkflowError
from workflows.steps.context import read_table

if TYPE_CHECKING:
    import pandas as pd

    from driftloop.artifact import ModelArtifact
    from driftloop.config import Settings

__all__ = ["fit", "merge_params", "train"]


def merge_params(base: dict[str, Any], override: str | dict[str, Any] | None) -> dict[str, Any]:
    """The model's ``params`` with a run's JSON override merged over them (``-p params='{...}'``)."""
    if isinstance(override, dict):
        extra = dict(override)
    elif not override or not str(override).strip():
        extra = {}
    else:
        try:
            extra = json.loads(override)
        except json.JSONDecodeError:
            raise DataError(
                f"params {override!r} is not JSON", 'pass a JSON object, e.g. {"alpha": 0.5}'
            ) from None
        if not isinstance(extra, dict):
            raise DataError(f"params {override!r} is not a JSON object", 'pass e.g. {"alpha": 0.5}')
    return {**base, **extra}


@contextlib.contextmanager
def _deadline(seconds: float, what: str) -> Iterator[None]:
    """Raise a one-line WorkflowError when the block runs longer than ``seconds`` (main thread only; a
    trainer stuck in native code is still ended by the template's activeDeadlineSeconds)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except TimeoutError:
        raise WorkflowError(
            f"{what} ran past its deadline of {seconds:g}s",
            "speed it up or raise the model's train_timeout_s",
        ) from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def fit(
    data: pd.DataFrame,
    *,
    model: str,
    task: str,
    target: str,
    trainer: str,
    params: dict[str, Any],
    preprocess: str = "",
    timeout_s: float = 0,
) -> ModelArtifact:
    """Run the trainer on ``data`` (raw features + target) and package the model it returns."""
    from driftloop.artifact import ModelArtifact
    from driftloop.usercode import load_callable
    from workflows.steps.data import run_preprocess

    fn = load_callable(model, "trainer", trainer)
    features = [str(c) for c in data.columns if c != target]
    inputs = data.drop(columns=[target])
    if preprocess:
        inputs = run_preprocess(model, preprocess, inputs)
    frame = inputs.assign(**{target: data[target].to_numpy()})
    try:
        with _deadline(timeout_s, f"trainer {trainer}"):
            estimator = fn(frame, target, dict(params))
    except WorkflowError:
        raise
    except Exception as exc:  # the user's code: anything can happen
        raise WorkflowError(
            f"trainer {trainer} raised {type(exc).__name__}: {exc}", "fix the trainer (see the step's log)"
        ) from None
    if not callable(getattr(estimator, "predict", None)):
        raise WorkflowError(
            f"trainer {trainer} returned {type(estimator).__name__}, which has no predict()",
            "return a fitted model with predict(DataFrame)",
        )
    classes = None
    if task == "classification":
        if not callable(getattr(estimator, "predict_proba", None)):
            raise WorkflowError(
                f"trainer {trainer} returned a classifier without predict_proba()",
                "return a model with predict_proba (the gate's roc_auc and log_loss need it)",
            )
        found = getattr(estimator, "classes_", None)
        classes = [_plain(c) for c in (found if found is not None else sorted(data[target].unique()))]
    return ModelArtifact(
        model=model,
        task=task,
        target=target,
        features=features,
        estimator=estimator,
        preprocess=preprocess,
        classes=classes,
    )


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def train(
    settings: Settings,
    *,
    model: str,
    train_uri: str,
    model_path: Path,
    task: str,
    target: str,
    trainer: str,
    params: dict[str, Any],
    preprocess: str = "",
    timeout_s: float = 0,
    workflow_name: str = "",
) -> dict[str, Any]:
    """Fit on the train snapshot and write the packaged model (joblib) to ``model_path``; its sha256 is
    returned (the step's ``model_sha256`` output parameter), which ``evaluate`` checks before unpickling.
    This step runs the user's code, so it holds no signing key."""
    import hashlib
    import io

    import joblib

    from driftloop.usercode import ensure_code_path

    ensure_code_path(settings.models.get(model))
    df = read_table(settings, train_uri)
    artifact = fit(
        df,
        model=model,
        task=task,
        target=target,
        trainer=trainer,
        params=params,
        preprocess=preprocess,
        timeout_s=timeout_s,
    )
    model_path = Path(model_path)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    joblib.dump(artifact, buf)
    model_path.write_bytes(buf.getvalue())
    return {
        "sha256": hashlib.sha256(buf.getvalue()).hexdigest(),
        "model": model,
        "trainer": trainer,
        "estimator": type(artifact.estimator).__name__,
        "rows": len(df),
        "model_bytes": model_path.stat().st_size,
    }
