"""Step processes and the model server pin OpenMP to one thread unless told otherwise."""

from __future__ import annotations

import subprocess
import sys


def _omp_after(code: str, env_value: str | None) -> str:
    env_line = "" if env_value is None else f"os.environ['OMP_NUM_THREADS'] = {env_value!r}\n"
    script = (
        f"import os\nos.environ.pop('OMP_NUM_THREADS', None)\n{env_line}{code}\n"
        "print(os.environ.get('OMP_NUM_THREADS'))"
    )
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_pin_sets_one_thread_before_openmp_loads() -> None:
    code = "from workflows.steps.context import pin_native_threads\npin_native_threads()"
    assert _omp_after(code, None) == "1"


def test_pin_respects_an_explicit_setting() -> None:
    code = "from workflows.steps.context import pin_native_threads\npin_native_threads()"
    assert _omp_after(code, "4") == "4"


def test_sklearn_sees_the_pinned_thread_count() -> None:
    code = (
        "from workflows.steps.context import pin_native_threads\npin_native_threads()\n"
        "from sklearn.utils._openmp_helpers import _openmp_effective_n_threads\n"
        "assert _openmp_effective_n_threads() == 1, _openmp_effective_n_threads()"
    )
    assert _omp_after(code, None) == "1"
