"""The example configs load through the app's own settings, with the documented tokens and
secrets from the environment only."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.deploy.deploy_files import (
    CONFIG,
    EXAMPLE_TOKENS,
    SIM_TOKENS,
    endpoint,
    example_secrets,
    load_yaml,
)
from voltlab.server import ServerSettings, load_server_settings, verify_token
from voltlab.simulated_hardware.config import load_sim_settings

EXAMPLE = CONFIG / "server.example.yaml"
SECRET_KEYS = {
    "VOLTLAB_SERVER_INSTRUMENTS__ROBOT__PASSWORD",
    "VOLTLAB_SERVER_INSTRUMENTS__CYCLER__CURVE__CLIENT_SECRET_KEY",
    "VOLTLAB_SERVER_INSTRUMENTS__XRD__CURVE__CLIENT_SECRET_KEY",
}


@pytest.fixture
def secrets_in_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    secrets = example_secrets()
    for key, value in secrets.items():
        monkeypatch.setenv(key, value)
    return secrets


def assert_documented_tokens(settings: ServerSettings, documented: dict) -> None:
    assert {t.name: t.role for t in settings.tokens} == {n: r for n, (r, _) in documented.items()}
    for spec in settings.tokens:
        assert verify_token(documented[spec.name][1], spec.hash), spec.name
        assert not verify_token(documented[spec.name][1] + "x", spec.hash)


def test_real_instruments_config_needs_its_secrets_from_the_environment() -> None:
    with pytest.raises(ValidationError) as refused:
        load_server_settings(EXAMPLE)
    problems = {(".".join(map(str, e["loc"])), str(e["msg"])) for e in refused.value.errors()}
    assert problems == {
        ("instruments.robot", "Value error, username and password go together"),
        ("instruments.cycler.curve", "Value error, client_public_key and client_secret_key go together"),
        ("instruments.xrd.curve", "Value error, client_public_key and client_secret_key go together"),
    }  # fmt: skip


def test_real_instruments_config_has_security_on(secrets_in_env: dict[str, str]) -> None:
    assert set(secrets_in_env) == SECRET_KEYS
    settings = load_server_settings(EXAMPLE)
    robot, cycler, xrd = (settings.instruments.robot, settings.instruments.cycler,
                          settings.instruments.xrd)  # type: ignore[union-attr]  # fmt: skip
    assert robot is not None and robot.security is not None
    assert (robot.security.policy, robot.security.mode) == ("Basic256Sha256", "SignAndEncrypt")
    for path in (robot.security.certificate, robot.security.private_key,
                 robot.security.server_certificate):  # fmt: skip
        assert path is not None and path.is_absolute() and path.parts[:4] == (
            "/", "etc", "voltlab", "pki",
        ), path  # fmt: skip
    secret = secrets_in_env["VOLTLAB_SERVER_INSTRUMENTS__ROBOT__PASSWORD"]
    assert robot.username and robot.password and robot.password.get_secret_value() == secret
    for name, zmq_config in (("CYCLER", cycler), ("XRD", xrd)):
        assert zmq_config is not None and zmq_config.curve is not None, name
        key = zmq_config.curve.client_secret_key
        expected = secrets_in_env[f"VOLTLAB_SERVER_INSTRUMENTS__{name}__CURVE__CLIENT_SECRET_KEY"]
        assert key is not None and key.get_secret_value() == expected
    assert settings.cors_origins == []
    assert settings.host == "127.0.0.1"
    assert_documented_tokens(settings, EXAMPLE_TOKENS)


def test_no_secret_or_plain_token_is_written_in_the_configs() -> None:
    raw = load_yaml(EXAMPLE)
    assert "password" not in raw["instruments"]["robot"]
    for name in ("cycler", "xrd"):
        assert "client_secret_key" not in raw["instruments"][name]["curve"]
    plain = {token for _, token in (*EXAMPLE_TOKENS.values(), *SIM_TOKENS.values())}
    for path in (EXAMPLE, CONFIG / "server.sim.yaml"):
        values = [str(v) for v in _leaves(load_yaml(path))]
        assert not plain & set(values), path.name


def _leaves(node: object) -> list[object]:
    if isinstance(node, dict):
        return [leaf for value in node.values() for leaf in _leaves(value)]
    if isinstance(node, list):
        return [leaf for value in node for leaf in _leaves(value)]
    return [node]


def test_compose_api_config_points_at_the_simulated_instruments() -> None:
    settings = load_server_settings(CONFIG / "server.sim.yaml")
    instruments = settings.instruments
    assert instruments is not None and instruments.robot and instruments.cycler
    assert instruments.xrd is not None
    assert endpoint(instruments.robot.url)[0] == "robot"
    assert endpoint(instruments.cycler.endpoint)[0] == "cycler"
    assert endpoint(instruments.cycler.stream_endpoint)[0] == "cycler"
    assert endpoint(instruments.xrd.endpoint)[0] == "xrd"
    assert settings.cors_origins == []
    assert settings.lab == Path("/var/lib/voltlab/lab.sqlite")
    assert_documented_tokens(settings, SIM_TOKENS)


def test_compose_simulator_config_is_valid_and_listens_on_its_network() -> None:
    sim = load_sim_settings(CONFIG / "sim.yaml")
    assert sim.state_dir == Path("/var/lib/voltlab-sim")
    assert {sim.robot.host, sim.cycler.host, sim.xrd.host} == {"0.0.0.0"}
    assert not (sim.robot.security.enabled or sim.cycler.security.enabled)
