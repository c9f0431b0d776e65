"""The files ``driftloop init NAME --task ...`` writes: a trainer module, a sample data set, the config.

A ``Dockerfile`` adds the module to driftloop's image, for a cluster (``image:`` of the model). The trainer is
a working scikit-learn example of the trainer contract, meant to be replaced by the user's
own model; the data set is generated here (no downloads) so that ``driftloop up`` + ``driftloop retrain
NAME`` work right away. Existing files are never overwritten; ``driftloop.yaml`` gets the model's entry
added (a model of that name already there is an error).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from driftloop.errors import UsageError
from driftloop.modelspec import MODEL_NAME
from workflows.pod import DEFAULT_IMAGE

__all__ = ["scaffold"]

_TRAINER = {
    "classification": '''"""{name}: the trainer driftloop calls — replace the model with yours.

Contract: train(data, target, params) -> a fitted model with predict(DataFrame) and predict_proba(DataFrame).
"""

from typing import Any

import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier


def train(data: pd.DataFrame, target: str, params: dict[str, Any]) -> Any:
    model = HistGradientBoostingClassifier(
        max_iter=int(params.get("max_iter", 100)), random_state=int(params.get("seed", 0))
    )
    return model.fit(data.drop(columns=[target]), data[target])
''',
    "regression": '''"""{name}: the trainer driftloop calls — replace the model with yours.

Contract: train(data, target, params) -> a fitted model with predict(DataFrame).
"""

from typing import Any

import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor


def train(data: pd.DataFrame, target: str, params: dict[str, Any]) -> Any:
    model = HistGradientBoostingRegressor(
        max_iter=int(params.get("max_iter", 100)), random_state=int(params.get("seed", 0))
    )
    return model.fit(data.drop(columns=[target]), data[target])
''',
}


_DOCKERFILE = """# The image {name}'s preprocess, train and evaluate steps run in on a cluster: driftloop's
# image plus your code (driftloop's own steps keep driftloop's image). Build and push it with any OCI
# builder, e.g.
#   docker build -t registry.example.com/{name}:0.1.0 .  &&  docker push registry.example.com/{name}:0.1.0
# then set `image: registry.example.com/{name}:0.1.0` on the model in driftloop.yaml and `driftloop compile`.
FROM {base}
# Your trainer's own dependencies, if driftloop's image lacks them:
# USER root
# RUN pip install --no-cache-dir -r /opt/model/requirements.txt
# USER 10001:10001
COPY --chown=10001:10001 {module}.py /opt/model/
ENV PYTHONPATH=/opt/model
"""


def _sample(task: str, rows: int, seed: int = 0) -> tuple[str, object]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 4))
    frame = pd.DataFrame(x, columns=["x1", "x2", "x3", "x4"]).round(4)
    signal = 1.5 * x[:, 0] - 2.0 * x[:, 1] + 0.5 * x[:, 2] * x[:, 3]
    if task == "classification":
        frame["label"] = (signal + rng.normal(scale=0.8, size=rows) > 0).astype(int)
        return "label", frame
    frame["y"] = (10.0 + 3.0 * signal + rng.normal(scale=1.0, size=rows)).round(3)
    return "y", frame


def scaffold(name: str, task: str, directory: Path, rows: int = 2000) -> list[str]:
    """Write the files for model ``name``; returns what was done, one line each."""
    if not MODEL_NAME.match(name) or len(name) > 63:
        raise UsageError(f"{name!r} is not a model name", "use lowercase letters, digits and '-' (RFC 1123)")
    if task not in _TRAINER:
        raise UsageError(f"--task {task!r} is not a task", "use classification or regression")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    module = name.replace("-", "_") + "_model"
    trainer = directory / f"{module}.py"
    data_dir = directory / "data"
    dataset = data_dir / f"{name}.csv"
    config = directory / "driftloop.yaml"
    current = yaml.safe_load(config.read_text()) if config.is_file() else {}
    current = current if isinstance(current, dict) else {}
    models = current.get("models") or {}
    if isinstance(models, list):
        models = {m: {} for m in models}
    if name in models:
        raise UsageError(f"{config} already has a model {name!r}", "pick another name or edit the file")
    done: list[str] = []
    if trainer.exists():
        done.append(f"kept {trainer} (exists)")
    else:
        trainer.write_text(_TRAINER[task].format(name=name))
        done.append(f"wrote {trainer}: the trainer (train(data, target, params) -> model)")
    target, frame = _sample(task, rows)
    if dataset.exists():
        done.append(f"kept {dataset} (exists)")
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        frame.to_csv(dataset, index=False)  # type: ignore[attr-defined]
        done.append(f"wrote {dataset}: {rows} sample rows, target {target!r}")
    dockerfile = directory / "Dockerfile"
    if dockerfile.exists():
        done.append(f"kept {dockerfile} (exists)")
    else:
        dockerfile.write_text(_DOCKERFILE.format(name=name, module=module, base=DEFAULT_IMAGE))
        done.append(f"wrote {dockerfile}: the image for a cluster (driftloop's image + {module}.py)")
    models[name] = {
        "task": task,
        "dataset": str(Path("data") / dataset.name),
        "target": target,
        "trainer": f"{module}:train",
        "params": {"max_iter": 100},
        "metrics": {"primary": "roc_auc" if task == "classification" else "mae", "gate_margin": 0.02},
    }
    current["models"] = models
    config.write_text(yaml.safe_dump(current, sort_keys=False))
    done.append(f"added {name} to {config}")
    done.append(f"next: driftloop up --services-only  (another terminal: driftloop retrain {name})")
    return done
