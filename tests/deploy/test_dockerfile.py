"""The Dockerfile, parsed: torch's CPU build before the package, a non-root user, a health
check on /api/health at the configured port, and `voltlab serve` on the mounted config."""

import json
import shlex
import tomllib
from pathlib import Path

from tests.deploy.deploy_files import (
    CONFIG,
    DEPLOY,
    INSTALL_PREFIX,
    REPO,
    dockerfile_instructions,
    parse_voltlab,
)
from voltlab.server import load_server_settings

DOCKERFILE = DEPLOY / "Dockerfile"


def runs() -> list[str]:
    return [args for keyword, args in dockerfile_instructions(DOCKERFILE) if keyword == "RUN"]


def index_of(predicate: str) -> int:
    found = [n for n, args in enumerate(runs()) if predicate in args]
    assert len(found) == 1, f"expected one RUN with {predicate!r}, found {len(found)}"
    return found[0]


def test_base_image_is_python_3_11_slim() -> None:
    keyword, image = dockerfile_instructions(DOCKERFILE)[0]
    assert (keyword, image) == ("FROM", "python:3.11-slim")


def test_torch_cpu_build_is_installed_before_the_package() -> None:
    torch = index_of("torch==")
    words = shlex.split(runs()[torch])
    assert "torch==2.13.0" in words
    assert words[words.index("--index-url") + 1] == "https://download.pytorch.org/whl/cpu"
    package = index_of("pip install /build")
    assert torch < package
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    pinned = [d for d in dependencies if d.startswith("torch")]
    assert pinned == ["torch==2.13.0"], "the image pins the torch the package requires"


def test_copied_sources_are_not_ignored_by_the_build_context() -> None:
    copies = [args.split()[:-1] for k, args in dockerfile_instructions(DOCKERFILE) if k == "COPY"]
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    for source in (s for sources in copies for s in sources):
        assert (REPO / source).exists(), source
        assert f"!{source}" in ignore or f"!{source}/" in ignore, source


def test_runs_as_a_non_root_user_created_in_the_image() -> None:
    instructions = dockerfile_instructions(DOCKERFILE)
    users = [(n, args) for n, (keyword, args) in enumerate(instructions) if keyword == "USER"]
    assert users, "no USER: the container would run as root"
    position, user = users[-1]
    name = user.split(":")[0]
    assert name not in ("root", "0")
    created = [args for keyword, args in instructions[:position] if keyword == "RUN"]
    assert any("useradd" in args and args.split("useradd")[1].split("&&")[0].split()[-1] == name
               for args in created), "the USER is created before it is used"  # fmt: skip
    cmd = [n for n, (keyword, _) in enumerate(instructions) if keyword == "CMD"]
    assert cmd and cmd[-1] > position


def test_serves_the_mounted_config_with_a_health_check_on_its_port() -> None:
    instructions = dockerfile_instructions(DOCKERFILE)
    last = dict(instructions)
    command = parse_voltlab(json.loads(last["CMD"]))
    assert command.name == "serve"
    assert command.params["config"] == Path("/etc/voltlab/server.yaml")
    port = load_server_settings(CONFIG / "server.sim.yaml").port
    assert f"http://127.0.0.1:{port}/api/health" in last["HEALTHCHECK"]
    assert last["EXPOSE"] == str(port)
    env = " ".join(args for keyword, args in instructions if keyword == "ENV").split()
    assert f"VIRTUAL_ENV={INSTALL_PREFIX}" in env
    assert f"PATH={INSTALL_PREFIX}/bin:$PATH" in env
