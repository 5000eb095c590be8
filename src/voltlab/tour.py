"""A scripted tour of the simulated lab over its real wire protocols (``voltlab demo``).

One recipe is synthesised by the OPC UA robot, measured on the ZMQ XRD stage, built into a cell
and cycled on the ZMQ cycler while its points stream in. Everything goes over loopback sockets,
exactly as a client on another machine would see it; results are printed and saved.
"""

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import zmq
import zmq.asyncio
from asyncua import Client, Node
from rich.console import Console
from rich.table import Table
from scipy.signal import find_peaks

from voltlab.protocol import JobState, ProtocolError, Recipe, Request, decode_reply, encode
from voltlab.protocol import opcua as names
from voltlab.protocol.cycler import GalvanostaticCycling, PointBatch, point_topic, unpack_points
from voltlab.protocol.robot import RobotJob
from voltlab.protocol.xrd import Pattern
from voltlab.simulated_hardware.config import SimSettings
from voltlab.simulated_hardware.lab import running_lab

TOUR_RECIPE = Recipe(
    ni=0.8, mn=0.1, co=0.1, li_excess=0.03, calcination_temperature_c=800.0, calcination_time_h=10.0
)
REPLY_TIMEOUT_S = 30.0
POINT_COLUMNS = ("time_s", "voltage_v", "current_a", "capacity_ah", "cycle", "step")
JOB_TIMEOUT_S = 600.0


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def with_free_ports(settings: SimSettings) -> SimSettings:
    """The same settings on free loopback ports, so the demo never collides with a running lab."""
    return settings.model_copy(
        update={
            "robot": settings.robot.model_copy(update={"port": free_tcp_port()}),
            "cycler": settings.cycler.model_copy(
                update={"command_port": free_tcp_port(), "stream_port": free_tcp_port()}
            ),
            "xrd": settings.xrd.model_copy(update={"port": free_tcp_port()}),
        }
    )


class ZmqCaller:
    """Send one envelope command on a DEALER socket and wait for its reply."""

    def __init__(self, ctx: zmq.asyncio.Context, endpoint: str) -> None:
        self._socket = ctx.socket(zmq.DEALER)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.connect(endpoint)

    async def __call__(self, command: str, **params: Any) -> dict[str, Any]:
        request = Request(command=command, params=params)
        await self._socket.send(encode(request))
        while True:
            frame = await asyncio.wait_for(self._socket.recv(), REPLY_TIMEOUT_S)
            reply = decode_reply(frame)
            if reply.msg_id == request.msg_id:
                return reply.raise_for_error()

    def close(self) -> None:
        self._socket.close(linger=0)


