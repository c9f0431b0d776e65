"""A built-in example's trainer imports in a process that has only the installed package (a pod)."""

from __future__ import annotations

import subprocess
import sys


def test_builtin_example_trainer_loads_without_code_dir() -> None:
    # a pod's train step calls load_callable without a usable code_dir; the credit example failed there
    code = (
        "import sys; from driftloop.usercode import load_callable; "
        "fn = load_callable('credit', 'trainer', 'credit_model:train'); print(fn.__module__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/", check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "credit_model"


def test_a_model_that_is_not_an_example_still_fails_clearly() -> None:
    code = (
        "from driftloop.usercode import load_callable\n"
        "try:\n    load_callable('mine', 'trainer', 'credit_model:train')\n"
        "except Exception as e:\n    print(type(e).__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/", check=False)
    assert out.stdout.strip() == "ConfigError", out.stderr
