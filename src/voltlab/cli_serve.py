"""``voltlab serve`` (the operator API and the orchestrator in one process) and
``voltlab hash-token``."""

import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from voltlab.cli_common import console, load_settings, setup_logging
from voltlab.server.serving import serve as serve_api
from voltlab.server.serving import with_session_token
from voltlab.server.settings import ServerSettings, load_server_settings
from voltlab.server.tokens import hash_token, new_token
from voltlab.simlab import simulated_lab


def _server_settings(config: Path | None, **overrides: object) -> ServerSettings:
    try:
        return load_server_settings(config, **{k: v for k, v in overrides.items() if v is not None})
    except FileNotFoundError as exc:
        raise typer.BadParameter(str(exc), param_hint="--config") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        source = config or "settings"
        raise typer.BadParameter(f"{source}: {problems}", param_hint="--config") from exc


async def _serve(settings: ServerSettings, sim: bool, acceleration: float) -> None:
    # uvicorn raises SIGTERM again after its own shutdown; ignoring that second one lets the
    # exit stack stop the simulated lab (and its worker processes) before the process ends.
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    async with contextlib.AsyncExitStack() as stack:
        instruments = None
        if sim:
            sim_settings = load_settings(
                None, state_dir=settings.lab.parent / f"{settings.lab.stem}-sim",
                acceleration=acceleration,
            )  # fmt: skip
            instruments = await stack.enter_async_context(simulated_lab(sim_settings))
        await serve_api(settings, instruments=instruments)


def serve(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Server settings (YAML).")
    ] = None,
    lab: Annotated[Path | None, typer.Option("--lab", "-l", help="The lab file (SQLite).")] = None,
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port.")] = None,
    sim: Annotated[
        bool, typer.Option("--sim", help="Run a simulated lab in this process and use it.")
    ] = False,
    acceleration: Annotated[float, typer.Option(help="Simulated time factor (--sim).")] = 1000.0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the operator API (REST + WebSocket) and the campaign engines on one lab file."""
    setup_logging(verbose)
    settings, token = with_session_token(_server_settings(config, lab=lab, host=host, port=port))
    if token is not None:
        console.print(f"no tokens configured; operator token for this run: {token}", soft_wrap=True)
    console.print(f"voltlab API on http://{settings.host}:{settings.port}/docs, lab {settings.lab}")
    asyncio.run(_serve(settings, sim, acceleration))


def hash_token_command(
    role: Annotated[
        str, typer.Option(help="viewer or operator (for the printed entry).")
    ] = "viewer",
    name: Annotated[str, typer.Option(help="Who holds the token.")] = "someone",
    stdin: Annotated[bool, typer.Option("--stdin", help="Hash a token read from stdin.")] = False,
) -> None:
    """Make an API token (or hash one from stdin) and print its settings entry."""
    token = sys.stdin.readline().strip() if stdin else new_token()
    if not stdin:
        console.print(f"token (give it to {name}; it is not stored): {token}", soft_wrap=True)
    console.print(
        f'- {{name: {name}, role: {role}, hash: "{hash_token(token)}"}}',
        markup=False,
        soft_wrap=True,
    )
