"""What the API reports about a finished campaign, checked against the lab file itself:
experiments and steps, samples with lineage, cycling points (paged and downsampled), cycle
metrics, the XRD pattern with its fit, analyses, planner decisions, Pareto front, hypervolume,
the event log and the export bundle."""

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.server.conftest import Served
from tests.server.server_fixtures import VIEWER
from voltlab.orchestrator.export import verify_bundle
from voltlab.orchestrator.lab import Lab


@pytest.fixture(scope="module")
def lab(served: Served, finished: str):
    with Lab.open(served.lab) as opened:
        yield opened


def get(served: Served, path: str, **params: object):
    response = served.client.get(path, headers=VIEWER, params=params)
    assert response.status_code == 200, (path, response.text)
    return response.json()


def cycled(lab: Lab, campaign_id: str) -> str:
    frame = lab.experiments(campaign_id)
    return next(e for e in frame["id"] if lab.cycle_job(e) is not None)


def test_experiments_match_the_store(served: Served, finished: str, lab: Lab) -> None:
    listed = get(served, f"/api/campaigns/{finished}/experiments")
    rows = lab.store.experiments(finished)
    assert [e["id"] for e in listed] == [r.id for r in rows]
    for got, row in zip(listed, rows, strict=True):
        assert got["state"] == row.state.value and got["parameters"] == row.parameters
        assert got["outcomes"] == row.outcomes and got["source"] == "planner"
    detail = get(served, f"/api/experiments/{rows[-1].id}")
    assert [s["kind"] for s in detail["steps"]] == [s.kind for s in lab.store.steps(rows[-1].id)]
    assert {a["kind"] for a in detail["analyses"]} <= {"xrd", "cycling", "outcomes"}


def test_samples_carry_their_lineage(served: Served, finished: str, lab: Lab) -> None:
    samples = get(served, f"/api/campaigns/{finished}/samples")
    cells = [s for s in samples if s["kind"] == "cell"]
    assert cells, "a completed experiment built a cell"
    cell = get(served, f"/api/samples/{cells[0]['id']}")
    powder_id = cell["parent_id"]
    assert cell["lineage"] == [cell["id"], powder_id] == lab.lineage(cell["id"])
    powder = get(served, f"/api/samples/{powder_id}")
    assert powder["lineage"] == [powder_id] and cell["id"] in powder["children"]


def test_cycling_points_page_and_downsample(served: Served, finished: str, lab: Lab) -> None:
    experiment_id = cycled(lab, finished)
    stored = lab.cycling_points(experiment_id)
    url = f"/api/experiments/{experiment_id}/cycling"
    whole = get(served, url, limit=100_000)
    assert whole["total"] == len(stored) == whole["returned"] and not whole["downsampled"]
    np.testing.assert_allclose(whole["voltage_v"], stored["voltage_v"])
    page = get(served, url, offset=10, limit=25)
    assert page["returned"] == 25 and page["offset"] == 10
    np.testing.assert_allclose(page["time_s"], stored["time_s"][10:35])
    assert page["cycle"] == stored["cycle"][10:35].tolist()
    small = get(served, url, limit=100_000, max_points=50)
    assert small["returned"] == 50 and small["downsampled"]
    assert small["time_s"][0] == whole["time_s"][0] and small["time_s"][-1] == whole["time_s"][-1]
    assert set(small["time_s"]) <= set(whole["time_s"])
    # LTTB keeps the extremes of the voltage curve.
    assert max(small["voltage_v"]) == pytest.approx(stored["voltage_v"].max(), abs=0.02)
    metrics = get(served, f"/api/experiments/{experiment_id}/cycle-metrics")
    assert len(metrics["cycles"]) == len(lab.cycle_metrics(experiment_id))
    bad = served.client.get(url, headers=VIEWER, params={"max_points": 2})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "max_points"]


def test_xrd_pattern_comes_with_its_fit(served: Served, finished: str, lab: Lab) -> None:
    experiment_id = lab.store.experiments(finished)[0].id
    frame = lab.xrd_pattern(experiment_id)
    full = get(served, f"/api/experiments/{experiment_id}/xrd")
    assert full["total"] == len(frame) == len(full["two_theta"]) > 1000
    np.testing.assert_allclose(full["counts"], frame["counts"])
    assert full["calculated"][0] is not None and full["rwp"] == frame.attrs["rwp"]
    assert full["phases"] and full["sample_id"] == frame.attrs["sample_id"]
    small = get(served, f"/api/experiments/{experiment_id}/xrd", max_points=400)
    assert len(small["two_theta"]) == 400 and small["downsampled"]
    # The strongest reflection survives downsampling (LTTB picks a point at its top).
    assert max(small["counts"]) >= 0.95 * max(full["counts"])


def test_analyses_and_decisions(served: Served, finished: str, lab: Lab) -> None:
    analyses = get(served, f"/api/campaigns/{finished}/analyses")
    assert len(analyses) == len(lab.analyses(finished))
    decisions = get(served, f"/api/campaigns/{finished}/decisions")
    assert [d["experiment_id"] for d in decisions] == list(lab.decisions(finished)["experiment_id"])
    assert all(d["planner"] == "sobol" and d["duration_s"] >= 0 for d in decisions)


def test_pareto_front_and_hypervolume_history(served: Served, finished: str, lab: Lab) -> None:
    pareto = get(served, f"/api/campaigns/{finished}/pareto")
    assert [o["name"] for o in pareto["objectives"]] == ["capacity", "retention", "cost"]
    assert [p["experiment_id"] for p in pareto["front"]] == list(lab.pareto(finished)["id"])
    assert all(p["outcomes"]["capacity"] > 0 for p in pareto["front"])
    history = get(served, f"/api/campaigns/{finished}/hypervolume")
    expected = lab.hypervolume_history(finished)
    assert history["reference"] == "campaign"
    assert [h["hypervolume"] for h in history["history"]] == pytest.approx(
        expected["hypervolume"].tolist()
    )
    volumes = [h["hypervolume"] for h in history["history"]]
    assert volumes == sorted(volumes), "hypervolume never shrinks"


def test_event_log_pages_by_sequence(served: Served, finished: str, lab: Lab) -> None:
    stored = lab.events(finished)
    first = get(served, "/api/events", campaign_id=finished, limit=5)
    assert [e["seq"] for e in first] == stored["seq"].tolist()[:5]
    rest = get(served, "/api/events", campaign_id=finished, after=first[-1]["seq"], limit=10_000)
    assert [e["seq"] for e in first + rest] == stored["seq"].tolist()


def test_export_downloads_a_verifiable_bundle(
    served: Served, finished: str, tmp_path: Path
) -> None:
    response = served.client.get(f"/api/campaigns/{finished}/export", headers=VIEWER)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert f'filename="{finished}.zip"' in response.headers["content-disposition"]
    zipfile.ZipFile(io.BytesIO(response.content)).extractall(tmp_path / "bundle")
    assert verify_bundle(tmp_path / "bundle") > 5


def test_instruments_after_the_campaign(served: Served, finished: str) -> None:
    body = get(served, "/api/instruments")
    assert [i for i in body["instruments"] if i["campaign_id"] == finished] == []
    assert [r for r in body["resources"] if r["campaign_id"] == finished] == []
    assert all(f["kind"] in ("instrument", "retry") for f in body["faults"])
