"""Orchestrator benchmarks against the simulated lab over loopback, measured in one run.

1. dispatch: decision -> device acknowledgement per step. From the step's RUNNING event in the
   store (its ``at``, written before the instrument is asked) to the device's reply to the
   submit / assemble_cell / start command, seen by a timing proxy around the driver clients.
   Cathode campaign (robot + XRD + cycler, 5 cycles, Sobol), and the 16-channel fast-charge
   campaign of part 2 when it runs. Goal: median <= 5 ms (for the cathode campaign, the median
   of five runs' medians).
2. utilisation: fast-charge campaign (cycler only, 100 cycles, cycle life varies with the
   protocol), 16 channels, acceleration inf, async (max_in_flight 16) against batch (batch_size
   16). Utilisation = busy channel-time / (16 x time), from the engine's ResourcePool (since the
   engine was made, to the end of the campaign) and, for the breakdown, from the cycle steps'
   started/finished times in the store. Goals: async >= 95 %, async >= 1.3 x batch.
3. ingest: cycling points/s into the store the way the engine writes them
   (``AsyncStore.call(add_points)`` from asyncio, columns shaped like the cycler's PointBatch)
   against raw sqlite3 executemany into the same table (same WAL / synchronous settings, same
   batches, INSERT OR IGNORE, one transaction per batch). Goal: ratio >= 0.25.
4. closed-loop: hypervolume (campaign reference point) after N experiments of the cathode
   campaign (cycles 20), BoTorch vs random and Sobol, several seeds.

The simulated lab (acceleration inf) runs in its own process (``voltlab sim all`` on free
loopback ports) unless ``--in-process-lab``. At acceleration inf a cycling job lasts as long as
the simulator's PyBaMM worker pool (one worker per core) takes to reach and solve its cell, so
on a small machine a "busy" channel is mostly a job queued in that pool.

    .venv/bin/python benchmarks/orchestrator.py [--quick] [--parts dispatch,utilisation,...]
        [--planners botorch,random,sobol] [--utilisation-planners sobol,botorch]

Full sizes: dispatch 5 runs of 16 experiments; utilisation 240 experiments per mode; ingest
200k points x 5 runs; closed loop N = 24, seeds 1-3. ``--quick``: 2 runs of 8; 32; 100k x 3;
N = 16, seed 1.
"""

import argparse
import asyncio
import itertools
import logging
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from orchestrator_world import AckLog, Finished, campaign_variant, lab_process, run_engine
from voltlab.drivers import DriverConfig
from voltlab.orchestrator.lab import Lab
from voltlab.orchestrator.store import POINT_COLUMNS, AsyncStore, Store
from voltlab.simlab import simulated_lab
from voltlab.simulated_hardware.config import SimSettings

PARTS = ("dispatch", "utilisation", "ingest", "closed-loop")
CHANNELS = 16
UTILISATION_EXPERIMENTS = 240
"""15 refills of the 16 channels: after the last experiment starts the channels free one by one,
and that drain weighs 10 points at 48 experiments but under 3 at 240."""
DISPATCH_RUNS = 5
"""Dispatch campaigns per benchmark run (different Sobol seeds): one run's median of ~42 steps
moves by a millisecond with whatever else the 2 shared cores do, the median of five less."""


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


# -- 1. dispatch ------------------------------------------------------------------------------


def dispatch_delays(lab_path: Path, campaign_id: str, acks: AckLog) -> dict[str, list[float]]:
    """Per step kind, ms from the RUNNING event of each job to the device's reply, and ms of
    that spent before the command was sent (key ``<kind>.before_send``)."""
    with Store.open(lab_path) as store:
        events = store.events(campaign_id, limit=1_000_000)
    running: dict[str, float] = {}
    for event in events:
        data = event["data"]
        if event["kind"] == "step" and data["state"] == "running" and data.get("job_id"):
            running.setdefault(data["job_id"], event["at"])
    delays: dict[str, list[float]] = {}
    for job_id, ack in acks.acks.items():
        if job_id in running:
            delays.setdefault(ack.kind, []).append(1e3 * (ack.acked_at - running[job_id]))
            delays.setdefault(f"{ack.kind}.before_send", []).append(
                1e3 * (ack.sent_at - running[job_id])
            )
    return delays


