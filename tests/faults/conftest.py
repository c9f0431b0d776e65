"""Fixtures the fault tests share: a registry on a bucket and data_dir of the test's own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from driftloop.registry import Registry
from driftloop.s3 import S3Store


@pytest.fixture
def registry(settings_for: Any, bucket: str, tmp_path: Path) -> Registry:
    settings = settings_for(**{"s3.bucket": bucket, "data_dir": str(tmp_path / "data")})
    return Registry(S3Store(settings))
