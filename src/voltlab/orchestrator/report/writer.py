"""Writing a campaign's report: the HTML page and its PNG figures into one folder."""

import logging
from collections.abc import Callable
from pathlib import Path

from voltlab.orchestrator.errors import OrchestratorError
from voltlab.orchestrator.lab import Lab
from voltlab.orchestrator.report import page
from voltlab.orchestrator.report.data import ReportData, collect
from voltlab.orchestrator.report.figures import FIGURES
from voltlab.orchestrator.report.tables import config_table, decisions_table, experiments_table

log = logging.getLogger(__name__)

REPORT_FILE = "index.html"
Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` after each piece of work."""


class ReportError(OrchestratorError, ValueError):
    """The report cannot be written where asked."""


def _caption(data: ReportData, file_name: str) -> str:
    history = data.history
    feasible = int(data.experiments["feasible"].sum())
    captions = {
        "hypervolume.png": (
            f"Hypervolume of the feasible results among the first n experiments; reference "
            f"point: {history.attrs['reference']}."
        ),
        "pareto.png": (
            f"{feasible} feasible of {len(data.experiments)} experiments; "
            f"{int(data.experiments['on_front'].sum())} on the Pareto front. Each panel is a "
            "projection of all objectives onto two of them."
        ),
        "capacity_fade.png": f"{len(data.cells)} cells, Pareto-front cells drawn thicker.",
        "voltage_curves.png": (
            f"{len(data.curves)} cells; capacity integrated from current and time per segment."
        ),
        "xrd_fits.png": (
            f"{len(data.patterns)} powders: observed counts, the fitted pattern, its background "
            "and the residual (offset below)."
        ),
    }
    return captions[file_name]


def write_report(
    lab_path: str | Path,
    campaign_id: str,
    out_dir: str | Path,
    progress: Progress | None = None,
) -> Path:
    """Write campaign ``campaign_id`` of the lab file ``lab_path`` as ``out_dir/index.html``
    with its figures as PNG files beside it; return the HTML file's path.

    Raises the store's StoreError for a missing lab file or an unknown campaign, and
    :class:`ReportError` when ``out_dir`` is not a folder.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ReportError(f"{out}: exists and is not a folder; give a folder for the report")
    total = len(FIGURES) + 3
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    with Lab.open(lab_path) as lab:
        data = collect(lab, campaign_id)
    step()
    out.mkdir(parents=True, exist_ok=True)
    figures = []
    for file_name, (draw, title) in FIGURES.items():
        draw(data, out / file_name)
        figures.append(page.figure(file_name, title, _caption(data, file_name)))
        step()
    sections = [
        ("summary", "Campaign", page.table(config_table(data))),
        ("figures", "Figures", "\n".join(figures)),
        ("experiments", "Experiments", page.table(experiments_table(data))),
        ("decisions", "Planner decisions", page.table(decisions_table(data))),
    ]
    step()
    path = out / REPORT_FILE
    subtitle = (
        f"Lab file {Path(lab_path).name}; {len(data.experiments)} experiments, state "
        f"{data.row.state}."
    )
    path.write_text(
        page.page(f"voltlab campaign report: {campaign_id}", subtitle, sections), encoding="utf-8"
    )
    step()
    log.info("wrote the report of campaign %s to %s", campaign_id, path)
    return path