def print_dispatch(title: str, delays: dict[str, list[float]]) -> float:
    """Print the per-kind table; returns the median over every step (NaN if none)."""
    every = [d for kind, values in delays.items() if "." not in kind for d in values]
    print(f"\nDispatch, {title}: ms from the step's RUNNING commit to the device's reply")
    print(
        f"  {'step':<16}{'n':>5}{'median':>9}{'p95':>9}{'max':>9}   of which before send (median)"
    )
    for kind in sorted(k for k in delays if "." not in k):
        values, before = delays[kind], delays[f"{kind}.before_send"]
        print(
            f"  {kind:<16}{len(values):>5}{statistics.median(values):>9.2f}"
            f"{percentile(values, 95):>9.2f}{max(values):>9.2f}   {statistics.median(before):.2f}"
        )
    if not every:
        return float("nan")
    median = statistics.median(every)
    print(f"  all steps: n={len(every)} median {median:.2f} ms, p95 {percentile(every, 95):.2f} ms")
    return median


async def part_dispatch(work: Path, drivers: DriverConfig, quick: bool) -> None:
    n, repeats = (8, 2) if quick else (16, DISPATCH_RUNS)
    medians = []
    for run in range(1, repeats + 1):
        campaign, text = campaign_variant(
            "cathode_discovery", experiments=n, planner="sobol", cycles=5, seed=run
        )
        campaign_id = f"dispatch-{run}"
        lab_path = work / f"{campaign_id}.sqlite"
        done = await run_engine(lab_path, campaign, text, campaign_id, drivers)
        medians.append(
            print_dispatch(
                f"cathode campaign run {run}/{repeats}, {n} experiments, Sobol seed {run}, "
                f"max_in_flight 4 ({done.wall_s:.0f} s)",
                dispatch_delays(lab_path, campaign_id, done.acks),
            )
        )
    overall = statistics.median(medians)
    print(
        f"\n  dispatch medians of the {repeats} runs: {', '.join(f'{m:.2f}' for m in medians)} ms"
        f"; median {overall:.2f} ms  goal <= 5 ms: {verdict(overall <= 5.0)}"
    )


# -- 2. utilisation ---------------------------------------------------------------------------


def channel_usage(lab_path: Path, campaign_id: str) -> dict[str, float]:
    """Busy fractions of the cycler channels from the cycle steps' started/finished times.

    ``whole``: first cycle start to last cycle end. ``steady``: from the start that fills the
    last channel to the last start (afterwards the budget is spent and channels drain).
    ``gap_*``: ms a channel stood empty between one step's end and the next step's start on it.
    """
    with Store.open(lab_path) as store:
        intervals = [
            (step.resource, step.started_at, step.finished_at)
            for experiment in store.experiments(campaign_id)
            for step in store.steps(experiment.id)
            if step.kind == "cycle" and step.started_at and step.finished_at
        ]
    starts = sorted(start for _, start, _ in intervals)
    begin, end = starts[0], max(stop for _, _, stop in intervals)
    fill = starts[min(CHANNELS, len(starts)) - 1]
    last = starts[-1]

    def busy(lo: float, hi: float) -> float:
        covered = sum(max(0.0, min(stop, hi) - max(start, lo)) for _, start, stop in intervals)
        return covered / (CHANNELS * (hi - lo)) if hi > lo else float("nan")

    gaps: list[float] = []
    for channel in {resource for resource, _, _ in intervals}:
        mine = sorted((s, f) for r, s, f in intervals if r == channel)
        gaps += [1e3 * (nxt[0] - prev[1]) for prev, nxt in itertools.pairwise(mine)]
    durations = [stop - start for _, start, stop in intervals]
    return {
        "whole": busy(begin, end),
        "steady": busy(fill, last),
        "drain_s": end - last,
        "span_s": end - begin,
        "gap_median_ms": statistics.median(gaps) if gaps else float("nan"),
        "gap_max_ms": max(gaps) if gaps else float("nan"),
        "job_min_s": min(durations),
        "job_median_s": statistics.median(durations),
        "job_max_s": max(durations),
    }


