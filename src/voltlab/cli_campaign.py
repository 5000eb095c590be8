"""``voltlab run`` and ``voltlab demo``: a campaign run closed-loop to its budget."""

import asyncio
import contextlib
import signal
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from voltlab.cli_common import (
    DEFAULT_LAB,
    console,
    fail,
    load_settings,
    setup_logging,
)
from voltlab.cli_data import print_results, report_to
from voltlab.cli_render import experiments_table, live_progress
from voltlab.errors import VoltlabError
from voltlab.orchestrator.campaign import Campaign, PlannerSpec, load_campaign
from voltlab.orchestrator.events import EventBus
from voltlab.orchestrator.runs import new_campaign_id, run_campaign
from voltlab.orchestrator.store import CampaignRow, Store
from voltlab.simlab import simulated_lab

T = TypeVar("T")

DEMO_CAMPAIGN = Path("examples/cathode_discovery.yaml")


def _run_until_signalled(main: Coroutine[Any, Any, T]) -> T | None:
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


async def _run(
    campaign: Campaign,
    yaml_text: str,
    lab: Path,
    campaign_id: str,
    simulate: bool,
    acceleration: float,
    events: str | None,
) -> CampaignRow:
    bus = EventBus()
    names = [o.name for o in campaign.objectives] + [c.name for c in campaign.constraints]
    async with contextlib.AsyncExitStack() as stack:
        if simulate:
            settings = load_settings(
                None, state_dir=lab.parent / f"{lab.stem}-sim", acceleration=acceleration
            )
            endpoints = await stack.enter_async_context(simulated_lab(settings))
            campaign = campaign.with_instruments(endpoints)
        await stack.enter_async_context(
            live_progress(bus, console, campaign.budget.experiments, names)
        )
        return await run_campaign(lab, campaign, yaml_text, campaign_id, bus, None, events)


def _finish(lab: Path, row: CampaignRow | None, campaign_id: str, campaign: Campaign) -> None:
    if row is None:
        console.print(
            f"stopped; the lab file keeps everything. Resume with: voltlab run CAMPAIGN "
            f"--lab {lab} --campaign-id {campaign_id}"
        )
        raise typer.Exit(130)
    names = [o.name for o in campaign.objectives] + [c.name for c in campaign.constraints]
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
        row = _run_until_signalled(
            _run(campaign, yaml_text, lab, campaign_id, sim, acceleration, events)
        )
    except (VoltlabError, ConnectionError) as exc:
        raise fail(exc) from exc
    _finish(lab, row, campaign_id, campaign)


def demo(
    out: Annotated[Path, typer.Option(help="Where the lab file and report go.")] = Path("out/demo"),
    experiments: Annotated[int, typer.Option(min=4, max=200, help="Experiment budget.")] = 16,
    campaign_file: Annotated[Path, typer.Option("--campaign")] = DEMO_CAMPAIGN,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """A short closed-loop cathode campaign on a simulated lab, over the real protocols."""
    setup_logging(verbose)
    try:
        base = load_campaign(campaign_file)
    except (VoltlabError, FileNotFoundError) as exc:
        raise fail(exc) from exc
    fields = {name: getattr(base, name) for name in type(base).model_fields}
    campaign = Campaign(
        **fields
        | {
            "budget": base.budget.model_copy(update={"experiments": experiments}),
            "planner": PlannerSpec(
                kind=base.planner.kind,
                options={**base.planner.options, "min_observations": max(4, experiments // 2)},
            ),
        }
    )
    out.mkdir(parents=True, exist_ok=True)
    lab = out / "lab.sqlite"
    campaign_id = new_campaign_id(campaign)
    console.print(
        f"[bold]voltlab demo[/]: campaign {campaign_id}, {experiments} experiments, "
        "simulated robot (OPC UA), XRD stage and cycler (ZMQ) on loopback"
    )
    row = _run_until_signalled(
        _run(campaign, campaign_file.read_text(), lab, campaign_id, True, float("inf"), None)
    )
    _finish(lab, row, campaign_id, campaign)
    print_results(lab, campaign_id)
    page = report_to(lab, campaign_id, out / "report")
    console.print(f"report: {page}")
