"""The local sensor: the compiled Argo Events Sensor, run on one machine against Kafka.

It evaluates the Sensor YAML under ``manifests/`` (:mod:`.spec`: filters in :mod:`.filters`, gjson paths in
:mod:`.path`, Go templates in :mod:`.gotemplate`, parameters in :mod:`.mapping`), admits runs with the
policies of :mod:`sensors.policies`, makes each submission durable (:mod:`.submission`) and only then
commits offsets (:mod:`.service`). Malformed records go to the dead-letter topic (:mod:`.envelope`).
"""

from __future__ import annotations

__all__: list[str] = []
