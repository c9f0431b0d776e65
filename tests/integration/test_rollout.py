"""Deploy strategies end to end on the real embedded Kafka + S3 and the local model server, driven through
the workflow's step functions (what the Argo tasks call): a stepped canary rolled back at its second
step, and a shadow promoted or discarded by the same rules as a canary."""

from __future__ import annotations

import random
import threading
import uuid
from typing import Any

import httpx
import pytest

from driftloop.registry import Registry
from driftloop.s3 import S3Store
from driftloop.serving import ModelServer
from tests.integration.test_serving import dump, rows, train, wait_for
from tests.integration.test_serving_canary import FlakyModel
from workflows.steps import deploy as steps
from workflows.steps.context import read_run_record

pytestmark = pytest.mark.integration

RUN = "retrain-credit-rollout"


@pytest.fixture
def make(settings_for: Any, bucket: str, topic: Any) -> Any:
    servers: list[ModelServer] = []

    def build(deploy: dict[str, Any]) -> Any:
        from driftloop.modelspec import example_spec

        spec = {**example_spec("credit"), "deploy": deploy, "canary": {"min_requests": 60, "min_labels": 30}}
        settings = settings_for(
            **{
                "s3.bucket": bucket,
                "topics.inference_log": topic(),
                "topics.feedback": topic(),
                "topics.outcomes": topic(),
                "serving.canary_fraction": 0.2,
                "serving.log_batch_size": 50,
                "models": {"credit": spec},
            }
        )
        registry = Registry(S3Store(settings))
        champion, df = train(seed=0)
        registry.register("credit", dump(champion))
        registry.promote("credit", "v1")
        server = ModelServer(settings, "credit", registry=registry, port=0, poll_s=0.2)
        server.start()
        servers.append(server)
        return settings, registry, server, httpx.Client(base_url=server.url), df, champion

    yield build
    for s in servers:
        s.stop()


def drive(
    http: httpx.Client, df: Any, n: int, *, failing: bool, feedback_url: str, label_every: int = 2
) -> dict[str, int]:
    """``n`` one-row requests; ``failing=False`` picks only rows FlakyModel scores (income % 3 != 0)."""
    from monitors.datasets import TARGET

    pool = [j for j in range(len(df)) if failing or int(df["income"].iloc[j]) % 3 != 0]
    served: dict[str, int] = {}
    labels = []
    for i in range(n):
        j = random.choice(pool)
        r = http.post(
            "/v1/models/credit/predict", json={"instances": rows(df, 1, j), "request_id": uuid.uuid4().hex}
        )
        version = r.json().get("model_version") if r.status_code == 200 else f"error-{r.status_code}"
        served[version] = served.get(version, 0) + 1
        if label_every and i % label_every == 0 and r.status_code == 200:
            labels.append({"request_id": r.json()["request_id"], "label": int(df[TARGET].iloc[j])})
    if labels:
        assert http.post(f"{feedback_url}/v1/feedback", json={"labels": labels}).status_code == 202
    return served


