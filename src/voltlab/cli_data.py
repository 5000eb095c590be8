"""``voltlab report``, ``export`` and ``replay``, and the results summary other commands print."""

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from voltlab.cli_common import (
    DEFAULT_LAB,
    LabOption,
    console,
    fail,
    load_settings,
    setup_logging,
)
from voltlab.errors import VoltlabError
from voltlab.orchestrator.export import compare_replay, export_bundle, queue_replay, replay_plan
from voltlab.orchestrator.lab import Lab
from voltlab.orchestrator.report import write_report
from voltlab.orchestrator.runs import run_campaign
from voltlab.orchestrator.store import Store
from voltlab.simlab import simulated_lab


def print_results(lab_path: Path, campaign_id: str) -> None:
    """The Pareto front and the hypervolume after each experiment."""
    with Lab.open(lab_path) as lab:
        campaign = lab.campaign(campaign_id)
        front = lab.pareto(campaign_id)
        history = lab.hypervolume_history(campaign_id)
    names = [o.name for o in campaign.objectives]
    table = Table("#", *names, title=f"Pareto front ({len(front)} experiments)")
    for _, row in front.iterrows():
        table.add_row(str(row["number"]), *(f"{row[f'outcome.{n}']:.4g}" for n in names))
    console.print(table)
    reference = history.attrs["reference_point"]
    where = ", ".join(f"{k} {v:g}" for k, v in reference.items())
    hv = Table("#", "state", "hypervolume", title=f"hypervolume from ({where})")
    for _, row in history.iterrows():
        hv.add_row(str(row["number"]), str(row["state"]), f"{row['hypervolume']:.4g}")
    console.print(hv)


def report_to(lab_path: Path, campaign_id: str, out: Path) -> Path:
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("report", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return write_report(lab_path, campaign_id, out, progress=advance)


def report(
    campaign_id: str,
    lab: LabOption = DEFAULT_LAB,
    out: Annotated[Path, typer.Option(help="Folder for index.html and its figures.")] = Path(
        "out/report"
    ),
) -> None:
    """An HTML report with figures: hypervolume, Pareto front, cycling curves, XRD fits."""
    try:
        page = report_to(lab, campaign_id, out)
    except VoltlabError as exc:
        raise fail(exc) from exc
    console.print(f"report: {page}")


def export(
    campaign_id: str,
    out: Annotated[Path, typer.Argument(help="Bundle folder to create (must not exist).")],
    lab: LabOption = DEFAULT_LAB,
    zip_too: Annotated[bool, typer.Option("--zip", help="Also write OUT.zip.")] = False,
) -> None:
    """A FAIR bundle (RO-Crate) of one campaign: config, software, measurements, analyses,
    planner decisions and bluesky documents."""
    try:
        path = export_bundle(lab, campaign_id, out, make_zip=zip_too)
    except VoltlabError as exc:
        raise fail(exc) from exc
    console.print(f"bundle: {path}")


async def _replay(bundle: Path, lab: Path) -> None:
    plan = replay_plan(bundle)
    settings = load_settings(
        None, state_dir=lab.parent / f"{lab.stem}-sim", acceleration=float("inf")
    )
    async with simulated_lab(settings) as endpoints:
        campaign = plan.campaign().with_instruments(endpoints)
        with Store.open(lab) as store:
            queue_replay(store, plan, plan.campaign_id, campaign)
        await run_campaign(lab, campaign, plan.campaign_yaml, plan.campaign_id)
    comparison = compare_replay(plan, lab, plan.campaign_id)
    table = Table("experiment", "recorded", "replayed", "largest difference", title="replay")
    for item in comparison.experiments:
        table.add_row(
            item.recorded_id, str(item.recorded_state), str(item.replayed_state),
            f"{100 * item.largest_difference:.2f} %",
        )  # fmt: skip
    console.print(table)
    verdict = "all states match" if comparison.states_match else "[red]states differ[/]"
    console.print(
        f"{verdict}; largest outcome difference {100 * comparison.largest_difference:.2f} %"
    )


def replay(
    bundle: Annotated[Path, typer.Argument(help="A bundle folder or zip from voltlab export.")],
    lab: Annotated[Path, typer.Option("--lab", "-l", help="New lab file for the rerun.")] = Path(
        "out/replay/lab.sqlite"
    ),
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Rerun a bundle's experiments against the simulated lab and compare with the record."""
    setup_logging(verbose)
    if lab.exists():
        raise fail(FileExistsError(f"{lab} exists; replay into a new lab file"))
    lab.parent.mkdir(parents=True, exist_ok=True)
    try:
        asyncio.run(_replay(bundle, lab))
    except VoltlabError as exc:
        raise fail(exc) from exc
