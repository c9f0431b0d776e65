"""`make e2e`: driftloop on the real engines of `make cluster`, with assertions on real objects.

Checks, in order (each prints a timeline line; the run ends with a one-line summary):
1. `kubectl apply -k manifests/overlays/local-cluster` and the Secrets it asks for;
2. a manual `driftloop retrain credit` submitted through the Argo Server: every step runs as a pod of the
   driftloop image, the Workflow ends Succeeded, the registry holds champion v1 with its metrics;
3. a drift CloudEvent produced to Kafka passes the real Kafka EventSource, the (Kafka) EventBus and the
   Sensor, and creates exactly one Workflow from driftloop-retrain-credit with the event's parameters; the
   same event redelivered 20 times creates none (the run name is a digest of the event id);
4. that Workflow — a challenger against champion v1 — canaries on the `kubernetes` deploy target: the
   canary Deployment of the model server is scaled up, the analysis judges both versions on labelled
   traffic sent through the Service (tests/cluster/traffic.py), the run promotes;
5. a challenger forced through the quality gate but bad on live traffic is rolled back by the canary
   (`driftloop retrain` exits 3);
6. the monitor CronWorkflow, set to a one-minute schedule, fires and its run Succeeds;
7. with credit's template built with `approval: required`, a run suspends after its canary's promote
   verdict, and `driftloop approve` (a registry record, then a resume through the Argo Server) lets it
   promote; the overlay's template is restored.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import cluster  # noqa: E402
from traffic import ServiceTraffic  # noqa: E402

REPO = cluster.REPO
DRIFTLOOP = REPO / ".venv" / "bin" / "driftloop"
NAMESPACE = "driftloop"
IMAGE = "ghcr.io/driftloop/driftloop:"
T0 = time.monotonic()
T = TypeVar("T")


class E2EError(Exception):
    """A check failed; the message says which and what was seen."""


def mark(stage: str, message: str) -> None:
    print(f"e2e {time.monotonic() - T0:7.1f}s  {stage:<10} {message}", flush=True)


def kubectl(*args: str, check: bool = True, stdin: str | None = None) -> str:
    exe = REPO / ".venv" / "bin" / "kubectl"
    p = subprocess.run(
        [str(exe), "--kubeconfig", str(cluster.KUBECONFIG), *args],
        input=stdin,
        capture_output=True,
        text=True,
    )
    if check and p.returncode != 0:
        raise E2EError(f"kubectl {' '.join(args[:3])} exited {p.returncode}: {p.stderr.strip()[-300:]}")
    return p.stdout


def host_env() -> dict[str, str]:
    """The configuration a user's machine would have: the Argo Server, and Kafka/S3 at the node."""
    access, secret = cluster.s3_keys()
    ip = kubectl("-n", "argo", "get", "svc", "argo-server", "-o", "jsonpath={.spec.clusterIP}")
    return {
        **os.environ,
        "DRIFTLOOP_ARGO__SERVER_URL": f"http://{ip}:2746",
        "DRIFTLOOP_ARGO__NAMESPACE": NAMESPACE,
        "DRIFTLOOP_S3__ENDPOINT_URL": f"http://{cluster.NODE_IP}:{cluster.S3_PORT}",
        "DRIFTLOOP_S3__ACCESS_KEY_ID": access,
        "DRIFTLOOP_S3__SECRET_ACCESS_KEY": secret,
        "DRIFTLOOP_KAFKA__BOOTSTRAP_SERVERS": f"{cluster.NODE_IP}:{cluster.KAFKA_PORT}",
    }


def secret(name: str, **data: str) -> None:
    args = ["-n", NAMESPACE, "create", "secret", "generic", name, "--dry-run=client", "-o", "json"]
    args += [f"--from-literal={k.replace('_', '-')}={v}" for k, v in data.items()]
    kubectl("apply", "-f", "-", stdin=kubectl(*args))