def test_stepped_canary_is_rolled_back_at_its_second_step(make: Any) -> None:
    settings, registry, server, http, df, champion = make({"steps": [0.2, 0.5, 1.0]})
    version = registry.register("credit", dump(FlakyModel(champion))).version
    # step 1 of 3 (20 %): the canary only sees rows it can score — as good as the champion
    steps.deploy_canary(settings, model="credit", version=version, workflow_name=RUN)
    wait_for(lambda: http.get("/v1/models/credit").json()["canary"] == version)
    served = drive(http, df, 600, failing=False, feedback_url=server.feedback_url)
    assert 0.12 <= served.get(version, 0) / 600 <= 0.28, served
    assert server.sink.wait_empty(20)
    first = steps.analyze_canary(settings, model="credit", version=version, workflow_name=RUN, duration_s=3)
    assert first["decision"] == "promote" and first["step"] == 0, first["reasons"]

    # step 2 of 3 (50 %): the weight moves, then the analysis watches this step's traffic only
    result: dict[str, Any] = {}
    worker = threading.Thread(
        target=lambda: result.update(
            steps.canary_step(
                settings, model="credit", version=version, workflow_name=RUN, step_index=1, duration_s=20
            )
        )
    )
    worker.start()
    wait_for(lambda: http.get("/v1/models/credit").json()["step"] == 1)
    assert http.get("/v1/models/credit").json()["canary_fraction"] == 0.5
    served = drive(http, df, 400, failing=True, feedback_url=server.feedback_url)
    assert server.sink.wait_empty(20)
    worker.join(60)
    assert result["decision"] == "rollback" and result["step"] == 1 and result["fraction"] == 0.5
    assert any("error rate" in r for r in result["reasons"]), result["reasons"]
    assert 0.35 <= (served.get(version, 0) + served.get("error-500", 0)) / 400 <= 0.65, served
    deployed = registry.get("credit", version).records["canary_deploy"]
    assert deployed["step"] == 1 and deployed["fraction"] == 0.5 and deployed["strategy"] == "canary"
    # the step's window starts at the step: step 1's clean traffic is not in it
    assert result["since_ms"] == deployed["started_ms"]

    steps.rollback(settings, model="credit", version=version, workflow_name=RUN)
    assert registry.get_alias("credit", "champion") == "v1" and registry.get_alias("credit", "canary") is None
    record = read_run_record(settings, "credit", RUN)
    assert record["canary_steps"] == [
        {"step": 0, "fraction": 0.2, "decision": "promote"},
        {"step": 1, "fraction": 0.5, "decision": "rollback"},
    ]
    assert record["rolled_back"] == version
    wait_for(lambda: http.get("/v1/models/credit").json()["canary"] is None)


@pytest.mark.parametrize("good", [True, False], ids=["promoted", "discarded"])
def test_shadow_never_answers_and_is_judged_like_a_canary(make: Any, good: bool) -> None:
    settings, registry, server, http, df, champion = make({"strategy": "shadow"})
    challenger = champion if good else FlakyModel(champion)
    version = registry.register("credit", dump(challenger)).version
    out = steps.deploy_canary(settings, model="credit", version=version, workflow_name=RUN)
    assert out["strategy"] == "shadow" and out["fraction"] == 1.0
    wait_for(lambda: http.get("/v1/models/credit").json()["strategy"] == "shadow")
    served = drive(http, df, 300, failing=True, feedback_url=server.feedback_url)
    assert served == {"v1": 300}  # every client answered by the champion, even when the shadow fails
    assert server.sink.wait_empty(20)

    verdict = steps.analyze_canary(settings, model="credit", version=version, workflow_name=RUN, duration_s=3)
    assert verdict["strategy"] == "shadow"
    assert verdict["canary"]["requests"] >= 60  # mirrored copies (asynchronous), under the shadow's version
    if good:
        assert verdict["decision"] == "promote", verdict["reasons"]
        steps.promote(settings, model="credit", version=version, workflow_name=RUN)
        assert registry.get_alias("credit", "champion") == version
        wait_for(lambda: http.get("/v1/models/credit").json()["champion"] == version)
    else:
        assert verdict["decision"] == "rollback" and verdict["canary"]["errors"] > 0, verdict["reasons"]
        steps.rollback(settings, model="credit", version=version, workflow_name=RUN)
        assert registry.get_alias("credit", "champion") == "v1"
        assert registry.get_alias("credit", "canary") is None


def test_a_failed_run_rolls_back_the_canary_it_left(make: Any) -> None:
    from driftloop.events import RETRAIN_FAILED
    from workflows.steps.outcome import publish_outcome

    settings, registry, _server, http, _df, champion = make({})
    version = registry.register("credit", dump(champion)).version
    steps.deploy_canary(settings, model="credit", version=version, workflow_name=RUN)
    other = "retrain-credit-other"  # another run's exit handler leaves this canary alone
    publish_outcome(settings, model="credit", status="Failed", workflow_name=other)
    assert registry.get_alias("credit", "canary") == version
    out = publish_outcome(settings, model="credit", status="Failed", workflow_name=RUN)
    assert out["type"] == RETRAIN_FAILED
    assert registry.get_alias("credit", "canary") is None and registry.get_alias("credit", "champion") == "v1"
    assert read_run_record(settings, "credit", RUN)["left_canary_rolled_back"] == version
    wait_for(lambda: http.get("/v1/models/credit").json()["canary"] is None)
