"""A plain bluesky session driving the simulated lab: RunEngine, ophyd-async devices, plans.

The devices reach the instruments over their real wire protocols (OPC UA robot, ZMQ XRD stage
and cycler), so the same script drives real instruments given their endpoints. It synthesises a
powder, measures its XRD pattern, builds a coin cell and cycles it, checks every document
against event-model's schemas, and prints a summary of the runs.

    python examples/bluesky_session.py              # starts a simulated lab in this process
    voltlab sim all &                               # or: a lab running on the default ports,
    python examples/bluesky_session.py --external   #     reached over loopback
"""

import argparse
import asyncio
import contextlib
import logging
import tempfile
import threading
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from voltlab.drivers import DriverConfig
from voltlab.drivers.devices import Cycler, Robot, XRDStage
from voltlab.drivers.documents import ValidatingSink
from voltlab.drivers.plans import assemble_cell, cycle_cell, measure_xrd, synthesize
from voltlab.drivers.session import BlueskySession
from voltlab.protocol import Recipe
from voltlab.protocol.cycler import CellRef, GalvanostaticCycling
from voltlab.simlab import driver_config, with_free_ports
from voltlab.simulated_hardware.config import SimSettings, load_sim_settings
from voltlab.simulated_hardware.lab import running_lab

RECIPE = Recipe(
    ni=0.8, mn=0.1, co=0.1, li_excess=0.03, calcination_temperature_c=800.0, calcination_time_h=10.0
)
START_TIMEOUT_S = 60.0


@contextlib.contextmanager
def simulated_lab(settings: SimSettings) -> Iterator[None]:
    """Every simulated instrument on its own event loop in a background thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="simulated-lab", daemon=True)
    thread.start()
    lab = running_lab(settings)

    def call(coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(START_TIMEOUT_S)

    try:
        call(lab.__aenter__())
        try:
            yield
        finally:
            call(lab.__aexit__(None, None, None))
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(START_TIMEOUT_S)
        loop.close()


def run_session(config: DriverConfig, cycles: int) -> ValidatingSink:
    assert config.robot and config.cycler and config.xrd
    sink = ValidatingSink()
    session = BlueskySession(sink, md={"session": "examples/bluesky_session.py"})
    robot, xrd = Robot(config.robot), XRDStage(config.xrd)
    cycler = Cycler(config.cycler, channels=[0])
    try:
        session.connect({"robot": robot, "xrd": xrd, "cycler": cycler})
        powder = session.run(synthesize(robot, RECIPE)).plan_result
        session.run(measure_xrd(xrd, powder, (10.0, 80.0), step=0.02, count_time=1.0))
        cell = session.run(assemble_cell(robot, powder)).plan_result
        protocol = GalvanostaticCycling(
            cycles=cycles, charge_c_rate=0.5, discharge_c_rate=1.0, v_min=2.8, v_max=4.2
        )
        points = session.run(
            cycle_cell(cycler.channels[0], protocol, CellRef(cell_id=cell, sample_id=powder))
        ).plan_result
        print(f"powder {powder}, cell {cell}: {points} cycling points streamed")
    finally:
        leftover = session.close()
    if leftover:
        raise RuntimeError(f"tasks left running on the RunEngine's loop: {leftover}")
    return sink


def report(sink: ValidatingSink) -> None:
    kinds: dict[str, int] = {}
    for name, _ in sink.documents:
        kinds[name] = kinds.get(name, 0) + 1
    print(f"{len(sink.documents)} documents, all valid against event-model's schemas: {kinds}")
    print(f"{'plan':<14} {'sample':<26} {'status':<8} {'events':>6}  data keys")
    for run in sink.runs.values():
        s = run.summary()
        keys = ", ".join(k.split("-")[-1] for k in s["data_keys"])
        print(
            f"{s['plan_name']:<14} {s['sample_id']:<26} {s['exit_status']:<8} {s['events']:>6}  {keys}"
        )
    xrd = next(r for r in sink.runs.values() if r.start["plan_name"] == "measure_xrd")
    event = xrd.events_of("primary")[0]["data"]
    counts, two_theta = event["xrd-counts"], event["xrd-two_theta"]
    print(
        f"XRD pattern: {len(counts)} points, strongest at 2-theta {two_theta[np.argmax(counts)]:.2f} deg"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--external", action="store_true", help="use a lab already running on the default ports"
    )
    parser.add_argument("--cycles", type=int, default=2, help="cycles to run (default 2)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    started = time.perf_counter()
    if args.external:
        sink = run_session(driver_config(load_sim_settings()), args.cycles)
    else:
        with tempfile.TemporaryDirectory() as state:
            settings = with_free_ports(
                load_sim_settings(acceleration=float("inf"), state_dir=Path(state))
            )
            with simulated_lab(settings):
                sink = run_session(driver_config(settings), args.cycles)
    report(sink)
    print(f"finished in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