def _secret_value(name: str, key: str) -> str:
    """A key of a Secret in the driftloop namespace, decoded; empty when there is no such Secret."""
    out = kubectl("-n", NAMESPACE, "get", "secret", name, "-o", "json", check=False)
    return base64.b64decode(json.loads(out)["data"][key]).decode() if out else ""


def apply_overlay(env: dict[str, str]) -> None:
    kubectl("apply", "-k", str(REPO / "manifests" / "overlays" / "local-cluster"))
    access, key = cluster.s3_keys()
    secret("driftloop-s3", access_key_id=access, secret_access_key=key)
    # One key pair per cluster: a second run must still verify what the first one signed. The host reads
    # the registry as a user's machine would, with the public key only.
    verify = _secret_value("driftloop-verify", "verify-key")
    if verify:
        env["DRIFTLOOP_REGISTRY__VERIFY_KEY"] = verify
    else:
        keys = dict(
            line.split("=", 1)
            for line in subprocess.run(
                [str(DRIFTLOOP), "registry", "keygen"],
                capture_output=True,
                text=True,
                check=True,
                env=env,
                cwd=REPO,
            ).stdout.split()
        )
        secret("driftloop-signing", signing_key=keys["signing-key"])
        secret("driftloop-verify", verify_key=keys["verify-key"])
        env["DRIFTLOOP_REGISTRY__VERIFY_KEY"] = keys["verify-key"]
    # the model servers read the token when they start: a new one would lock the traffic out of feedback
    if not _secret_value("driftloop-serving", "auth-token"):
        secret("driftloop-serving", auth_token=os.urandom(16).hex())
    # The controller did not apply a workflow-controller-configmap changed while it ran (its watches are
    # unreliable on Debian's etcd 3.4, see engines.py): pods came without the executor securityContext and
    # the namespace's `restricted` Pod Security refused them. Restart it so it reads the merged keys.
    kubectl("-n", "argo", "rollout", "restart", "deployment/workflow-controller")
    kubectl("-n", "argo", "rollout", "status", "deployment/workflow-controller", "--timeout=180s")
    mark("apply", "manifests/overlays/local-cluster applied; Secrets driftloop-s3/-signing/-verify/-serving")


