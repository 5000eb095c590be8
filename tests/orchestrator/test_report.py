"""The campaign report of the session's real campaign: the page, its figures and tables."""

import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from tests.orchestrator.lab_fixtures import LabRun, lab_run  # noqa: F401
from voltlab.orchestrator.errors import StoreError
from voltlab.orchestrator.lab import Lab
from voltlab.orchestrator.report import REPORT_FILE, ReportError, write_report

pytestmark = pytest.mark.servers

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FIGURES = {"hypervolume.png", "pareto.png", "capacity_fade.png", "voltage_curves.png",
           "xrd_fits.png"}  # fmt: skip


class _Page(HTMLParser):
    """Image sources, links, scripts and the text of each section of a report page."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.links: list[str] = []
        self.scripts = 0
        self.sections: dict[str, str] = {}
        self._section: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "img":
            self.images.append(attributes["src"] or "")
        elif tag in ("a", "link"):
            self.links.append(attributes.get("href") or "")
        elif tag == "script":
            self.scripts += 1
        elif tag == "section":
            self._section = attributes["id"]
            self.sections[self._section or ""] = ""

    def handle_data(self, data: str) -> None:
        if self._section is not None:
            self.sections[self._section] += data + " "


def _parse(path: Path) -> _Page:
    parsed = _Page()
    parsed.feed(path.read_text(encoding="utf-8"))
    return parsed


@pytest.fixture(scope="module")
def report(lab_run: LabRun, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:  # noqa: F811
    calls: list[tuple[int, int]] = []
    out = tmp_path_factory.mktemp("report") / "nested" / "report"
    path = write_report(lab_run.path, lab_run.campaign_id, out, lambda d, t: calls.append((d, t)))
    return path, calls


def test_report_page_is_self_contained(report: tuple[Path, list]) -> None:
    path, calls = report
    assert path.name == REPORT_FILE and path.is_file()
    page = _parse(path)
    assert set(page.images) == FIGURES
    assert page.scripts == 0
    text = path.read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text
    assert all(link.startswith("#") for link in page.links)
    total = calls[-1][1]
    assert calls == [(i, total) for i in range(1, total + 1)]


def test_every_figure_is_a_readable_png(report: tuple[Path, list]) -> None:
    path, _ = report
    for source in _parse(path).images:
        image_path = path.parent / source
        assert image_path.read_bytes()[:8] == PNG_SIGNATURE
        assert image_path.stat().st_size > 15_000, source
        pixels = imread(image_path)
        assert pixels.shape[0] > 300 and pixels.shape[1] > 500, source
        assert np.std(pixels[..., :3]) > 0.05, f"{source} is nearly blank"


def test_tables_list_every_experiment(report: tuple[Path, list], lab_run: LabRun) -> None:  # noqa: F811
    path, _ = report
    sections = _parse(path).sections
    with Lab.open(lab_run.path) as lab:
        experiments = lab.experiments(lab_run.campaign_id)
        front = lab.pareto(lab_run.campaign_id)
    for experiment_id, state in zip(experiments["id"], experiments["state"], strict=True):
        assert experiment_id in sections["experiments"]
        assert experiment_id in sections["decisions"]
        assert state in sections["experiments"]
    assert sections["experiments"].count("★") == len(front)
    assert "gate needs at least" in sections["experiments"]
    assert "xrd.layered_fraction >= 0.95" in sections["summary"]
    assert "sobol" in sections["decisions"]


def test_report_of_an_empty_campaign_and_an_excluded_result(
    lab_run: LabRun,  # noqa: F811
    tmp_path: Path,
) -> None:
    lab_path = Path(shutil.copy(lab_run.path, tmp_path / "lab.sqlite"))
    with Lab.open(lab_path) as lab:
        stored = lab.store.campaign(lab_run.campaign_id)
        lab.store.create_campaign(
            "empty", stored.name, stored.config_yaml, stored.config, stored.seed, {}
        )
        excluded = lab.pareto(lab_run.campaign_id)["id"].iloc[0]
        lab.exclude(excluded, "separator misaligned")
    empty = _parse(write_report(lab_path, "empty", tmp_path / "empty"))
    assert set(empty.images) == FIGURES
    assert all((tmp_path / "empty" / f).stat().st_size > 5_000 for f in FIGURES)
    page = _parse(write_report(lab_path, lab_run.campaign_id, tmp_path / "excluded"))
    assert "excluded: separator misaligned" in page.sections["experiments"]


def test_bad_report_requests_are_named(lab_run: LabRun, tmp_path: Path) -> None:  # noqa: F811
    with pytest.raises(StoreError, match="no-such-campaign"):
        write_report(lab_run.path, "no-such-campaign", tmp_path / "out")
    with pytest.raises(StoreError, match=r"missing\.sqlite"):
        write_report(tmp_path / "missing.sqlite", lab_run.campaign_id, tmp_path / "out")
    taken = tmp_path / "a-file"
    taken.write_text("")
    with pytest.raises(ReportError, match="a-file"):
        write_report(lab_run.path, lab_run.campaign_id, taken)
