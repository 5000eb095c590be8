"""Rendering campaign progress and results for the terminal (rich)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from voltlab.orchestrator.events import Event, EventBus
from voltlab.orchestrator.store import ExperimentRow

FINAL = {"completed", "failed", "gated", "vetoed", "aborted"}
STATE_STYLE = {"completed": "green", "failed": "red", "gated": "yellow", "aborted": "red"}


def _short(values: dict[str, object] | None, names: list[str] | None = None) -> str:
    if not values:
        return ""
    keys = names or list(values)
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k in keys if k in values
        for v in [values[k]]
    )  # fmt: skip


@contextlib.asynccontextmanager
async def live_progress(
    bus: EventBus, console: Console, budget: int, outcome_names: list[str]
) -> AsyncIterator[None]:
    """A progress bar of finished experiments and one line per experiment event."""
    progress = Progress(
        TextColumn("[bold]experiments"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    task = progress.add_task("experiments", total=budget)

    def show(event: Event) -> None:
        data = event["data"]
        if event["kind"] == "experiment":
            state = data["state"]
            experiment = data["experiment_id"]
            if data.get("parameters") is not None:
                console.print(
                    f"{experiment} {state} ({data['source']}): {_short(data['parameters'])}"
                )
            elif state in FINAL:
                progress.advance(task)
                style = STATE_STYLE.get(state, "")
                detail = _short(data.get("outcomes"), outcome_names) or data.get("failure") or ""
                console.print(f"{experiment} [{style}]{state}[/]: {detail}")
        elif event["kind"] == "instrument":
            console.print(f"[red]{data['instrument']} unavailable[/]: {data['error']}")
        elif event["kind"] == "campaign":
            console.print(
                f"campaign {event['campaign_id']}: {data['state']} {data.get('reason') or ''}"
            )

    async def follow() -> None:
        with bus.subscription() as queue:
            while True:
                show(await queue.get())

    follower = asyncio.create_task(follow())
    with progress:
        try:
            yield
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower


def experiments_table(experiments: list[ExperimentRow], outcome_names: list[str]) -> Table:
    table = Table("#", "source", "state", *outcome_names, title="experiments")
    table.add_column("note", overflow="ellipsis", no_wrap=True, max_width=48)
    for e in experiments:
        outcomes = e.outcomes or {}
        cells = [
            f"{outcomes[n]:.4g}" if n in outcomes and e.state == "completed" else ""
            for n in outcome_names
        ]
        note = e.failure or ("excluded: " + (e.exclude_reason or "") if e.excluded else "")
        style = STATE_STYLE.get(str(e.state), "")
        table.add_row(str(e.number), e.source, f"[{style}]{e.state}[/]", *cells, note)
    return table
