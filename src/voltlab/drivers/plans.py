"""Bluesky plans for the lab's instruments: each is one run, its start document naming the sample.

Every plan takes the job id to use (a fresh one if None): instruments key jobs by it, so running
a plan again with the same id after a crash reattaches to the job instead of repeating it.
``md`` adds to (and may override) the start document, e.g. campaign and experiment ids.

- :func:`synthesize` / :func:`assemble_cell`: one event with the robot job's outcome.
- :func:`measure_xrd`: one event with the pattern (``counts`` on ``two_theta``) and sample id.
- :func:`cycle_cell`: one event per streamed batch of points (arrays of time, voltage, current,
  capacity, cycle, step), until the job's last point.
"""

from collections.abc import Mapping
from typing import Any

import bluesky.plan_stubs as bps
import bluesky.preprocessors as bpp
from bluesky.utils import MsgGenerator

from voltlab.drivers.devices import (
    CellAssembly,
    CyclerChannel,
    CyclingRequest,
    DeviceError,
    Robot,
    Synthesis,
    XRDStage,
    new_job_id,
)
from voltlab.protocol import Recipe
from voltlab.protocol.cycler import CellRef, CyclingProtocol
from voltlab.protocol.xrd import MeasureParams


def _start_md(plan_name: str, detector: str, md: Mapping[str, Any] | None, **fields: Any) -> dict:
    return {"plan_name": plan_name, "detectors": [detector], **fields, **(md or {})}


def _robot_job(robot: Robot, request: Synthesis | CellAssembly) -> MsgGenerator[None]:
    yield from bps.mv(robot, request)
    yield from bps.trigger_and_read([robot])


def synthesize(
    robot: Robot, recipe: Recipe, job_id: str | None = None, md: Mapping[str, Any] | None = None
) -> MsgGenerator[str]:
    """Make a powder from ``recipe``; returns its sample id (the robot's ``product_id``).
    The start document's ``sample_id`` is the job id, which the robot gives its product."""
    request = Synthesis(job_id=job_id or new_job_id("synthesis"), recipe=recipe)
    start = _start_md(
        "synthesize", robot.name, md,
        sample_id=request.job_id, job_id=request.job_id, recipe=recipe.model_dump(mode="json"),
    )  # fmt: skip
    yield from bpp.run_wrapper(_robot_job(robot, request), md=start)
    return (yield from bps.rd(robot.product_id, default_value=request.job_id))


def assemble_cell(
    robot: Robot, sample_id: str, job_id: str | None = None, md: Mapping[str, Any] | None = None
) -> MsgGenerator[str]:
    """Build a coin cell from powder ``sample_id``; returns the cell's id (its job id).
    The start document's ``sample_id`` is the cell, ``source_sample_id`` the powder."""
    request = CellAssembly(job_id=job_id or new_job_id("cell"), sample_id=sample_id)
    start = _start_md(
        "assemble_cell", robot.name, md,
        sample_id=request.job_id, source_sample_id=sample_id, job_id=request.job_id,
    )  # fmt: skip
    yield from bpp.run_wrapper(_robot_job(robot, request), md=start)
    return (yield from bps.rd(robot.product_id, default_value=request.job_id))


def measure_xrd(
    xrd: XRDStage,
    sample: str,
    two_theta_range: tuple[float, float],
    step: float,
    count_time: float,
    job_id: str | None = None,
    md: Mapping[str, Any] | None = None,
) -> MsgGenerator[str]:
    """Load powder ``sample`` and measure it from ``two_theta_range[0]`` to ``[1]`` (degrees
    2-theta) every ``step`` degrees, ``count_time`` s per step; returns the measurement's job
    id. The scan is checked (and refused with a ValueError) before anything moves."""
    start_deg, stop_deg = two_theta_range
    params = MeasureParams(
        job_id=job_id or new_job_id("xrd"),
        two_theta_start=start_deg,
        two_theta_stop=stop_deg,
        step=step,
        count_time_s=count_time,
    )
    start = _start_md(
        "measure_xrd", xrd.name, md,
        sample_id=sample, job_id=params.job_id, two_theta_range=[start_deg, stop_deg],
        step_deg=step, count_time_s=count_time, num_points=params.n_points,
    )  # fmt: skip

    def measure() -> MsgGenerator[None]:
        yield from bps.mv(
            xrd.loaded_sample, sample,
            xrd.two_theta_start, start_deg, xrd.two_theta_stop, stop_deg,
            xrd.step, step, xrd.count_time, count_time, xrd.next_job_id, params.job_id,
        )  # fmt: skip
        yield from bps.trigger_and_read([xrd])
        measured = yield from bps.rd(xrd.sample_id, default_value=sample)
        if measured != sample:
            raise DeviceError(f"XRD job {params.job_id} measured {measured!r}, not {sample!r}")

    yield from bpp.run_wrapper(measure(), md=start)
    return params.job_id


def cycle_cell(
    cycler_channel: CyclerChannel,
    protocol: CyclingProtocol,
    cell: CellRef,
    job_id: str | None = None,
    deadline_s: float | None = None,
    md: Mapping[str, Any] | None = None,
) -> MsgGenerator[int]:
    """Cycle ``cell`` under ``protocol`` on the channel, one event per streamed batch of
    points, until the job's last point (``deadline_s`` bounds the wait; None: no bound).
    Returns the job's number of points. The start document's ``sample_id`` is the cell,
    ``source_sample_id`` the powder it was built from (None for a reference cell)."""
    request = CyclingRequest(
        job_id=job_id or new_job_id("cycling"), cell=cell, protocol=protocol, deadline_s=deadline_s
    )
    start = _start_md(
        "cycle_cell", cycler_channel.name, md,
        sample_id=cell.cell_id, source_sample_id=cell.sample_id, job_id=request.job_id,
        channel=cycler_channel.channel, protocol=protocol.model_dump(mode="json"),
    )  # fmt: skip

    def follow() -> MsgGenerator[None]:
        yield from bps.mv(cycler_channel, request)
        while True:
            yield from bps.trigger(cycler_channel, wait=True)
            if (yield from bps.rd(cycler_channel.ended, default_value=True)):
                return
            yield from bps.create("primary")
            yield from bps.read(cycler_channel)
            yield from bps.save()

    run = bpp.run_wrapper(follow(), md=start)
    yield from bpp.stage_wrapper(run, [cycler_channel])
    return (yield from bps.rd(cycler_channel.next_seq, default_value=0))
