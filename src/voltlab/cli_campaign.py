"""``voltlab run``: a campaign run closed-loop to its budget, on real or simulated instruments.

The simulated lab (and with it PyBaMM, about 2 s to import) is loaded only for ``--sim``, so a
campaign on real instruments, and every restart after a crash, starts without it.
"""

import asyncio
import contextlib
import signal
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from voltlab.cli_common import DEFAULT_LAB, console, fail, load_settings, setup_logging
from voltlab.cli_render import experiments_table, live_progress
from voltlab.errors import VoltlabError
from voltlab.orchestrator.campaign import Campaign, load_campaign
from voltlab.orchestrator.events import EventBus
from voltlab.orchestrator.runs import new_campaign_id, run_campaign
from voltlab.orchestrator.store import CampaignRow, Store

T = TypeVar("T")


def run_until_signalled(main: Coroutine[Any, Any, T]) -> T | None:
    """Run ``main``; SIGINT or SIGTERM stop it cleanly (None), leaving a resumable lab file."""

    async def guarded() -> T | None:
        task = asyncio.ensure_future(main)
        loop = asyncio.get_running_loop()
        signalled: list[signal.Signals] = []

        def stop(sig: signal.Signals) -> None:
            signalled.append(sig)
            task.cancel()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop, sig)
        try:
            return await task
        except asyncio.CancelledError as exc:
            if not signalled:  # a bug, not a stop: show where, and do not exit as if asked to
                raise RuntimeError(
                    "the campaign was cancelled from within, not by a signal"
                ) from exc
            return None

    return asyncio.run(guarded())


async def run_in_lab(
    campaign: Campaign,
    yaml_text: str,
    lab: Path,
    campaign_id: str,
    simulate: bool,
    acceleration: float,
    events: str | None,
) -> CampaignRow:
    """Run ``campaign`` to its end with live progress; with ``simulate``, on a simulated lab
    started in this process (``acceleration``: instrument seconds per wall second)."""
    bus = EventBus()
    names = list(campaign.outcome_metrics)  # objectives, then constraints
    async with contextlib.AsyncExitStack() as stack:
        if simulate:
            from voltlab.simlab import simulated_lab  # here, not at the top: see the docstring

            settings = load_settings(
                None, state_dir=lab.parent / f"{lab.stem}-sim", acceleration=acceleration
            )
            endpoints = await stack.enter_async_context(simulated_lab(settings))
            campaign = campaign.with_instruments(endpoints)
        await stack.enter_async_context(
            live_progress(bus, console, campaign.budget.experiments, names)
        )
        return await run_campaign(lab, campaign, yaml_text, campaign_id, bus, None, events)


def finish(lab: Path, row: CampaignRow | None, campaign_id: str, campaign: Campaign) -> None:
    """Print the campaign's experiments and end state, or (``row`` None: stopped by a signal)
    how to resume it, exiting with status 130."""
    if row is None:
        console.print(
            f"stopped; the lab file keeps everything. Resume with: voltlab run CAMPAIGN "
            f"--lab {lab} --campaign-id {campaign_id}"
        )
        raise typer.Exit(130)
    names = list(campaign.outcome_metrics)  # objectives, then constraints
    with Store.open(lab) as store:
        console.print(experiments_table(store.experiments(campaign_id), names))
    console.print(f"campaign {campaign_id}: {row.state} ({row.reason}); lab file {lab}")


def run(
    campaign_file: Annotated[Path, typer.Argument(help="Campaign YAML file.")],
    lab: Annotated[
        Path, typer.Option("--lab", "-l", help="The lab file (SQLite), created if missing.")
    ] = DEFAULT_LAB,
    campaign_id: Annotated[
        str | None, typer.Option(help="Resume this campaign (or create it with this id).")
    ] = None,
    sim: Annotated[
        bool, typer.Option("--sim", help="Run against a simulated lab started in this process.")
    ] = False,
    acceleration: Annotated[float, typer.Option(help="Simulated time factor (--sim).")] = 1000.0,
    events: Annotated[
        str | None, typer.Option(help="Publish live events on this ZMQ PUB endpoint.")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run a campaign closed-loop to its budget (or resume one after a crash or Ctrl-C)."""
    setup_logging(verbose)
    try:
        campaign = load_campaign(campaign_file)
    except VoltlabError as exc:
        raise fail(exc) from exc
    campaign_id = campaign_id or new_campaign_id(campaign)
    yaml_text = campaign_file.read_text()
    try:
        row = run_until_signalled(
            run_in_lab(campaign, yaml_text, lab, campaign_id, sim, acceleration, events)
        )
    except (VoltlabError, ConnectionError) as exc:
        raise fail(exc) from exc
    finish(lab, row, campaign_id, campaign)
