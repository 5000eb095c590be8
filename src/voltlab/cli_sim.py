"""``voltlab sim``: the simulated instruments as servers on their real wire protocols."""

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from voltlab.cli_common import ConfigOption, console, load_settings, setup_logging
from voltlab.simulated_hardware.faults import FaultKind
from voltlab.simulated_hardware.lab import Instrument, serve_until_signalled


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
    setup_logging(verbose)
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
    settings = load_settings(config, **overrides)
    asyncio.run(serve_until_signalled(settings, chosen, console.print))


def _parse_instruments(names: list[str]) -> list[Instrument]:
    if "all" in names:
        return list(Instrument)
    try:
        return [Instrument(name) for name in dict.fromkeys(names)]
    except ValueError as exc:
        raise typer.BadParameter(
            f"{names}: choose from robot, cycler, xrd, all", param_hint="INSTRUMENTS"
        ) from exc
