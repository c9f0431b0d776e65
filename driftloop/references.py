"""References inside a Sensor that Argo's own linter does not check, and what Argo Events then does.

``argo-events lint`` (v1.9.11) and the controller accept a trigger whose ``conditions`` or parameter
``dependencyName`` names a dependency the Sensor does not have. At run time the sensor pod then logs
"Dependency expression and dependency list do not match, X is not found" and that trigger never fires
(``pkg/sensors/listener.go``), or skips the parameter without an error so the Workflow keeps the template's
default (``pkg/sensors/triggers/params.go``). :func:`sensor_reference_errors` finds both before a cluster
does; the strict validation (``driftloop compile --check``) and the local sensor run it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["sensor_reference_errors"]

# a dependency name inside a conditions expression: what govaluate reads as a variable ('-' escaped)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")


def _condition_names(expression: str) -> list[str]:
    return [n for n in _NAME.findall(expression) if n not in ("true", "false")]


def sensor_reference_errors(doc: Mapping[str, Any]) -> list[str]:
    """Each trigger condition or parameter of Sensor ``doc`` that names a missing dependency."""
    spec = doc.get("spec") or {}
    known = {str(d.get("name")) for d in spec.get("dependencies") or [] if isinstance(d, Mapping)}
    known |= {str(g.get("name")) for g in spec.get("dependencyGroups") or [] if isinstance(g, Mapping)}
    errors = []
    for i, trigger in enumerate(spec.get("triggers") or []):
        template = (trigger or {}).get("template") or {}
        where = f"spec.triggers[{i}] ({template.get('name') or '?'})"
        for name in _condition_names(str(template.get("conditions") or "")):
            if name not in known:
                errors.append(
                    f"{where}.template.conditions: Dependency expression and dependency list do not match, "
                    f"{name} is not found (Argo Events never fires this trigger)"
                )
        bodies = [trigger.get("parameters") or []] + [
            (body or {}).get("parameters") or [] for body in template.values() if isinstance(body, Mapping)
        ]
        for params in bodies:
            for j, param in enumerate(params):
                dep = str(((param or {}).get("src") or {}).get("dependencyName") or "")
                if dep and dep not in known:
                    errors.append(
                        f"{where} parameter {j}: dependencyName {dep!r} is not a dependency of the Sensor "
                        "(Argo Events skips the parameter without an error; known: "
                        f"{', '.join(sorted(known))})"
                    )
    return errors
