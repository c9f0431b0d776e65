"""Importing the user's code: ``module:function`` references found on the model's ``code_dir``.

In local mode a step process (and the model server) puts the model's ``code_dir`` on ``sys.path`` and
imports the module from there; in a pod the module is on the image's path and ``code_dir`` — a path on the
machine that compiled — usually does not exist, which is fine. Unpickling a registered model whose class
lives in the user's module needs the same path, so every loader calls :func:`ensure_code_path` first.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftloop.errors import ConfigError

if TYPE_CHECKING:
    from driftloop.modelspec import ModelSpec

__all__ = ["ensure_code_path", "load_callable"]


def ensure_code_path(spec: ModelSpec | None) -> None:
    """Put ``spec.code_dir`` first on ``sys.path`` (once) when it exists."""
    if spec is None or spec.code_dir is None:
        return
    path = str(Path(spec.code_dir).resolve())
    if Path(path).is_dir() and path not in sys.path:
        sys.path.insert(0, path)
        importlib.invalidate_caches()


def _ensure_example_path(model: str) -> None:
    """A built-in example's modules (``models: [credit]``) ship inside the package: put their directory
    last on ``sys.path``. A pod's step gets no ``code_dir`` it can use (the compiling machine's path), and on
    the real cluster the credit example's train step failed with "No module named 'credit_model'". Last, so
    a user's own module of the same name, on ``code_dir`` or the image's path, still wins."""
    from driftloop.modelspec import EXAMPLES_DIR

    path = EXAMPLES_DIR / model
    if path.is_dir() and str(path) not in sys.path:
        sys.path.append(str(path))
        importlib.invalidate_caches()


def load_callable(model: str, key: str, ref: str, spec: ModelSpec | None = None) -> Callable[..., Any]:
    """The function ``ref`` (``module:function``) of model ``model``'s setting ``key``; a ConfigError names
    the model, the key and what went wrong (module missing, import failed, no such function)."""
    ensure_code_path(spec)
    _ensure_example_path(model)
    module_name, _, attr = ref.partition(":")
    where = f" (code_dir {spec.code_dir})" if spec is not None and spec.code_dir else ""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"models.{model}.{key}: cannot import {module_name!r}{where}: {exc}",
            "check the module name and models.<name>.code_dir (or the image's PYTHONPATH)",
        ) from None
    except Exception as exc:  # the user's module raised while importing
        raise ConfigError(
            f"models.{model}.{key}: importing {module_name!r} raised {type(exc).__name__}: {exc}",
            "fix the module so that it imports",
        ) from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ConfigError(
            f"models.{model}.{key}: {module_name!r} has no function {attr!r}",
            f"define {attr}() in {module_name} or fix the reference",
        )
    return fn
