"""The compose file's services, ports, volumes and mounted configs match what the app's
config says (parsed with yaml; no Docker engine needed)."""

from pathlib import PurePosixPath
from typing import Any

import pytest

from tests.deploy.deploy_files import CONFIG, DEPLOY, REPO, endpoint, load_yaml, parse_voltlab
from voltlab.server import ServerSettings, load_server_settings
from voltlab.simulated_hardware.config import SimSettings, load_sim_settings

COMPOSE = DEPLOY / "compose.yaml"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE)


def mounted_config(compose: dict[str, Any], service: str, target: str) -> PurePosixPath:
    """The file (relative to deploy/) a service mounts at ``target`` through ``configs:``."""
    for mount in compose["services"][service]["configs"]:
        if mount["target"] == target:
            return PurePosixPath(compose["configs"][mount["source"]]["file"])
    raise AssertionError(f"{service} mounts no config at {target}")


def volume_at(compose: dict[str, Any], service: str, path: PurePosixPath) -> str:
    """The named volume a service mounts at ``path`` (declared at the top level)."""
    for mount in compose["services"][service].get("volumes", []):
        source, target = mount.split(":")[:2]
        if PurePosixPath(target) == path:
            assert source in compose["volumes"], f"volume {source} is not declared"
            return str(source)
    raise AssertionError(f"{service} mounts nothing at {path}")


def api_settings(compose: dict[str, Any]) -> ServerSettings:
    command = parse_voltlab(compose["services"]["api"]["command"])
    assert command.name == "serve" and not command.params["sim"]
    config = mounted_config(compose, "api", str(command.params["config"]))
    assert (DEPLOY / config).resolve() == (CONFIG / "server.sim.yaml").resolve()
    return load_server_settings(DEPLOY / config)


def sim_settings(compose: dict[str, Any], service: str) -> tuple[SimSettings, dict[str, Any]]:
    command = parse_voltlab(compose["services"][service]["command"])
    assert command.name == "sim" and command.params["instruments"] == [service]
    config = mounted_config(compose, service, str(command.params["config"]))
    return load_sim_settings(DEPLOY / config), command.params


def test_services_are_the_api_and_one_container_per_instrument(compose: dict) -> None:
    assert set(compose["services"]) == {"api", "robot", "cycler", "xrd"}
    build = compose["services"]["api"]["build"]
    assert (COMPOSE.parent / build["context"]).resolve() == REPO
    assert (REPO / build["dockerfile"]).is_file()
    assert set(compose["services"]["api"]["depends_on"]) == {"robot", "cycler", "xrd"}


def test_api_port_is_the_configured_one_published_on_loopback(compose: dict) -> None:
    settings = api_settings(compose)
    assert settings.host == "0.0.0.0"  # inside its container
    (published,) = compose["services"]["api"]["ports"]
    host_ip, host_port, container_port = published.split(":")
    assert (host_ip, int(container_port)) == ("127.0.0.1", settings.port)
    assert int(host_port) == settings.port


def test_each_simulator_serves_where_the_api_looks_for_it(compose: dict) -> None:
    instruments = api_settings(compose).instruments
    assert instruments and instruments.robot and instruments.cycler and instruments.xrd
    robot, params = sim_settings(compose, "robot")
    assert endpoint(instruments.robot.url) == ("robot", params["robot_port"])
    assert instruments.robot.url.endswith(robot.robot.endpoint_path)
    _, params = sim_settings(compose, "cycler")
    assert endpoint(instruments.cycler.endpoint) == ("cycler", params["cycler_port"])
    assert endpoint(instruments.cycler.stream_endpoint) == ("cycler", params["stream_port"])
    _, params = sim_settings(compose, "xrd")
    assert endpoint(instruments.xrd.endpoint) == ("xrd", params["xrd_port"])


def test_simulator_ports_are_exposed_and_health_checked(compose: dict) -> None:
    keys = {"robot": ["robot_port"], "cycler": ["cycler_port", "stream_port"], "xrd": ["xrd_port"]}
    for service, names in keys.items():
        _, params = sim_settings(compose, service)
        ports = [params[name] for name in names]
        assert [int(p) for p in compose["services"][service]["expose"]] == ports
        assert "ports" not in compose["services"][service], "simulators stay on the network"
        probe = " ".join(compose["services"][service]["healthcheck"]["test"])
        assert f"('127.0.0.1', {ports[0]})" in probe, service


def test_lab_file_and_simulator_state_live_on_volumes(compose: dict) -> None:
    lab = PurePosixPath(api_settings(compose).lab)
    assert volume_at(compose, "api", lab.parent) == "lab"
    for service in ("robot", "cycler", "xrd"):
        sim, _ = sim_settings(compose, service)
        assert volume_at(compose, service, PurePosixPath(sim.state_dir)) == "sim-state"
