from pathlib import Path

import pytest

from driftloop.config import load_settings, masked_dict
from driftloop.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "driftloop.yaml"
    path.write_text(text)
    return path


def test_defaults_use_embedded_services() -> None:
    s = load_settings(config_path=None, env={})
    assert s.kafka_is_embedded and s.s3_is_embedded
    assert s.bootstrap_servers == "127.0.0.1:19092"
    assert s.s3_endpoint == "http://127.0.0.1:18333"


def test_precedence_flags_over_env_over_file_over_defaults(tmp_path: Path) -> None:
    cfg = write(
        tmp_path,
        "kafka:\n  bootstrap_servers: file:9092\n  client_id: from-file\ns3:\n  bucket: file-bucket\n",
    )
    env = {"DRIFTLOOP_KAFKA__BOOTSTRAP_SERVERS": "env:9092", "DRIFTLOOP_S3__REGION": "eu-west-1"}
    s = load_settings(cfg, {"kafka.bootstrap_servers": "flag:9092"}, env=env)
    assert s.kafka.bootstrap_servers == "flag:9092"  # flag beats env and file
    assert s.s3.region == "eu-west-1"  # env beats default
    assert s.s3.bucket == "file-bucket"  # file beats default
    assert s.kafka.client_id == "from-file"
    s2 = load_settings(cfg, {}, env=env)
    assert s2.kafka.bootstrap_servers == "env:9092"  # env beats file
    s3 = load_settings(cfg, {}, env={})
    assert s3.kafka.bootstrap_servers == "file:9092"
    assert not s3.kafka_is_embedded


def test_config_path_from_env(tmp_path: Path) -> None:
    cfg = write(tmp_path, "topics:\n  drift_events: custom.drift\n")
    s = load_settings(None, env={"DRIFTLOOP_CONFIG": str(cfg)})
    assert s.topics.drift_events == "custom.drift"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("file", "unknown setting 'kafka.bootstrap' (from file"),
        ("env", "unknown setting 'kafka.bootstrap' (from environment variable DRIFTLOOP_KAFKA__BOOTSTRAP)"),
        ("flag", "unknown setting 'kafka.bootstrap' (from command line)"),
    ],
)
def test_unknown_key_is_rejected_naming_it(tmp_path: Path, source: str, expected: str) -> None:
    cfg = write(tmp_path, "kafka:\n  bootstrap: x\n" if source == "file" else "{}\n")
    env = {"DRIFTLOOP_KAFKA__BOOTSTRAP": "x"} if source == "env" else {}
    flags = {"kafka.bootstrap": "x"} if source == "flag" else {}
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, flags, env=env)
    assert expected in str(info.value)
    assert info.value.exit_code == 2


def test_unknown_section_and_bad_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown setting 'kafak'"):
        load_settings(write(tmp_path, "kafak: {}\n"), env={})
    with pytest.raises(ConfigError, match=r"invalid value for 'deploy\.target'"):
        load_settings(None, {"deploy.target": "mars"}, env={})
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(write(tmp_path, "kafka: [\n"), env={})
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.yaml", env={})


def test_masking_hides_every_secret() -> None:
    env = {
        "DRIFTLOOP_KAFKA__SASL_PASSWORD": "hunter2",
        "DRIFTLOOP_ARGO__TOKEN": "tok-123",
        "DRIFTLOOP_S3__SECRET_ACCESS_KEY": "driftloop-secret",
    }
    s = load_settings(None, env=env)
    data = masked_dict(s)
    text = repr(data)
    assert "hunter2" not in text and "tok-123" not in text and "driftloop-secret" not in text
    assert data["kafka"]["sasl_password"] == "****"
    assert data["argo"]["token"] == "****"
    assert data["s3"]["secret_access_key"] == "****"
    assert data["kafka"]["sasl_username"] == ""  # not a secret, shown as is
    assert s.kafka.sasl_password.get_secret_value() == "hunter2"


def test_feedback_needs_a_port_of_its_own() -> None:
    with pytest.raises(ConfigError, match=r"serving\.port and serving\.feedback_port are both 8080"):
        load_settings(env={"DRIFTLOOP_SERVING__FEEDBACK_PORT": "8080"})
    free = load_settings(env={"DRIFTLOOP_SERVING__PORT": "0", "DRIFTLOOP_SERVING__FEEDBACK_PORT": "0"})
    assert (free.serving.port, free.serving.feedback_port) == (0, 0)  # both: any free port
    assert load_settings(env={}).serving.feedback_port == 8081
