"""An experiment's measurements into the bundle: cycling points (BDF Parquet) and per-cycle
metrics for every cycler job, XRD patterns per powder, bluesky documents per step."""

from collections.abc import Sequence

import pandas as pd

from voltlab.orchestrator.export._bdf import bdf_frame
from voltlab.orchestrator.export._format import CYCLING_DIR, DOCUMENTS_DIR, XRD_DIR
from voltlab.orchestrator.export._writer import BundleWriter, finite
from voltlab.orchestrator.store import SampleRow, StepRow, Store


def cycler_jobs(store: Store, step_id: str) -> list[str]:
    """Every cycler job of a step, one per attempt (job ids are ``<step id>-a<attempt>``)."""
    prefix = f"{step_id}-a"
    rows = store.db.execute(
        "SELECT job_id FROM cycling_points WHERE substr(job_id, 1, ?) = ? "
        "UNION SELECT job_id FROM cycle_metrics WHERE substr(job_id, 1, ?) = ? ORDER BY job_id",
        [len(prefix), prefix, len(prefix), prefix],
    ).fetchall()
    return [row[0] for row in rows]


def _sample_of(samples: Sequence[SampleRow], kind: str) -> str | None:
    return next((s.id for s in samples if s.kind == kind), None)


def write_cycling(
    store: Store, writer: BundleWriter, step: StepRow, samples: Sequence[SampleRow]
) -> None:
    cell = _sample_of(samples, "cell") or "unknown cell"
    for job_id in cycler_jobs(store, step.id):
        points = store.points(job_id)
        writer.parquet(
            f"{CYCLING_DIR}/{job_id}.bdf.parquet",
            bdf_frame(points),
            f"Cycling of {cell}, job {job_id}",
            f"Cycling points of cell {cell} (experiment {step.experiment_id}, cycler job "
            f"{job_id}, {len(points['time_s'])} points) with Battery Data Format column "
            "labels: test time s, voltage V, current A (positive on charge), step capacity "
            "Ah, cycle count, step count.",
        )
        metrics = store.cycle_metrics(job_id)
        if metrics:
            writer.parquet(
                f"{CYCLING_DIR}/{job_id}.cycles.parquet",
                pd.DataFrame.from_records([finite(m) for m in metrics]),
                f"Cycle metrics of {cell}, job {job_id}",
                f"Per-cycle metrics of cell {cell} (cycler job {job_id}): capacities Ah, "
                "energies Wh, specific capacities mAh/g, coulombic efficiency, mean voltages V; "
                "one row per cycle.",
            )


def write_pattern(store: Store, writer: BundleWriter, step: StepRow) -> None:
    pattern = store.pattern(step.id)
    if pattern is None:
        return
    sample = pattern["sample_id"]
    writer.csv(
        f"{XRD_DIR}/{sample}.csv",
        pd.DataFrame({"two_theta": pattern["two_theta"], "counts": pattern["counts"]}),
        f"XRD pattern of {sample}",
        f"Powder X-ray diffraction pattern of {sample} (experiment {step.experiment_id}, job "
        f"{pattern['job_id']}): two_theta in degrees, counts per step; wavelength "
        f"{pattern['wavelength_angstrom']} Angstrom, count time {pattern['count_time_s']} s.",
    )


def write_documents(store: Store, writer: BundleWriter, step: StepRow) -> None:
    documents = store.documents(step.id)
    if not documents:
        return
    writer.json_lines(
        f"{DOCUMENTS_DIR}/{step.id}.jsonl",
        ([name, document] for name, document in documents),
        f"bluesky documents of step {step.id}",
        f"The event-model documents (start, descriptor, events, stop) of step {step.id} "
        f"({step.kind}), one [name, document] pair per line.",
    )


def write_measurements(
    store: Store, writer: BundleWriter, steps: Sequence[StepRow], samples: Sequence[SampleRow]
) -> None:
    """Everything measured in the given steps of one experiment."""
    for step in steps:
        if step.kind == "cycle":
            write_cycling(store, writer, step, samples)
        elif step.kind == "xrd":
            write_pattern(store, writer, step)
        write_documents(store, writer, step)
