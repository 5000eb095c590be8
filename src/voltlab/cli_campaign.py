"""``voltlab run``, ``demo``, ``status`` and the operator commands on a lab file."""

import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from voltlab.cli_common import console, fail, load_settings, setup_logging
from voltlab.cli_data import COMMANDS as data_commands
from voltlab.cli_data import print_results, report_to
from voltlab.cli_render import experiments_table, live_progress
from voltlab.errors import VoltlabError
from voltlab.orchestrator import control
from voltlab.orchestrator.campaign import Campaign, PlannerSpec, load_campaign
from voltlab.orchestrator.events import EventBus
from voltlab.orchestrator.runs import new_campaign_id, run_campaign
from voltlab.orchestrator.store import CampaignRow, Store
from voltlab.simlab import simulated_lab

T = TypeVar("T")

LabOption = Annotated[
    Path, typer.Option("--lab", "-l", help="The lab file (SQLite), created if missing.")
]
DEFAULT_LAB = Path("voltlab.sqlite")
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
    lab: LabOption = DEFAULT_LAB,
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


def status(
    campaign_id: Annotated[
        str | None, typer.Argument(help="Show this campaign's experiments.")
    ] = None,
    lab: LabOption = DEFAULT_LAB,
) -> None:
    """Campaigns in a lab file, or one campaign's experiments."""
    if not lab.exists():
        raise fail(FileNotFoundError(f"no lab file {lab}"))
    with Store.open(lab) as store:
        if campaign_id is None:
            table = Table("campaign", "state", "experiments", "reason", title=str(lab))
            for row in store.campaigns():
                table.add_row(
                    row.id, str(row.state), str(len(store.experiments(row.id))), row.reason or ""
                )
            console.print(table)
            return
        try:
            row = store.campaign(campaign_id)
        except VoltlabError as exc:
            raise fail(exc) from exc
        names = [o["name"] for o in row.config["objectives"]] + [
            c["name"] for c in row.config.get("constraints", [])
        ]
        console.print(experiments_table(store.experiments(campaign_id), names))
        console.print(f"{campaign_id}: {row.state} {row.reason or ''}")


def _act(lab: Path, action: Callable[[Store], Any]) -> None:
    if not lab.exists():
        raise fail(FileNotFoundError(f"no lab file {lab}"))
    with Store.open(lab) as store:
        try:
            event = action(store)
        except VoltlabError as exc:
            raise fail(exc) from exc
    console.print(f"{event['kind']}: {event['data']}")


def pause(campaign_id: str, lab: LabOption = DEFAULT_LAB) -> None:
    """Start no new step (running device jobs go on)."""
    _act(lab, lambda s: control.pause(s, campaign_id))


def resume(campaign_id: str, lab: LabOption = DEFAULT_LAB) -> None:
    _act(lab, lambda s: control.resume(s, campaign_id))


def abort(campaign_id: str, lab: LabOption = DEFAULT_LAB) -> None:
    """Stop running device jobs and end the campaign."""
    _act(lab, lambda s: control.abort(s, campaign_id))


def approve(experiment_id: str, lab: LabOption = DEFAULT_LAB) -> None:
    """Let a suggested experiment run (approve mode)."""
    _act(lab, lambda s: control.approve(s, experiment_id))


def veto(
    experiment_id: str,
    reason: Annotated[str, typer.Option(help="Why.")],
    lab: LabOption = DEFAULT_LAB,
) -> None:
    """Reject a suggested experiment before it runs."""
    _act(lab, lambda s: control.veto(s, experiment_id, reason))


def exclude(
    experiment_id: str,
    reason: Annotated[str, typer.Option(help="Why.")],
    lab: LabOption = DEFAULT_LAB,
) -> None:
    """Keep a finished experiment's result out of the planner's model."""
    _act(lab, lambda s: control.exclude(s, experiment_id, reason))


def manual(
    campaign_id: str,
    parameters: Annotated[list[str], typer.Argument(help="NAME=VALUE for every parameter.")],
    note: Annotated[str, typer.Option(help="Why this experiment.")] = "",
    lab: LabOption = DEFAULT_LAB,
) -> None:
    """Queue an experiment of your own choosing."""
    point: dict[str, object] = {}
    for item in parameters:
        name, sep, value = item.partition("=")
        if not sep:
            raise fail(ValueError(f"{item!r}: expected NAME=VALUE"))
        try:
            point[name] = float(value)
        except ValueError:
            point[name] = value
    _act(lab, lambda s: control.add_manual(s, campaign_id, point, note))


COMMANDS: list[Callable[..., None]] = [
    run, demo, status, pause, resume, abort, approve, veto, exclude, manual,
]  # fmt: skip


def register(app: typer.Typer) -> None:
    for command in [*COMMANDS, *data_commands]:
        app.command()(command)
