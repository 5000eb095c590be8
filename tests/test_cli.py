"""The ``voltlab`` command line as a user runs it: a subprocess, real ports, real signals."""

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import typer
import zmq
from typer.testing import CliRunner

from tests.conftest import free_port
from voltlab.cli import COMMANDS, app
from voltlab.orchestrator.store import Store
from voltlab.protocol import Request, decode_reply, encode

VOLTLAB = [sys.executable, "-m", "voltlab.cli"]
READY = "simulated lab ready"


def start_sim(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], dict[str, int]]:
    ports = {name: free_port() for name in ("robot", "cycler", "stream", "xrd")}
    command = [
        *VOLTLAB,
        "sim",
        *args,
        "--state-dir",
        str(tmp_path / "state"),
        "--acceleration",
        "inf",
        "--robot-port",
        str(ports["robot"]),
        "--cycler-port",
        str(ports["cycler"]),
        "--stream-port",
        str(ports["stream"]),
        "--xrd-port",
        str(ports["xrd"]),
    ]
    env = os.environ | {"COLUMNS": "200"}
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    return proc, ports


class Output:
    """Everything a subprocess prints, read by a thread so no buffered line is waited on."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        self._proc, self._stdout = proc, proc.stdout
        self._queue: queue.Queue[str] = queue.Queue()
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self._stdout:
            self._queue.put(line)

    def wait_for(self, needle: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                self.lines.append(self._queue.get(timeout=left))
            except queue.Empty:
                break
            if needle in self.lines[-1]:
                return "".join(self.lines)
        self._proc.kill()
        self.finish()
        raise AssertionError(f"{needle!r} not printed within {timeout} s:\n{''.join(self.lines)}")

    def finish(self, timeout: float = 30.0) -> str:
        """Wait for the process to end; all it printed."""
        self._proc.wait(timeout)
        self._thread.join(timeout)
        self._stdout.close()
        while not self._queue.empty():
            self.lines.append(self._queue.get())
        return "".join(self.lines)


def xrd_status(port: int) -> dict[str, object]:
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(f"tcp://127.0.0.1:{port}")
    try:
        sock.send(encode(Request(command="status")))
        assert sock.poll(10_000), "XRD stage did not answer"
        return decode_reply(sock.recv()).raise_for_error()
    finally:
        sock.close()


@pytest.mark.servers
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sim_serves_then_shuts_down_cleanly_on_signal(tmp_path: Path, sig: signal.Signals) -> None:
    proc, ports = start_sim(tmp_path, "all")
    output = Output(proc)
    try:
        banner = output.wait_for(READY)
        assert f"opc.tcp://127.0.0.1:{ports['robot']}/voltlab/robot/" in banner
        assert xrd_status(ports["xrd"])["state"] == "empty"
        proc.send_signal(sig)
        out = output.finish()
    finally:
        if proc.poll() is None:
            proc.kill()
            output.finish()
    assert proc.returncode == 0, out
    assert "shutting down" in out
    assert "Traceback" not in out


@pytest.mark.servers
def test_sim_runs_a_single_instrument(tmp_path: Path) -> None:
    proc, ports = start_sim(tmp_path, "xrd")
    output = Output(proc)
    try:
        banner = output.wait_for(READY)
        assert f"tcp://127.0.0.1:{ports['xrd']}" in banner
        assert "opc.tcp" not in banner
        assert xrd_status(ports["xrd"])["state"] == "empty"
    finally:
        proc.terminate()
        output.finish()
    assert proc.returncode == 0


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"COLUMNS": "300"}
    return subprocess.run([*VOLTLAB, *args], capture_output=True, text=True, check=False, env=env)


def test_every_command_is_found_under_its_name_and_typos_get_a_suggestion() -> None:
    group = typer.main.get_command(app)
    context = typer.Context(group)
    assert group.list_commands(context) == list(COMMANDS)  # type: ignore[attr-defined]
    for name, where in COMMANDS.items():
        command = group.get_command(context, name)  # type: ignore[attr-defined]
        assert command is not None and command.name == name
        assert command.callback.__name__ == where.partition(":")[2]
        assert not {p.name for p in command.params} & {"install_completion", "show_completion"}
    typo = CliRunner().invoke(app, ["stauts"])
    assert typo.exit_code == 2 and "Did you mean 'status'?" in typo.output


HEAVY = ("torch", "botorch", "pybamm", "bdf", "fastapi")
"""Libraries that take seconds to import; a command should load only those it uses."""


@pytest.mark.parametrize(
    ("command", "needed"),
    [("sim", {"pybamm"}), ("status", {"torch", "botorch"}), ("run", {"torch", "botorch"})],
)
def test_a_command_imports_only_the_libraries_it_uses(command: str, needed: set[str]) -> None:
    probe = (
        "import json, sys; from typer.testing import CliRunner; from voltlab.cli import app; "
        f"result = CliRunner().invoke(app, [{command!r}, '--help']); "
        f"print(json.dumps([result.exit_code, [m for m in {HEAVY!r} if m in sys.modules]]))"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    exit_code, loaded = json.loads(run.stdout.splitlines()[-1])
    assert exit_code == 0
    assert set(loaded) == needed


def test_sim_refuses_bad_arguments_by_name(tmp_path: Path) -> None:
    bad_instrument = run_cli("sim", "toaster")
    assert bad_instrument.returncode != 0
    assert "toaster" in bad_instrument.stderr and "robot, cycler, xrd, all" in bad_instrument.stderr
    bad_fault = run_cli("sim", "xrd", "--fault", "gremlins=0.1")
    assert bad_fault.returncode != 0 and "gremlins" in bad_fault.stderr
    config = tmp_path / "lab.yaml"
    config.write_text("xrd:\n  prot: 5000\n")
    bad_config = run_cli("sim", "xrd", "--config", str(config))
    assert bad_config.returncode == 2
    assert "xrd.prot: Extra inputs are not permitted" in bad_config.stderr
    assert str(config) in bad_config.stderr and "Traceback" not in bad_config.stderr
    missing = run_cli("sim", "xrd", "--config", str(tmp_path / "absent.yaml"))
    assert missing.returncode == 2 and "absent.yaml" in missing.stderr


@pytest.mark.servers
@pytest.mark.timeout(400)
def test_demo_runs_a_closed_loop_campaign_and_keeps_it(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = subprocess.run(
        [*VOLTLAB, "demo", "--out", str(out), "--experiments", "4"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=os.environ | {"COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    with Store.open(out / "lab.sqlite") as store:
        (campaign,) = store.campaigns()
        experiments = store.experiments(campaign.id)
    assert campaign.state == "completed" and "budget of 4 experiments" in (campaign.reason or "")
    assert len(experiments) == 4 and all(e.state.is_final for e in experiments)
    assert any(e.state == "completed" for e in experiments)
    assert f"campaign {campaign.id}: completed" in result.stdout
    assert "Pareto front" in result.stdout and "hypervolume" in result.stdout
    assert (out / "report" / "index.html").exists()
    bundle = tmp_path / "bundle"
    exported = run_cli("export", campaign.id, str(bundle), "--lab", str(out / "lab.sqlite"))
    assert exported.returncode == 0, exported.stdout + exported.stderr
    assert (bundle / "ro-crate-metadata.json").exists() and (bundle / "campaign.yaml").exists()
    unknown = run_cli(
        "export", "no-such-campaign", str(tmp_path / "b2"), "--lab", str(out / "lab.sqlite")
    )
    assert unknown.returncode == 2 and "no-such-campaign" in unknown.stdout
