"""The ``voltlab`` command line (typer + rich)."""

import asyncio
import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.logging import RichHandler

from voltlab.simulated_hardware.config import SimSettings, load_sim_settings
from voltlab.simulated_hardware.faults import FaultKind
from voltlab.simulated_hardware.lab import Instrument, serve_until_signalled
from voltlab.tour import run_tour

app = typer.Typer(no_args_is_help=True, help="voltlab: a self-driving lab for battery materials.")
console = Console()

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML settings file of the simulated lab.")
]


def _setup_logging(verbose: bool) -> None:
    """voltlab's own INFO messages; third-party libraries (asyncua logs every node it adds) only
    from WARNING up, unless ``--verbose``."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(name)s: %(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
    )
    logging.getLogger("voltlab").setLevel(logging.DEBUG if verbose else logging.INFO)


def _parse_faults(specs: list[str]) -> dict[FaultKind, float]:
    rates: dict[FaultKind, float] = {}
    for spec in specs:
        kind, sep, rate = spec.partition("=")
        try:
            rates[FaultKind(kind)] = float(rate)
        except ValueError as exc:
            known = ", ".join(k.value for k in FaultKind)
            raise typer.BadParameter(
                f"{spec!r}: expected KIND=RATE with KIND one of {known}", param_hint="--fault"
            ) from exc
        if not sep:
            raise typer.BadParameter(f"{spec!r}: expected KIND=RATE", param_hint="--fault")
    return rates


@app.command()
def sim(
    instruments: Annotated[
        list[str], typer.Argument(help="robot, cycler, xrd or all (several allowed).")
    ],
    config: ConfigOption = None,
    seed: Annotated[int | None, typer.Option(help="World seed.")] = None,
    acceleration: Annotated[
        float | None, typer.Option(help="Instrument time per wall second; 'inf' = flat out.")
    ] = None,
    state_dir: Annotated[Path | None, typer.Option(help="Samples, cell cache, keys.")] = None,
    robot_port: Annotated[int | None, typer.Option(help="OPC UA port of the robot.")] = None,
    cycler_port: Annotated[int | None, typer.Option(help="Cycler command port.")] = None,
    stream_port: Annotated[int | None, typer.Option(help="Cycler point stream port.")] = None,
    xrd_port: Annotated[int | None, typer.Option(help="XRD stage port.")] = None,
    channels: Annotated[int | None, typer.Option(help="Number of cycler channels.")] = None,
    fault: Annotated[
        list[str] | None, typer.Option(help="KIND=RATE fault probability per operation.")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run simulated instruments that speak the real wire protocols, until Ctrl-C or SIGTERM."""
    _setup_logging(verbose)
    chosen = _parse_instruments(instruments)
    overrides: dict[str, object] = {}
    for key, value in (("seed", seed), ("acceleration", acceleration), ("state_dir", state_dir)):
        if value is not None:
            overrides[key] = value
    sections = {
        "robot": {"port": robot_port},
        "cycler": {"command_port": cycler_port, "stream_port": stream_port, "channels": channels},
        "xrd": {"port": xrd_port},
    }
    for section, values in sections.items():
        given = {k: v for k, v in values.items() if v is not None}
        if given:
            overrides[section] = given
    if fault:
        overrides["faults"] = {"rates": _parse_faults(fault)}
    settings = _load_settings(config, **overrides)
    asyncio.run(serve_until_signalled(settings, chosen, console.print))


def _load_settings(config: Path | None, **overrides: Any) -> SimSettings:
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


def _parse_instruments(names: list[str]) -> list[Instrument]:
    if "all" in names:
        return list(Instrument)
    try:
        return [Instrument(name) for name in dict.fromkeys(names)]
    except ValueError as exc:
        raise typer.BadParameter(
            f"{names}: choose from robot, cycler, xrd, all", param_hint="INSTRUMENTS"
        ) from exc


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Where results are written.")] = Path("out/demo"),
    cycles: Annotated[int, typer.Option(min=2, max=500, help="Cycles to run on the cell.")] = 30,
    config: ConfigOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Start the simulated lab and take one sample through it over the real protocols."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING)
    settings = _load_settings(config, state_dir=out / "lab-state", acceleration=float("inf"))
    asyncio.run(run_tour(settings, out, cycles, console))


if __name__ == "__main__":
    app()
