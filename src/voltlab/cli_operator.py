"""``voltlab status`` and the operator commands (pause, approve, veto, ...) on a lab file.

They work on the lab file alone, so they also steer a campaign that another process runs.
"""

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from voltlab.cli_common import DEFAULT_LAB, LabOption, console, fail
from voltlab.cli_render import experiments_table
from voltlab.errors import VoltlabError
from voltlab.orchestrator import control
from voltlab.orchestrator.store import Store


@contextlib.contextmanager
def _existing_store(lab: Path) -> Iterator[Store]:
    """The lab file's store; a missing file is an error (exit 2), never a new empty lab."""
    if not lab.exists():
        raise fail(FileNotFoundError(f"no lab file {lab}"))
    with Store.open(lab) as store:
        yield store


def status(
    campaign_id: Annotated[
        str | None, typer.Argument(help="Show this campaign's experiments.")
    ] = None,
    lab: LabOption = DEFAULT_LAB,
) -> None:
    """Campaigns in a lab file, or one campaign's experiments."""
    with _existing_store(lab) as store:
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
    with _existing_store(lab) as store:
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
