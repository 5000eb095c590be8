"""Reading the deploy/ files the way their tools would: YAML configs through voltlab's settings,
command lines through voltlab's own CLI parser, systemd units, the Dockerfile and nginx."""

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer
import yaml

from voltlab.cli import app
from voltlab.server import ServerSettings, load_server_settings

REPO = Path(__file__).parents[2]
DEPLOY = REPO / "deploy"
CONFIG = DEPLOY / "config"
SYSTEMD = DEPLOY / "systemd"
INSTALL_PREFIX = Path("/opt/voltlab")
"""Where the Dockerfile's venv and the systemd units' ExecStart put voltlab."""

EXAMPLE_TOKENS = {
    "ada": ("operator", "example-operator-token-replace-me"),
    "victor": ("viewer", "example-viewer-token-replace-me"),
}
"""The tokens documented in server.example.yaml and deploy/README.md."""
SIM_TOKENS = {
    "sim": ("operator", "sim-operator-token"),
    "sim-viewer": ("viewer", "sim-viewer-token"),
}
"""The tokens documented in server.sim.yaml and deploy/README.md."""


def example_secrets() -> dict[str, str]:
    """KEY=value lines of deploy/systemd/secrets.env.example (what the env must supply)."""
    lines = (SYSTEMD / "secrets.env.example").read_text().splitlines()
    pairs = [line.split("=", 1) for line in lines if line and not line.startswith("#")]
    return {key: value for key, value in pairs}


def example_settings() -> ServerSettings:
    """server.example.yaml loaded as the service loads it: secrets from the environment."""
    with pytest.MonkeyPatch.context() as patch:
        for key, secret in example_secrets().items():
            patch.setenv(key, secret)
        return load_server_settings(CONFIG / "server.example.yaml")


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@dataclass(frozen=True)
class Command:
    """A ``voltlab`` command line as the CLI parses it: the subcommand and its parameters."""

    name: str
    params: dict[str, Any]


def parse_voltlab(argv: list[str]) -> Command:
    """Parse ``voltlab SUBCOMMAND ...`` with the real CLI (unknown options and bad values
    raise, as they would at start-up), without running it."""
    program, name, *rest = argv
    assert Path(program).name == "voltlab", f"not a voltlab command: {argv}"
    group = typer.main.get_command(app)
    command = group.get_command(typer.Context(group), name)  # type: ignore[attr-defined]
    assert command is not None, f"voltlab has no command {name!r}"
    with command.make_context(name, list(rest)) as context:
        return Command(name, dict(context.params))


def endpoint(url: str) -> tuple[str, int]:
    """Host and port of ``tcp://host:port`` or ``opc.tcp://host:port/path``."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None, url
    return parts.hostname, parts.port


# -- systemd units ----------------------------------------------------------------------------

Unit = dict[str, list[tuple[str, str]]]
"""Section -> (key, value) in file order (a key may repeat, e.g. Environment=)."""


def parse_unit(path: Path) -> Unit:
    """A systemd unit file: sections, keys and values; comments and blank lines dropped."""
    unit: Unit = {}
    section = None
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            unit.setdefault(section, [])
            continue
        key, sep, value = line.partition("=")
        assert section is not None and sep, f"{path.name}:{number}: not 'Key=value': {raw!r}"
        unit[section].append((key.strip(), value.strip()))
    return unit


def values(unit: Unit, section: str, key: str) -> list[str]:
    return [v for k, v in unit.get(section, []) if k == key]


def value(unit: Unit, section: str, key: str) -> str:
    found = values(unit, section, key)
    assert len(found) == 1, f"[{section}] {key}= expected once, found {found}"
    return found[0]


def exec_start(unit: Unit, instance: str | None = None) -> list[str]:
    """The ExecStart command line, with ``%i`` replaced by ``instance``."""
    line = value(unit, "Service", "ExecStart")
    return shlex.split(line.replace("%i", instance) if instance else line)


# -- Dockerfile -------------------------------------------------------------------------------


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = pending + line
        pending = ""
        keyword, _, arguments = full.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    assert not pending, f"{path.name} ends inside a continued line"
    return instructions


# -- nginx ------------------------------------------------------------------------------------


def nginx_blocks(text: str) -> dict[str, list[str]]:
    """Directives per block, keyed by the block's header (``location /ws/``, ``upstream x``;
    a repeated header gets `` #2``, `` #3``); a nested block's directives are listed under its
    own header, not its parent's. Comment lines are dropped."""
    blocks: dict[str, list[str]] = {"": []}
    stack = [""]
    current = ""
    kept = [line for line in text.splitlines() if not line.strip().startswith("#")]
    for char in "\n".join(kept):
        if char == "{":
            header = " ".join(current.split())
            repeat = sum(1 for h in blocks if h.split(" #")[0] == header)
            header = f"{header} #{repeat + 1}" if repeat else header
            blocks[header] = []
            stack.append(header)
            current = ""
        elif char == ";":
            blocks[stack[-1]].append(" ".join(current.split()))
            current = ""
        elif char == "}":
            stack.pop()
            current = ""
        else:
            current += char
    assert stack == [""], "unbalanced braces"
    return blocks
