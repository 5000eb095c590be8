"""``voltlab demo``: a short closed-loop campaign on a simulated lab, with its report."""

from pathlib import Path
from typing import Annotated

import typer

from voltlab.cli_campaign import finish, run_in_lab, run_until_signalled
from voltlab.cli_common import console, fail, setup_logging
from voltlab.cli_data import print_results, report_to
from voltlab.errors import VoltlabError
from voltlab.orchestrator.campaign import Campaign, PlannerSpec, load_campaign
from voltlab.orchestrator.runs import new_campaign_id

DEMO_CAMPAIGN = Path("examples/cathode_discovery.yaml")


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
    row = run_until_signalled(
        run_in_lab(campaign, campaign_file.read_text(), lab, campaign_id, True, float("inf"), None)
    )
    finish(lab, row, campaign_id, campaign)
    print_results(lab, campaign_id)
    page = report_to(lab, campaign_id, out / "report")
    console.print(f"report: {page}")
