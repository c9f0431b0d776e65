"""The local sensor against poison records, on the real embedded Kafka + S3.

* A 5 MB non-JSON record on the drift topic: dead-lettered with its reason, size, topic/partition/offset and
  a bounded prefix of the payload; the offset is committed; the sensor goes on and a valid event after it
  still starts its run.
* ``data.model = "credit\\n"``: Go's RE2 ``$`` does not match before a final newline, so the compiled
  Sensor's ``^credit$`` filter must not pass it (it used to, with a policy state of its own bypassing the
  model's cooldown): it is dead-lettered as an invalid model name, and no policy state is created for it.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from driftloop.config import Settings
from driftloop.kafka import read_recent
from driftloop.local.sensor.envelope import PAYLOAD_PREFIX
from driftloop.s3 import S3Store
from tests.integration.test_sensor_kafka import drift_event, env, publish, run_sensor, submissions

pytestmark = pytest.mark.integration
__all__ = ["env"]  # the fixture, imported from the sensor's integration tests


def _publish_raw(settings: Settings, value: bytes) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, max_request_size=8 * 1024 * 1024, acks="all"
    )
    try:
        producer.send(settings.topics.drift_events, value=value, key=b"credit").get(timeout=30)
    finally:
        producer.close()


def test_an_oversized_poison_record_is_dead_lettered_and_the_sensor_goes_on(
    env: Callable[..., Settings],
) -> None:
    settings = env()
    poison = b"\xff" + b"x" * (5 * 1024 * 1024)
    _publish_raw(settings, poison)
    event = drift_event()
    publish(settings, event)
    run_sensor(settings)  # raises if the poison record stopped the sensor
    runs = submissions(settings)
    assert [r["event_id"] for r in runs] == [event["id"]]  # the valid event after the poison still ran
    letters = [json.loads(r.value) for r in read_recent(settings, settings.topics.dead_letters)]
    assert len(letters) == 1
    letter = letters[0]
    assert letter["reason"] == "too-large" and letter["size"] == len(poison) and letter["truncated"] is True
    assert letter["source_topic"] == settings.topics.drift_events and letter["offset"] == 0
    assert len(letter.get("payload", "")) + len(letter.get("payload_b64", "")) <= 2 * PAYLOAD_PREFIX
    # the offsets were committed: a second sensor of the same group sees nothing left to do
    run_sensor(settings, idle_s=2.0)
    assert len(submissions(settings)) == 1
    assert len(list(read_recent(settings, settings.topics.dead_letters))) == 1


def test_a_model_name_with_a_trailing_newline_gets_no_policy_state(env: Callable[..., Settings]) -> None:
    settings = env()
    sneaky = drift_event(model="credit\n")
    publish(settings, sneaky)
    run_sensor(settings)
    assert submissions(settings) == []
    letters = [json.loads(r.value) for r in read_recent(settings, settings.topics.dead_letters)]
    assert [x["reason"] for x in letters] == ["invalid-model"]
    states = S3Store(settings).list("sensor/state/")
    assert states == [], states
