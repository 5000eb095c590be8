"""What the ``voltlab`` commands share: the console, logging, the lab-file option and the
simulated-lab settings."""

import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.logging import RichHandler

from voltlab.simulated_hardware.config import SimSettings, load_sim_settings

console = Console()

LabOption = Annotated[Path, typer.Option("--lab", "-l", help="The lab file (SQLite).")]
DEFAULT_LAB = Path("voltlab.sqlite")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML settings file of the simulated lab.")
]


def setup_logging(verbose: bool) -> None:
    """voltlab's own INFO messages; third-party libraries (asyncua logs every node it adds) only
    from WARNING up, unless ``--verbose``."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(name)s: %(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
    )
    logging.getLogger("voltlab").setLevel(logging.DEBUG if verbose else logging.INFO)


def load_settings(config: Path | None, **overrides: Any) -> SimSettings:
    """Settings, or a clear message naming the file and the bad fields and exit status 2."""
    try:
        return load_sim_settings(config, **overrides)
    except FileNotFoundError as exc:
        raise typer.BadParameter(str(exc), param_hint="--config") from exc
    except ValidationError as exc:
        source = f"{config}" if config else "settings"
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise typer.BadParameter(f"{source}: {problems}", param_hint="--config") from exc


def fail(exc: Exception) -> typer.Exit:
    """Print ``exc`` as a one-line error; raise the returned Exit (status 2)."""
    console.print(f"[red]error:[/] {exc}")
    return typer.Exit(2)
