"""systemd units: `systemd-analyze verify` where it exists (a copy whose ExecStart points at
this checkout's voltlab), and always the keys the deployment relies on, parsed from the files."""

import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest

from tests.deploy.deploy_files import (
    INSTALL_PREFIX,
    SYSTEMD,
    Unit,
    example_settings,
    exec_start,
    parse_unit,
    parse_voltlab,
    value,
    values,
)

API = SYSTEMD / "voltlab-api.service"
SIM = SYSTEMD / "voltlab-sim@.service"
INSTANCES = ("robot", "cycler", "xrd")
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "RestrictSUIDSGID": "yes",
    "CapabilityBoundingSet": "",
    "Restart": "on-failure",
}
VOLTLAB = Path(sys.executable).with_name("voltlab")
"""This environment's voltlab, standing in for /opt/voltlab/bin/voltlab in the verified copy."""


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_analyze_verify_finds_nothing(tmp_path: Path) -> None:
    for unit in (API, SIM):
        text = unit.read_text().replace(str(INSTALL_PREFIX / "bin" / "voltlab"), str(VOLTLAB))
        (tmp_path / unit.name).write_text(text)
    names = [API.name, *(SIM.name.replace("@", f"@{i}") for i in INSTANCES)]
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(str(tmp_path / n) for n in names)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result


def writable(unit: Unit, path: PurePosixPath) -> bool:
    """Whether ``path`` lies in one of the unit's ReadWritePaths (the rest is read-only)."""
    allowed = [PurePosixPath(p) for line in values(unit, "Service", "ReadWritePaths")
               for p in line.split()]  # fmt: skip
    return any(path == a or a in path.parents for a in allowed)


@pytest.mark.parametrize("path", [API, SIM], ids=lambda p: p.name)
def test_units_are_hardened_and_restart_on_failure(path: Path) -> None:
    unit = parse_unit(path)
    for key, expected in HARDENING.items():
        assert value(unit, "Service", key) == expected, key
    user = value(unit, "Service", "User")
    assert user == "voltlab" or value(unit, "Service", "DynamicUser") == "yes"
    state = PurePosixPath("/var/lib") / value(unit, "Service", "StateDirectory")
    assert writable(unit, state)
    assert value(unit, "Install", "WantedBy") == "multi-user.target"
    sysusers = (SYSTEMD / "voltlab.sysusers").read_text().split("\n")
    assert any(line.split()[:2] == ["u", user] for line in sysusers if line.strip())


def test_api_unit_serves_the_example_config_with_a_writable_lab_file() -> None:
    unit = parse_unit(API)
    argv = exec_start(unit)
    assert PurePosixPath(argv[0]) == PurePosixPath(INSTALL_PREFIX / "bin" / "voltlab")
    command = parse_voltlab(argv)
    assert command.name == "serve"
    assert command.params["config"] == Path("/etc/voltlab/server.yaml")
    assert "-/etc/voltlab/secrets.env" in values(unit, "Service", "EnvironmentFile")
    settings = example_settings()
    assert writable(unit, PurePosixPath(settings.lab))
    assert (
        PurePosixPath(value(unit, "Service", "WorkingDirectory"))
        == PurePosixPath(settings.lab).parent
    )


@pytest.mark.parametrize("instance", INSTANCES)
def test_simulator_template_runs_each_instrument_in_the_shared_state_dir(instance: str) -> None:
    unit = parse_unit(SIM)
    command = parse_voltlab(exec_start(unit, instance))
    assert command.name == "sim" and command.params["instruments"] == [instance]
    state_dir = command.params["state_dir"]
    assert state_dir is not None and writable(unit, PurePosixPath(state_dir))
