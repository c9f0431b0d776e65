"""A hostile pickle for the trust fault tests."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


class Boom:
    """Unpickling this runs ``touch <marker>``: the marker file appearing proves the pickle was loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))