async def utilisation_run(
    work: Path, drivers: DriverConfig, mode: str, planner: str, n: int
) -> tuple[Finished, dict[str, float], Path, str]:
    concurrency = (
        {"mode": "async", "max_in_flight": CHANNELS}
        if mode == "async"
        else {"mode": "batch", "batch_size": CHANNELS, "max_in_flight": CHANNELS}
    )
    campaign, text = campaign_variant(
        "fast_charge", experiments=n, planner=planner, concurrency=concurrency, channels=CHANNELS
    )
    campaign_id = f"util-{mode}-{planner}"
    lab_path = work / f"{campaign_id}.sqlite"
    done = await run_engine(lab_path, campaign, text, campaign_id, drivers)
    return done, channel_usage(lab_path, campaign_id), lab_path, campaign_id


async def part_utilisation(
    work: Path,
    drivers: DriverConfig,
    quick: bool,
    planners: list[str],
    experiments: int | None,
    modes: list[str],
) -> None:
    n = experiments or (32 if quick else UTILISATION_EXPERIMENTS)
    for planner in planners:
        runs = {}
        for mode in modes:
            runs[mode] = await utilisation_run(work, drivers, mode, planner, n)
        print(
            f"\nCycler utilisation, fast-charge campaign, {n} experiments x 100 cycles, "
            f"{CHANNELS} channels, {planner} planner, acceleration inf"
        )
        print(
            f"  {'mode':<7}{'wall s':>8}{'engine':>8}{'whole':>8}{'steady':>8}{'drain s':>9}"
            f"{'gap med ms':>12}{'gap max ms':>12}{'job s min/med/max':>20}"
        )
        for mode, (done, usage, _, _) in runs.items():
            jobs = f"{usage['job_min_s']:.0f}/{usage['job_median_s']:.0f}/{usage['job_max_s']:.0f}"
            print(
                f"  {mode:<7}{done.wall_s:>8.0f}{done.utilisation:>8.1%}{usage['whole']:>8.1%}"
                f"{usage['steady']:>8.1%}{usage['drain_s']:>9.0f}{usage['gap_median_ms']:>12.1f}"
                f"{usage['gap_max_ms']:>12.1f}{jobs:>20}"
            )
        print(
            "  engine = ResourcePool.utilisation('cycler') (engine creation to campaign end); "
            "whole/steady from step times in the store (steady: all channels filled -> last start)"
        )
        if "async" not in runs:
            continue
        engine_async = runs["async"][0].utilisation or 0.0
        print(f"  goal async >= 95 %: {engine_async:.1%} {verdict(engine_async >= 0.95)}")
        if "batch" in runs:
            ratio = engine_async / (runs["batch"][0].utilisation or float("nan"))
            print(f"  goal async >= 1.3 x batch: {ratio:.2f} x {verdict(ratio >= 1.3)}")
        done, _, lab_path, campaign_id = runs["async"]
        median = print_dispatch(
            f"fast-charge async, {CHANNELS} channels ({planner})",
            dispatch_delays(lab_path, campaign_id, done.acks),
        )
        print(f"  goal median <= 5 ms: {verdict(median <= 5.0)}")


# -- 3. ingest --------------------------------------------------------------------------------

RAW_TABLE = (
    "CREATE TABLE cycling_points (job_id TEXT NOT NULL, seq INTEGER NOT NULL, "
    "time_s REAL, voltage_v REAL, current_a REAL, capacity_ah REAL, cycle INTEGER, "
    "step INTEGER, PRIMARY KEY (job_id, seq)) WITHOUT ROWID"
)