def _python(code: str, env: dict[str, str] | None, what: str, *args: str) -> str:
    """Run ``code`` (``sys.argv[1:]`` = ``args``) with the checkout's Python against the cluster's S3
    (``env``; None: this process's); its stdout, stripped."""
    out = subprocess.run(
        [str(REPO / ".venv" / "bin" / "python"), "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )
    if out.returncode != 0:
        raise E2EError(f"{what} failed: {out.stderr.strip()[-300:]}")
    return out.stdout.strip()


def seed(env: dict[str, str]) -> None:
    """The credit data set the retrain reads (what `driftloop demo` writes first)."""
    code = (
        "from driftloop.config import load_settings; from driftloop.s3 import S3Store; "
        "from driftloop.demo.data import applications; s = S3Store(load_settings()); "
        "s.put_parquet('datasets/credit/current.parquet', applications(4000, 1, False)); "
        "print(s.uri('datasets/credit/current.parquet'))"
    )
    mark("data", f"4000 applications → {_python(code, env, 'seeding the data set')}")


def manual_retrain(env: dict[str, str]) -> tuple[str, str]:
    """Check 2: (the Workflow's name, the version its register step wrote)."""
    t0 = time.monotonic()
    # The template's podGC deletes a step's pod once it Succeeded, so the pods are recorded as they come:
    # a watch on the namespace's pods, from before the submission (name and main container's image).
    column = 'IMAGE:.spec.containers[?(@.name=="main")].image'
    kube = [str(REPO / ".venv" / "bin" / "kubectl"), "--kubeconfig", str(cluster.KUBECONFIG), "-n", NAMESPACE]
    watch = subprocess.Popen(
        [*kube, "get", "pods", "-w", "--no-headers", "-o", f"custom-columns=NAME:.metadata.name,{column}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    seen: dict[str, str] = {}

    def record() -> None:
        assert watch.stdout is not None
        for line in watch.stdout:
            pod, _, image = line.strip().partition(" ")
            seen[pod] = image.strip()

    reader = threading.Thread(target=record, daemon=True)
    reader.start()
    try:
        p = subprocess.run(
            [str(DRIFTLOOP), "retrain", "credit", "--json"],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
            timeout=1200,
        )
    finally:
        time.sleep(2)
        watch.terminate()
        reader.join(5)
    name = next((line.split("/")[-1] for line in p.stderr.splitlines() if line.startswith("submitted ")), "")
    if not name:
        raise E2EError(f"driftloop retrain did not submit (exit {p.returncode}): {p.stderr.strip()[-300:]}")
    mark("submit", f"Workflow {NAMESPACE}/{name} submitted through the Argo Server")
    wf = json.loads(kubectl("-n", NAMESPACE, "get", "workflow", name, "-o", "json"))
    phase = wf["status"].get("phase")
    nodes = wf["status"].get("nodes", {}).values()
    pod_nodes = [n for n in nodes if n["type"] == "Pod"]
    pods = {pod: image for pod, image in seen.items() if pod.startswith(f"{name}-")}
    images = set(pods.values())
    if p.returncode != 0 or phase != "Succeeded":
        failed = [
            f"{n['displayName']}: {n.get('message', '')}" for n in pod_nodes if n["phase"] != "Succeeded"
        ]
        said = p.stderr.strip().splitlines()[-1:] or [""]
        raise E2EError(f"{name} ended {phase} (retrain exit {p.returncode}: {said[0][-200:]}): {failed[:3]}")
    if len(pods) < len(pod_nodes) or not images or not all(i.startswith(IMAGE) for i in images):
        raise E2EError(f"{name}: {len(pod_nodes)} pod steps, {len(pods)} pods, main images {images}")
    mark(
        "run",
        f"{name} Succeeded in {time.monotonic() - t0:.0f} s: {len(pod_nodes)} steps, each a pod of "
        f"{', '.join(sorted(images))}",
    )
    registered = [
        p["value"]
        for n in pod_nodes
        if n["displayName"].startswith("register")
        for p in (n.get("outputs") or {}).get("parameters", [])
        if p["name"] == "version"
    ]
    return name, (registered or [""])[0]


def champion(env: dict[str, str], want: str) -> str:
    """The registry's champion is ``want`` (v1 on a fresh cluster), with its metrics."""
    code = (
        "import json; from driftloop.config import load_settings; from driftloop.s3 import S3Store; "
        "from driftloop.registry import Registry; r = Registry(S3Store(load_settings())); "
        "v = r.get_alias('credit', 'champion'); m = r.get('credit', v).metrics if v else {}; "
        "print(json.dumps({'champion': v, 'metrics': m}))"
    )
    got = json.loads(_python(code, env, "reading the registry"))
    if not want or got["champion"] != want or not got["metrics"]:
        seen = f"champion {got['champion']}, metrics {got['metrics']}"
        raise E2EError(f"registry: {seen} (want {want!r} with metrics)")
    shown = ", ".join(
        f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in got["metrics"].items()
    )
    mark("registry", f"champion {want}: {shown[:120]}")
    return str(got["champion"])


def wait_for(what: str, probe: Callable[[], T | None], timeout_s: float, every_s: float = 2.0) -> T:
    """``probe()`` until it returns something other than None; E2EError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = probe()
        if got is not None:
            return got
        if time.monotonic() > deadline:
            raise E2EError(f"{what}: not after {timeout_s:.0f} s")
        time.sleep(every_s)


def _running_pod(label: str) -> str | None:
    pods = json.loads(kubectl("-n", NAMESPACE, "get", "pods", "-l", label, "-o", "json"))["items"]
    up = [p["metadata"]["name"] for p in pods if p["status"].get("phase") == "Running"]
    return up[0] if up else None


def _publish(env: dict[str, str], event: dict[str, Any], times: int) -> None:
    code = (
        "import json, sys; from driftloop.config import load_settings; from driftloop.events import "
        "CloudEvent; from monitors.publish import publish_event, validate_event; "
        "e = CloudEvent.parse(sys.argv[1]); validate_event(e.to_dict()); s = load_settings(); "
        f"[publish_event(s, e) for _ in range({times})]"
    )
    _python(code, env, "producing the drift event", json.dumps(event))


def _retrain_workflows() -> list[dict[str, Any]]:
    label = "events.argoproj.io/sensor=driftloop-drift"
    return list(json.loads(kubectl("-n", NAMESPACE, "get", "workflows", "-l", label, "-o", "json"))["items"])


def sensor_check(env: dict[str, str]) -> str:
    """Check 3: a drift event through the real EventSource → EventBus → Sensor → one Workflow."""
    from driftloop.contracts import run_name
    from driftloop.events import DRIFT_DETECTED

    for label in ("eventsource-name=driftloop-kafka", "sensor-name=driftloop-drift"):
        pod = wait_for(f"a Running pod with {label}", functools.partial(_running_pod, label), 240)
        mark("events", f"{pod} Running")
    before = {w["metadata"]["name"] for w in _retrain_workflows()}
    event_id = str(uuid.uuid4())
    report = f"s3://driftloop/reports/credit/e2e-{event_id[:8]}.html"
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id,
        "source": "driftloop/monitor/credit",
        "type": DRIFT_DETECTED,
        "subject": "credit",
        "datacontenttype": "application/json",
        "data": {
            **json.loads((REPO / "tests/unit/sensor_cases/drift_event.json").read_text())["data"],
            "report_uri": report,
        },
    }
    _publish(env, event, 1)
    t_event = time.monotonic()
    mark("event", f"drift CloudEvent {event_id} produced to driftloop.drift-events")
    want = run_name("credit", event_id)

    def created() -> dict[str, Any] | None:
        new = [w for w in _retrain_workflows() if w["metadata"]["name"] not in before]
        return new[0] if new else None

    wf = wait_for(f"the Sensor's Workflow {want}", created, 240)
    name = wf["metadata"]["name"]
    params = {p["name"]: p.get("value") for p in wf["spec"]["arguments"]["parameters"]}
    template = wf["spec"].get("workflowTemplateRef", {}).get("name")
    expected = {"model": "credit", "reason": "drift", "event_id": event_id, "report_uri": report}
    if name != want or template != "driftloop-retrain-credit" or params != expected:
        raise E2EError(f"the Sensor created {name} from {template} with {params} (want {want}, {expected})")
    mark("created", f"Workflow {name} from {template} {time.monotonic() - t_event:.1f} s after the event")
    # The same event, redelivered: the Sensor renders the same name and the API server refuses the
    # create ("already exists"). Argo Events' k8s trigger has no notion of a duplicate: after its retries
    # the Sensor's dead-letter trigger writes each one to the dead-letter topic — which is also how this
    # check knows all 20 were processed (the Sensor takes them one at a time, retries included).
    _publish(env, event, 20)
    t_redeliver = time.monotonic()
    mark("redeliver", "the same event produced 20 more times")

    def processed() -> int | None:
        n = _dead_letters(env, event_id)
        return n if n >= 20 else None

    dead = wait_for("the Sensor processing the 20 redeliveries (dead letters)", processed, 420, every_s=10)
    names = sorted(w["metadata"]["name"] for w in _retrain_workflows() if w["metadata"]["name"] not in before)
    if names != [name]:
        raise E2EError(f"after 20 redeliveries the Sensor's Workflows are {names} (want only {name})")
    mark(
        "dedupe",
        f"20 redeliveries processed in {time.monotonic() - t_redeliver:.0f} s: no Workflow created (still "
        f"only {name}); {dead} dead letters 'trigger-failed' (already exists)",
    )
    return name


def _dead_letters(env: dict[str, str], event_id: str) -> int:
    """How many dead letters carry the event ``event_id``."""
    code = (
        "import json, sys; from driftloop.config import load_settings; from driftloop.kafka import "
        "read_recent; s = load_settings(); recs = read_recent(s, s.topics.dead_letters, max_records=2000); "
        "bodies = [json.loads(r.value) for r in recs]; "
        "print(sum(1 for b in bodies if isinstance(b, dict) and json.loads(b.get('payload') or '{}')"
        ".get('id') == sys.argv[1]))"
    )
    return int(_python(code, env, "reading the dead letters", event_id))


def start_traffic(env: dict[str, str]) -> ServiceTraffic:
    """Labelled predictions through the model server's Service (both tracks), from the host."""
    from driftloop.demo.data import applications

    ip = kubectl("-n", NAMESPACE, "get", "svc", "serve-credit", "-o", "jsonpath={.spec.clusterIP}")
    wait_for("serve-credit ready", lambda: _ready("serve-credit") or None, 180)
    token = _secret_value("driftloop-serving", "auth-token")
    traffic = ServiceTraffic(ip, "credit", applications(4000, 7, False), target="default", token=token)
    traffic.start()
    mark("traffic", f"8 requests/s of 10 applications to serve-credit ({ip}), their labels to :8081")
    return traffic


def _ready(deployment: str) -> int:
    out = kubectl("-n", NAMESPACE, "get", "deploy", deployment, "-o", "jsonpath={.status.readyReplicas}")
    return int(out or 0)


def _node_output(wf: dict[str, Any], step: str, name: str) -> str:
    for node in wf["status"].get("nodes", {}).values():
        if node["type"] == "Pod" and node["displayName"].split("(")[0] == step:
            for param in (node.get("outputs") or {}).get("parameters", []):
                if param["name"] == name and node["phase"] == "Succeeded":
                    return str(param.get("value", ""))
    return ""


def _registry(env: dict[str, str], version: str) -> dict[str, Any]:
    """The champion, and version's canary_analysis record."""
    code = (
        "import json, sys; from driftloop.config import load_settings; from driftloop.s3 import S3Store; "
        "from driftloop.registry import Registry; r = Registry(S3Store(load_settings())); "
        "v = r.get('credit', sys.argv[1]); a = v.records.get('canary_analysis') or {}; "
        "print(json.dumps({'champion': r.get_alias('credit', 'champion'), 'analysis': a}, default=str))"
    )
    got: dict[str, Any] = json.loads(_python(code, env, "reading the registry", version))
    return got


def canary(env: dict[str, str], name: str, traffic: ServiceTraffic, want: str) -> str:
    """Checks 4/5: run ``name`` (a challenger against the champion) on the kubernetes deploy target: the
    canary Deployment is scaled up beside the stable one, the analysis judges both on the traffic's
    predictions and labels, and the run ends with ``want`` (promote | rollback). Returns the version."""
    t0 = time.monotonic()
    scaled = 0
    while True:
        wf = json.loads(kubectl("-n", NAMESPACE, "get", "workflow", name, "-o", "json"))
        phase = wf.get("status", {}).get("phase")
        ready = _ready("serve-credit-canary")
        if ready and not scaled:
            version = _node_output(wf, "register", "version")
            mark("canary", f"serve-credit-canary: {ready} ready pod(s) of {version} beside serve-credit")
        scaled = max(scaled, ready)
        if phase in ("Succeeded", "Failed", "Error"):
            break
        if time.monotonic() - t0 > 1500:
            raise E2EError(f"{name} still {phase} after 1500 s")
        time.sleep(3)
    version = _node_output(wf, "register", "version")
    verdict = _node_output(wf, "analyze-canary", "verdict")
    # the canary rows in the analysis can only come from the canary Deployment's pods (the stable ones
    # serve the champion); `scaled` is what this loop saw of its ready replicas
    if phase != "Succeeded" or verdict != want:
        failed = [
            n["displayName"] for n in wf["status"]["nodes"].values() if n["phase"] in ("Failed", "Error")
        ]
        raise E2EError(
            f"{name}: {phase}, canary pods seen {scaled}, verdict {verdict!r} (want {want}); failed {failed}"
        )
    reg = _registry(env, version)
    analysis = reg["analysis"]
    sides = {k: (analysis.get(k) or {}) for k in ("canary", "champion")}
    if any(not side.get("requests") or not side.get("labeled") for side in sides.values()):
        raise E2EError(f"{version}'s canary analysis saw no traffic or labels on a side: {sides}")
    champion_now = reg["champion"]
    if (want == "promote") != (champion_now == version):
        raise E2EError(f"after {want} the champion is {champion_now} (canary {version})")
    acc = {k: f"{v['accuracy']:.3f}" if v.get("accuracy") is not None else "-" for k, v in sides.items()}
    can, cha = sides["canary"], sides["champion"]
    why = "; ".join(analysis.get("reasons", []))[:160] if want == "rollback" else ""
    mark(
        want,
        f"{name} Succeeded in {time.monotonic() - t0:.0f} s: canary {version} on {scaled or '?'} pod(s) "
        f"({can['requests']} rows, "
        f"{can['labeled']} labels, accuracy {acc['canary']}) vs {analysis.get('champion_version')} "
        f"({cha['requests']} rows, accuracy {acc['champion']}) → {want}; champion {champion_now}"
        + (f" ({why})" if why else ""),
    )
    snap = traffic.snapshot()
    mark(
        "traffic",
        f"{snap['sent']} requests, {snap['labelled']} labels, {snap['errors']} errors; by version "
        f"{snap['versions']}",
    )
    return version


def bad_challenger(env: dict[str, str], traffic: ServiceTraffic) -> str:
    """Check 5: a challenger trained on corrupted labels (every `default` flipped) passes its gate on its
    own holdout (gate_margin=1 besides) but is bad on live traffic: the canary rolls it back. (A model
    with almost no signal only predicts the majority class — as accurate as the champion here.)"""
    code = (
        "from driftloop.config import load_settings; from driftloop.s3 import S3Store; "
        "from driftloop.demo.data import applications; s = S3Store(load_settings()); "
        "df = applications(4000, 3, False); df['default'] = 1 - df['default']; "
        "print(s.put_parquet('datasets/credit/flipped.parquet', df))"
    )
    flipped = _python(code, env, "seeding the flipped data set")
    proc = subprocess.Popen(
        [str(DRIFTLOOP), "retrain", "credit", "-p", f"dataset_uri={flipped}", "-p", "gate_margin=1"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert proc.stderr is not None
    name = ""
    for line in proc.stderr:
        if line.startswith("submitted "):
            name = line.strip().split("/")[-1]
            break
    if not name:
        raise E2EError(f"the forced bad retrain did not submit (exit {proc.wait()})")
    mark("submit", f"bad challenger {name}: trained on {flipped} (labels flipped), gate_margin=1")
    try:
        version = canary(env, name, traffic, "rollback")
    finally:
        rest = proc.stderr.read()
        exit_code = proc.wait(timeout=300)
    if exit_code != 3:
        raise E2EError(
            f"driftloop retrain of the bad challenger exited {exit_code} (want 3): {rest.strip()[-200:]}"
        )
    return version


def cron_check() -> str:
    """Check 6: the monitor CronWorkflow on a one-minute schedule fires, and its run Succeeds."""
    cron = "monitor-credit"
    original = json.loads(kubectl("-n", NAMESPACE, "get", "cronworkflow", cron, "-o", "json"))["spec"][
        "schedules"
    ]
    label = f"workflows.argoproj.io/cron-workflow={cron}"

    def runs() -> list[dict[str, Any]]:
        return list(
            json.loads(kubectl("-n", NAMESPACE, "get", "workflows", "-l", label, "-o", "json"))["items"]
        )

    before = {w["metadata"]["name"] for w in runs()}
    kubectl(
        "-n",
        NAMESPACE,
        "patch",
        "cronworkflow",
        cron,
        "--type=merge",
        "-p",
        '{"spec":{"schedules":["* * * * *"]}}',
    )
    t0 = time.monotonic()
    mark("cron", f"CronWorkflow {cron} on '* * * * *' (was {original})")
    try:
        fired = wait_for(
            f"a run of {cron}",
            lambda: next((w for w in runs() if w["metadata"]["name"] not in before), None),
            150,
            every_s=5,
        )
    finally:
        patch = json.dumps({"spec": {"schedules": original}})
        kubectl("-n", NAMESPACE, "patch", "cronworkflow", cron, "--type=merge", "-p", patch)
    name = fired["metadata"]["name"]
    mark("fired", f"{name} created by {cron} {time.monotonic() - t0:.0f} s after the schedule change")

    def done() -> str | None:
        wf = json.loads(kubectl("-n", NAMESPACE, "get", "workflow", name, "-o", "json"))
        phase = wf.get("status", {}).get("phase")
        return phase if phase in ("Succeeded", "Failed", "Error") else None

    phase = wait_for(f"{name} to finish", done, 600, every_s=5)
    if phase != "Succeeded":
        raise E2EError(f"the cron run {name} ended {phase}")
    mark(
        "cron", f"{name} Succeeded {time.monotonic() - t0:.0f} s after the schedule change; schedule restored"
    )
    return name


def _template_with_approval(env: dict[str, str], dest: Path) -> Path:
    """credit's retrain WorkflowTemplate compiled with ``approval: required`` (a 900 s timeout)."""
    code = (
        "import sys; from pathlib import Path; from driftloop.config import load_settings; "
        "from driftloop.modelspec import example_spec; from driftloop.compiler import write; "
        "spec = {**example_spec('credit'), 'approval': 'required', 'approval_timeout_s': 900}; "
        "write(load_settings(env={}, overrides={'models': {'credit': spec}, 'data_dir': sys.argv[1]}), "
        "Path(sys.argv[1]))"
    )
    _python(code, None, "compiling the approval template", str(dest))
    return dest / "base" / "generated" / "workflows" / "driftloop-retrain-credit.yaml"


def _overlay_template() -> str:
    """The overlay's own driftloop-retrain-credit, as `kubectl apply -k` sends it (to restore it)."""
    docs = kubectl("kustomize", str(REPO / "manifests" / "overlays" / "local-cluster")).split("\n---\n")
    return next(d for d in docs if "kind: WorkflowTemplate" in d and "name: driftloop-retrain-credit\n" in d)


def approve_check(env: dict[str, str], traffic: ServiceTraffic) -> str:
    """Check 7: with `approval: required` the run suspends after a promote verdict; `driftloop approve`
    (the registry record + a resume through the Argo Server) lets it promote."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        variant = yaml.safe_load(_template_with_approval(env, Path(tmp)).read_text())
    # what the overlay adds to every WorkflowTemplate (the credentials component's podSpecPatch, labels):
    # without it the first step had no S3 keys ("NoCredentialsError")
    overlay = yaml.safe_load(_overlay_template())
    variant["metadata"]["labels"] = {**variant["metadata"].get("labels", {}), **overlay["metadata"]["labels"]}
    variant["spec"] = {
        **{k: v for k, v in overlay["spec"].items() if k not in variant["spec"]},
        **variant["spec"],
    }
    kubectl("-n", NAMESPACE, "apply", "-f", "-", stdin=yaml.safe_dump(variant))
    mark(
        "approval",
        "driftloop-retrain-credit replaced by its `approval: required` build (+ the overlay's patches)",
    )
    proc = subprocess.Popen(
        [str(DRIFTLOOP), "retrain", "credit", "-p", "canary_duration_s=90"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert proc.stderr is not None
    try:
        name = next((ln.strip().split("/")[-1] for ln in proc.stderr if ln.startswith("submitted ")), "")
        if not name:
            raise E2EError(f"the approval retrain did not submit (exit {proc.wait()})")
        mark("submit", f"{name} (approval required, canary window 90 s)")

        def suspended() -> dict[str, Any] | None:
            wf = json.loads(kubectl("-n", NAMESPACE, "get", "workflow", name, "-o", "json"))
            if wf.get("status", {}).get("phase") in ("Succeeded", "Failed", "Error"):
                raise E2EError(f"{name} ended {wf['status']['phase']} before waiting for approval")
            nodes = wf.get("status", {}).get("nodes", {}).values()
            waiting = [n for n in nodes if n["displayName"] == "wait-approval" and n["phase"] == "Running"]
            return wf if waiting else None

        t0 = time.monotonic()
        wf = wait_for(f"{name} suspended at wait-approval", suspended, 900, every_s=5)
        version = _node_output(wf, "register", "version")
        mark("suspended", f"{name} waits at wait-approval (canary {version} promote verdict)")
        time.sleep(5)
        if (
            json.loads(kubectl("-n", NAMESPACE, "get", "workflow", name, "-o", "json"))["status"]["phase"]
            != "Running"
        ):
            raise E2EError(f"{name} did not stay suspended")
        # the decision is a signed registry record: the approver holds the signing key (the verify key
        # alone is refused: "this component signs registry records but has only the verify key")
        signing = _secret_value("driftloop-signing", "signing-key")
        out = subprocess.run(
            [str(DRIFTLOOP), "approve", "credit", "--reason", "make e2e"],
            capture_output=True,
            text=True,
            env={**env, "DRIFTLOOP_REGISTRY__SIGNING_KEY": signing},
            cwd=REPO,
        )
        if out.returncode != 0:
            raise E2EError(f"driftloop approve exited {out.returncode}: {out.stderr.strip()[-300:]}")
        mark("approve", " ".join(out.stderr.split())[:200])
        rest = proc.stderr.read()
        code = proc.wait(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
        kubectl("-n", NAMESPACE, "apply", "-f", "-", stdin=_overlay_template())
    wf = json.loads(kubectl("-n", NAMESPACE, "get", "workflow", name, "-o", "json"))
    phase = wf["status"]["phase"]
    champion_now = _registry(env, version)["champion"]
    if code != 0 or phase != "Succeeded" or champion_now != version:
        raise E2EError(
            f"{name}: {phase}, retrain exit {code} ({rest.strip()[-160:]}), champion {champion_now}"
        )
    promoted = [n for n in wf["status"]["nodes"].values() if n["displayName"].startswith("promote")]
    if not promoted or promoted[0]["phase"] != "Succeeded":
        raise E2EError(f"{name}: the promote step did not run after the approval")
    mark(
        "promoted", f"{name} Succeeded {time.monotonic() - t0:.0f} s after its submission: champion {version}"
    )
    return name


def main() -> int:
    traffic: ServiceTraffic | None = None
    try:
        if not cluster.node_ready():
            raise E2EError("the cluster is not up — run `make cluster` first")
        env = host_env()
        apply_overlay(env)
        seed(env)
        # a champion already there (a second run): its canary needs traffic
        traffic = start_traffic(env) if _ready("serve-credit") else None
        name, version = manual_retrain(env)
        champion(env, version)
        traffic = traffic or start_traffic(env)
        triggered = sensor_check(env)
        promoted = canary(env, triggered, traffic, "promote")
        rolled_back = bad_challenger(env, traffic)
        cron_run = cron_check()
        approved = approve_check(env, traffic)
    except (E2EError, cluster.ClusterError, subprocess.TimeoutExpired) as e:
        print(f"e2e: FAILED after {time.monotonic() - T0:.0f} s — {e}", file=sys.stderr)
        return 1
    finally:
        if traffic is not None:
            traffic.stop()
    print(
        f"e2e: 7/7 checks passed in {time.monotonic() - T0:.0f} s (manual retrain {name} → champion "
        f"{version}; drift event → {triggered}, 20 redeliveries → none; canary {promoted} promoted; bad "
        f"challenger {rolled_back} rolled back; cron run {cron_run} Succeeded; {approved} approved)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
