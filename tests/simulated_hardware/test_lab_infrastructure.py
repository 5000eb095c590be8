"""Faults, clock, settings and the sample registry shared by the simulated instruments."""

import asyncio
import math
import time
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from voltlab.protocol import Recipe
from voltlab.simulated_hardware.clock import SimClock
from voltlab.simulated_hardware.config import load_sim_settings
from voltlab.simulated_hardware.context import LabContext
from voltlab.simulated_hardware.faults import FaultConfig, FaultInjector, FaultKind
from voltlab.simulated_hardware.registry import Powder, SampleRegistry, UnknownSampleError
from voltlab.simulated_hardware.world.product import make_product

RECIPE = Recipe(
    ni=0.6, mn=0.2, co=0.2, li_excess=0.03, calcination_temperature_c=850, calcination_time_h=10
)
WIRE = [FaultKind.TIMEOUT, FaultKind.CORRUPT_MESSAGE]


def draws(injector: FaultInjector, operation: str, n: int) -> list[FaultKind | None]:
    return [injector.draw(operation, WIRE) for _ in range(n)]


def test_faults_are_repeatable_per_seed_and_independent_of_interleaving() -> None:
    config = FaultConfig(seed=5, rates={FaultKind.TIMEOUT: 0.1, FaultKind.CORRUPT_MESSAGE: 0.1})
    a, b = FaultInjector(config), FaultInjector(config)
    first = draws(a, "cycler.start", 200)
    for _ in range(50):
        b.draw("xrd.measure", WIRE)  # other operations in between change nothing
    assert draws(b, "cycler.start", 200) == first
    hits = sum(kind is not None for kind in first)
    assert 15 < hits < 70  # about 20 % of 200
    other = draws(FaultInjector(FaultConfig(seed=6, rates=config.rates)), "cycler.start", 200)
    assert other != first


def test_faults_only_of_applicable_kinds_and_scheduled_ones_first() -> None:
    injector = FaultInjector(FaultConfig(rates={FaultKind.FAILED_SYNTHESIS: 1.0}))
    assert injector.draw("xrd.measure", WIRE) is None
    injector.schedule(FaultKind.CORRUPT_MESSAGE, operation="xrd.get_pattern")
    assert injector.draw("xrd.measure", WIRE) is None
    assert injector.draw("xrd.get_pattern", WIRE) is FaultKind.CORRUPT_MESSAGE
    assert injector.draw("xrd.get_pattern", WIRE) is None
    assert [(f.kind, f.operation) for f in injector.injected] == [
        (FaultKind.CORRUPT_MESSAGE, "xrd.get_pattern")
    ]


def test_fault_rates_are_validated() -> None:
    with pytest.raises(ValidationError, match="within \\[0, 1\\]"):
        FaultConfig(rates={FaultKind.TIMEOUT: 1.5})


async def test_clock_scales_instrument_time() -> None:
    clock = SimClock(3600.0)
    assert clock.wall_seconds(7200) == pytest.approx(2.0)
    start = time.perf_counter()
    await clock.sleep(180)  # 3 min of instrument time = 50 ms
    assert 0.04 < time.perf_counter() - start < 1.0
    fast = SimClock(math.inf)
    assert fast.unbounded and fast.wall_seconds(1e9) == 0.0
    with pytest.raises(ValueError, match="acceleration"):
        SimClock(0)


async def test_unbounded_clock_still_yields_to_the_loop() -> None:
    clock, ticks = SimClock(math.inf), []

    async def other() -> None:
        ticks.append(1)

    task = asyncio.create_task(other())
    await clock.sleep(3600)
    assert ticks == [1]
    await task


def test_settings_precedence_file_env_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "lab.yaml"
    config.write_text(
        "seed: 3\nacceleration: .inf\ncycler:\n  channels: 500\n  command_port: 6000\n"
    )
    assert load_sim_settings(config).cycler.channels == 500
    assert math.isinf(load_sim_settings(config).acceleration)
    monkeypatch.setenv("VOLTLAB_SIM_CYCLER__COMMAND_PORT", "6100")
    assert load_sim_settings(config).cycler.command_port == 6100
    assert load_sim_settings(config, cycler={"command_port": 6200}).cycler.command_port == 6200
    assert load_sim_settings(config).seed == 3


def test_settings_refuse_unknown_keys_and_missing_files(tmp_path: Path) -> None:
    config = tmp_path / "typo.yaml"
    config.write_text("cycler:\n  channnels: 8\n")
    with pytest.raises(ValidationError, match="channnels"):
        load_sim_settings(config)
    with pytest.raises(FileNotFoundError, match=r"nope\.yaml"):
        load_sim_settings(tmp_path / "nope.yaml")


def test_registry_is_shared_through_its_file(tmp_path: Path) -> None:
    path = tmp_path / "samples.sqlite"
    writer, reader = SampleRegistry(path), SampleRegistry(path)
    product = make_product(RECIPE, np.random.default_rng(0))
    writer.add_powder(Powder("powder-1", RECIPE, product, 5.0))
    writer.add_cell("cell-1", "powder-1")
    got = reader.cell_powder("cell-1")
    assert got.product == product and got.recipe == RECIPE and got.mass_g == 5.0
    with pytest.raises(UnknownSampleError, match="powder-9"):
        reader.powder("powder-9")
    with pytest.raises(UnknownSampleError, match="cell-9"):
        reader.cell_powder("cell-9")
    with pytest.raises(UnknownSampleError):
        writer.add_cell("cell-2", "powder-9")
    writer.close()
    reader.close()


def test_context_rng_depends_on_seed_and_keys(tmp_path: Path) -> None:
    lab = LabContext.from_settings(load_sim_settings(state_dir=tmp_path, seed=1))
    other = LabContext.from_settings(load_sim_settings(state_dir=tmp_path / "b", seed=2))
    draw = lab.rng("synthesis", "job-1").random()
    assert draw == lab.rng("synthesis", "job-1").random()
    assert draw != lab.rng("synthesis", "job-2").random()
    assert draw != other.rng("synthesis", "job-1").random()
    lab.close()
    other.close()