def point_batches(batch_size: int, total: int) -> list[dict[str, list]]:
    """Columns like a PointBatch's (lists of floats / ints) of a plausible cycling trace."""
    rng = np.random.default_rng(0)
    batches = []
    for first in range(0, total, batch_size):
        k = np.arange(first, min(first + batch_size, total))
        batches.append(
            {
                "time_s": (30.0 * k).tolist(),
                "voltage_v": (3.7 + 0.4 * np.sin(k / 50.0) + rng.normal(0, 1e-3, k.size)).tolist(),
                "current_a": np.where((k // 100) % 2, 2.7e-3, -2.7e-3).tolist(),
                "capacity_ah": ((k % 100) * 2.7e-5).tolist(),
                "cycle": (1 + k // 200).tolist(),
                "step": ((k // 100) % 2).tolist(),
            }
        )
    return batches


async def store_rate(path: Path, batches: list[dict[str, list]], job_id: str) -> float:
    """Points/s through AsyncStore.call(add_points), awaited batch by batch as the cycle step does."""
    store = AsyncStore(Store.open(path))
    try:
        seq = 0
        started = time.perf_counter()
        for columns in batches:
            first = seq
            await store.call(lambda s, c=columns, f=first: s.add_points(job_id, f, c))
            seq += len(columns["time_s"])
        return seq / (time.perf_counter() - started)
    finally:
        store.close()


def raw_rate(path: Path, batches: list[dict[str, list]], job_id: str) -> float:
    """Points/s of plain sqlite3 executemany, one transaction per batch."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(RAW_TABLE.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS"))
        sql = "INSERT OR IGNORE INTO cycling_points VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        seq = 0
        started = time.perf_counter()
        for columns in batches:
            n = len(columns["time_s"])
            rows = zip(
                [job_id] * n, range(seq, seq + n), *(columns[c] for c in POINT_COLUMNS),
                strict=True,
            )  # fmt: skip
            conn.execute("BEGIN")
            conn.executemany(sql, rows)
            conn.execute("COMMIT")
            seq += n
        return seq / (time.perf_counter() - started)
    finally:
        conn.close()


async def part_ingest(work: Path, quick: bool) -> None:
    total, repeats = (100_000, 3) if quick else (200_000, 5)
    print(f"\nIngest: cycling points/s, {total} points per run, median of {repeats} runs")
    print(f"  {'batch':>6}{'store pts/s':>14}{'raw pts/s':>14}{'ratio':>8}   goal >= 0.25")
    for batch_size in (50, 500):
        batches = point_batches(batch_size, total)
        stored, raw = [], []
        for i in range(repeats):  # alternated, each into fresh files
            stored.append(await store_rate(work / f"ingest-store-{batch_size}-{i}.sqlite",
                                           batches, f"job-{i}"))  # fmt: skip
            raw.append(raw_rate(work / f"ingest-raw-{batch_size}-{i}.sqlite", batches, f"job-{i}"))
        s, r = statistics.median(stored), statistics.median(raw)
        print(f"  {batch_size:>6}{s:>14,.0f}{r:>14,.0f}{s / r:>8.2f}   {verdict(s / r >= 0.25)}")
    print("  (500 points = the simulated cycler's largest streamed batch)")


# -- 4. closed loop ---------------------------------------------------------------------------


async def part_closed_loop(
    work: Path, drivers: DriverConfig, quick: bool, planners: list[str]
) -> None:
    n, seeds = (16, [1]) if quick else (24, [1, 2, 3])
    lab_path = work / "closed-loop.sqlite"
    results: dict[str, list[float]] = {p: [] for p in planners}
    print(
        f"\nClosed loop: cathode campaign (cycles 20, max_in_flight 4), N = {n}, acceleration inf"
    )
    for seed in seeds:
        print(
            f"  seed {seed}: {'planner':<9}{'HV@N/2':>10}{'HV@N':>10}{'feasible':>10}"
            f"{'model':>7}{'wall s':>8}"
        )
        for planner in planners:
            campaign, text = campaign_variant(
                "cathode_discovery", experiments=n, seed=seed, planner=planner, cycles=20
            )
            campaign_id = f"loop-{planner}-s{seed}"
            done = await run_engine(lab_path, campaign, text, campaign_id, drivers)
            with Lab.open(lab_path) as lab:
                history = lab.hypervolume_history(campaign_id)
                strategies = lab.decisions(campaign_id)["strategy"]
            model = int((~strategies.isin(["sobol", "random"])).sum())
            volumes = history["hypervolume"].to_numpy()
            results[planner].append(float(volumes[-1]))
            print(
                f"  {'':8}{planner:<9}{volumes[len(volumes) // 2 - 1]:>10.3f}{volumes[-1]:>10.3f}"
                f"{int(history['feasible'].sum()):>10}{model:>7}{done.wall_s:>8.0f}"
            )
    print("  model: suggestions from the model (the rest are Sobol or random points)")
    print(f"  reference point {history.attrs['reference_point']} ({history.attrs['reference']})")
    print("  mean HV@N over seeds: " + ", ".join(
        f"{p} {statistics.mean(v):.3f}" for p, v in results.items()))  # fmt: skip
    if "botorch" in results and "random" in results:
        better = statistics.mean(results["botorch"]) > statistics.mean(results["random"])
        print(f"  goal BoTorch mean HV@N > random: {verdict(better)}")


# -- running ----------------------------------------------------------------------------------


def machine_note() -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"machine: {os.cpu_count()} cores, shared (load average {load}); loopback only"


async def main(args: argparse.Namespace) -> None:
    parts, quick, planners = args.parts, args.quick, args.planners.split(",")
    util_planners, separate = args.utilisation_planners.split(","), not args.in_process_lab
    print("voltlab orchestrator benchmarks" + (" (quick)" if quick else ""))
    print(machine_note())
    with tempfile.TemporaryDirectory(prefix="voltlab-bench-") as tmp:
        work = Path(tmp)
        if "ingest" in parts:
            await part_ingest(work, quick)
        needs_lab = [p for p in parts if p != "ingest"]
        if not needs_lab:
            return
        settings = SimSettings(acceleration=float("inf"), state_dir=work / "sim")
        lab = lab_process(work / "sim") if separate else simulated_lab(settings)
        print(f"simulated lab: {'own process' if separate else 'in the benchmark process'}")
        async with lab as drivers:
            runs: dict[str, Callable[[], object]] = {
                "dispatch": lambda: part_dispatch(work, drivers, quick),
                "utilisation": lambda: part_utilisation(
                    work,
                    drivers,
                    quick,
                    util_planners,
                    args.utilisation_experiments,
                    args.utilisation_modes.split(","),
                ),
                "closed-loop": lambda: part_closed_loop(work, drivers, quick, planners),
            }
            for part in needs_lab:
                started = time.perf_counter()
                await runs[part]()  # type: ignore[misc]
                print(f"  [{part}: {time.perf_counter() - started:.0f} s]  {machine_note()}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer experiments, seeds, points")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma list of {PARTS}")
    parser.add_argument("--planners", default="botorch,random,sobol", help="closed-loop planners")
    parser.add_argument("--utilisation-planners", default="sobol", help="e.g. sobol,botorch")
    parser.add_argument(
        "--utilisation-experiments", type=int, help="budget of the utilisation campaigns"
    )
    parser.add_argument("--utilisation-modes", default="async,batch", help="async, batch or both")
    parser.add_argument(
        "--in-process-lab",
        action="store_true",
        help="run the simulated lab on the benchmark's event loop (default: its own process)",
    )
    args = parser.parse_args()
    args.parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(args.parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown parts {unknown}; choose from {', '.join(PARTS)}")
    return args


if __name__ == "__main__":
    os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("voltlab.planners").setLevel(logging.ERROR)  # Sobol fallbacks: counted
    args = parse_args()
    asyncio.run(main(args))