async def wait_until_final(get_job: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    """Poll a job until it reaches a final state."""
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while time.monotonic() < deadline:
        job = await get_job()
        if JobState(job["state"]).is_final:
            return job
        await asyncio.sleep(0.05)
    raise TimeoutError(f"job did not finish within {JOB_TIMEOUT_S} s")


async def robot_call(manager: Node, method: str, *args: str) -> dict[str, Any]:
    """Call a ProgramManager method; the robot answers with the JSON reply envelope."""
    node = await manager.get_child(f"{manager.nodeid.NamespaceIndex}:{method}")
    reply = decode_reply((await manager.call_method(node, *args)).encode())
    return reply.raise_for_error()


async def run_tour(settings: SimSettings, out: Path, cycles: int, console: Console) -> None:
    await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
    settings = with_free_ports(settings)
    results: dict[str, Any] = {"recipe": TOUR_RECIPE.model_dump(mode="json")}
    started = time.perf_counter()
    console.print("starting the simulated lab (OPC UA robot, ZMQ XRD stage and cycler)")
    async with running_lab(settings) as (_, servers):
        for server in servers.values():
            console.print(f"  {server.describe()}")
        robot_url = (
            f"opc.tcp://{settings.robot.host}:{settings.robot.port}{settings.robot.endpoint_path}"
        )
        client = Client(robot_url, timeout=REPLY_TIMEOUT_S)
        client.session_timeout = 600_000
        async with client:
            ns = await client.get_namespace_index(names.NAMESPACE_URI)
            manager = await client.nodes.objects.get_child(
                [
                    f"{ns}:{names.DEVICE}",
                    f"{ns}:{names.FUNCTIONAL_UNIT_SET}",
                    f"{ns}:{names.FUNCTIONAL_UNIT}",
                    f"{ns}:{names.PROGRAM_MANAGER}",
                ]
            )
            powder = await synthesise(manager, console)
            results["synthesis"] = powder.model_dump(mode="json")
            ctx = zmq.asyncio.Context()
            try:
                results["xrd"] = await measure_xrd(ctx, settings, powder.product_id, out, console)
                cell = await assemble(manager, powder.product_id, console)
                results["cell"] = cell.model_dump(mode="json")
                results["cycling"] = await cycle_cell(ctx, settings, cell, cycles, out, console)
            finally:
                ctx.destroy(linger=0)
    results["wall_time_s"] = round(time.perf_counter() - started, 2)
    (out / "tour.json").write_text(json.dumps(results, indent=2))
    plot_tour(out)
    console.print(
        f"\n[bold]Tour finished in {results['wall_time_s']} s.[/] Results in {out}/: "
        "tour.json, xrd_pattern.csv, cycling_points.csv, tour.png"
    )


async def synthesise(manager: Node, console: Console) -> RobotJob:
    console.rule("1. Synthesis on the OPC UA robot")
    console.print(f"recipe: {TOUR_RECIPE.model_dump(mode='json')}")
    await robot_call(
        manager, names.RobotMethod.START, "tour-synthesis", TOUR_RECIPE.model_dump_json()
    )
    job = await wait_until_final(
        lambda: robot_call(manager, names.RobotMethod.GET_JOB, "tour-synthesis")
    )
    powder = RobotJob.model_validate(job)
    console.print(
        f"robot job {powder.job_id}: {powder.state}, made powder {powder.product_id} ({powder.mass_g} g)"
    )
    if powder.state is not JobState.COMPLETED:
        raise RuntimeError(f"synthesis ended {powder.state}: {powder.error}")
    return powder


async def measure_xrd(
    ctx: zmq.asyncio.Context, settings: SimSettings, sample_id: str, out: Path, console: Console
) -> dict[str, Any]:
    console.rule("2. Powder XRD on the ZMQ stage")
    xrd = ZmqCaller(ctx, f"tcp://{settings.xrd.host}:{settings.xrd.port}")
    try:
        await xrd("load", sample_id=sample_id)
        await xrd(
            "measure",
            job_id="tour-xrd",
            two_theta_start=10.0,
            two_theta_stop=80.0,
            step=0.02,
            count_time_s=1.0,
        )
        await wait_until_final(lambda: xrd("job", job_id="tour-xrd"))
        pattern = Pattern.model_validate(await xrd("get_pattern", job_id="tour-xrd"))
    finally:
        xrd.close()
    two_theta, counts = np.asarray(pattern.two_theta), np.asarray(pattern.counts)
    np.savetxt(
        out / "xrd_pattern.csv",
        np.column_stack([two_theta, counts]),
        delimiter=",",
        header="two_theta_deg,counts",
        comments="",
    )
    peaks, props = find_peaks(counts, prominence=0.05 * counts.max())
    strongest = peaks[np.argsort(props["prominences"])[::-1][:6]]
    table = Table("2-theta (deg)", "counts", title=f"{len(counts)} points, strongest peaks")
    for i in sorted(strongest):
        table.add_row(f"{two_theta[i]:.2f}", f"{counts[i]:.0f}")
    console.print(table)
    i003 = counts[(two_theta > 18) & (two_theta < 19.5)].max()
    i104 = counts[(two_theta > 44) & (two_theta < 45)].max()
    console.print(
        f"peak height ratio I(003)/I(104) = {i003 / i104:.2f} (falls as Ni moves onto Li sites)"
    )
    return {
        "points": len(counts),
        "peaks_two_theta": [round(float(two_theta[i]), 3) for i in sorted(strongest)],
        "i003_over_i104": round(float(i003 / i104), 3),
    }


async def assemble(manager: Node, sample_id: str, console: Console) -> RobotJob:
    console.rule("3. Coin cell assembly on the robot")
    await robot_call(manager, names.RobotMethod.ASSEMBLE_CELL, "tour-cell", sample_id)
    cell = RobotJob.model_validate(
        await wait_until_final(lambda: robot_call(manager, names.RobotMethod.GET_JOB, "tour-cell"))
    )
    console.print(f"cell {cell.product_id} built from {sample_id}: {cell.state}")
    return cell


async def cycle_cell(
    ctx: zmq.asyncio.Context,
    settings: SimSettings,
    cell: RobotJob,
    cycles: int,
    out: Path,
    console: Console,
) -> dict[str, Any]:
    console.rule(f"4. {cycles} cycles on the ZMQ cycler, points streamed live")
    protocol = GalvanostaticCycling(
        cycles=cycles, charge_c_rate=1 / 3, discharge_c_rate=1.0, v_min=2.5, v_max=4.2
    )
    sub = ctx.socket(zmq.SUB)
    sub.connect(f"tcp://{settings.cycler.host}:{settings.cycler.stream_port}")
    sub.subscribe(point_topic(0))
    cycler = ZmqCaller(ctx, f"tcp://{settings.cycler.host}:{settings.cycler.command_port}")
    columns: dict[str, list[float]] = {
        k: [] for k in ("time_s", "voltage_v", "current_a", "capacity_ah", "cycle", "step")
    }
    try:
        await cycler(
            "start",
            channel=0,
            job_id="tour-cycling",
            cell={"cell_id": cell.product_id, "sample_id": cell.source_sample_id},
            protocol=protocol.model_dump(),
        )
        with console.status("cycling") as status:
            done = False
            while not done:
                batch = await next_batch(sub, cycler, len(columns["time_s"]))
                for key in columns:
                    columns[key].extend(getattr(batch, key))
                done = batch.final
                if columns["cycle"]:
                    status.update(
                        f"cycling: cycle {columns['cycle'][-1]}/{cycles}, {len(columns['time_s'])} points"
                    )
    finally:
        sub.close(linger=0)
        cycler.close()
    data = {k: np.asarray(v) for k, v in columns.items()}
    np.savetxt(
        out / "cycling_points.csv",
        np.column_stack(list(data.values())),
        delimiter=",",
        header=",".join(data),
        comments="",
    )
    per_cycle = discharge_capacities_mah(data)
    table = Table(
        "cycle",
        "discharge (mAh)",
        "retention (%)",
        title=f"cell {cell.product_id}: cycle 1 is formation at C/10; retention vs cycle 2",
    )
    first = per_cycle[1] if len(per_cycle) > 1 else per_cycle[0]
    shown = sorted(
        {0, 1, 2, 4, 9, len(per_cycle) // 2, len(per_cycle) - 1} & set(range(len(per_cycle)))
    )
    for i in shown:
        table.add_row(str(i + 1), f"{per_cycle[i]:.3f}", f"{100 * per_cycle[i] / first:.1f}")
    console.print(table)
    return {
        "points": len(data["time_s"]),
        "discharge_capacity_mah": [round(float(q), 5) for q in per_cycle],
        "retention_last_vs_second_cycle": round(float(per_cycle[-1] / first), 4),
    }


async def next_batch(sub: zmq.asyncio.Socket, cycler: ZmqCaller, have: int) -> PointBatch:
    """The points from sequence number ``have`` on: taken from the stream when it carries them,
    fetched from the cycler when the stream skipped some or delivered a garbled message."""
    if await sub.poll(int(REPLY_TIMEOUT_S * 1000)):
        _, payload = await sub.recv_multipart()
        with contextlib.suppress(ProtocolError):
            batch = unpack_points(payload)
            end = batch.first_seq + len(batch)
            if batch.first_seq <= have and (end > have or batch.final):
                skip = have - batch.first_seq
                return batch.model_copy(
                    update={key: getattr(batch, key)[skip:] for key in POINT_COLUMNS}
                    | {"first_seq": have}
                )
            if end <= have:
                return batch.model_copy(
                    update={key: [] for key in POINT_COLUMNS} | {"first_seq": have}
                )
    return PointBatch.model_validate(await cycler("fetch", job_id="tour-cycling", from_seq=have))


def discharge_capacities_mah(data: dict[str, np.ndarray]) -> np.ndarray:
    """Charge passed during discharge (positive current) per cycle, mAh."""
    out = []
    for cycle in np.unique(data["cycle"]):
        mask = (data["cycle"] == cycle) & (data["current_a"] > 0)
        out.append(1000 * data["capacity_ah"][mask].max() if mask.any() else 0.0)
    return np.asarray(out)


def plot_tour(out: Path) -> None:
    pattern = np.loadtxt(out / "xrd_pattern.csv", delimiter=",", skiprows=1)
    points = np.loadtxt(out / "cycling_points.csv", delimiter=",", skiprows=1)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.plot(pattern[:, 0], pattern[:, 1], lw=0.7)
    ax1.set(xlabel="2-theta (deg, Cu K-alpha)", ylabel="counts", title="XRD pattern")
    for cycle in np.unique(points[:, 4])[[0, -1]]:
        sel = points[:, 4] == cycle
        ax2.plot(
            points[sel, 0] / 3600 - points[sel, 0][0] / 3600,
            points[sel, 1],
            label=f"cycle {int(cycle)}",
        )
    ax2.set(xlabel="time in cycle (h)", ylabel="voltage (V)", title="Cycling")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(out / "tour.png", dpi=110)
    plt.close(fig)
