"""The contract between the cell model and the cycler that streams its output."""

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from voltlab.protocol.cycler import CyclingProtocol
from voltlab.simulated_hardware.world.cell_descriptors import CellDescriptors

CELL_CATHODE_MASS_G = 0.015
"""Active cathode mass of a robot-built coin cell, g (the robot reports it with the cell)."""


@dataclass(frozen=True)
class CellSpec:
    """One physical cell: its cathode's descriptors, active mass (g) and identity.

    ``cell_id`` seeds cell-to-cell variation, so two cells of one powder differ a little.
    """

    cell_id: str
    descriptors: CellDescriptors
    cathode_mass_g: float = CELL_CATHODE_MASS_G

    @property
    def nominal_capacity_ah(self) -> float:
        return self.cathode_mass_g * self.descriptors.specific_capacity_mah_g / 1000.0


@dataclass(frozen=True)
class CellTrace:
    """Everything a cycler channel records for one cell under one protocol, columnar.

    Units: time s from the job start, voltage V, current A (positive = discharge), capacity Ah
    passed within the current step, cycle from 1, step index within the cycle (0-based).
    """

    time_s: np.ndarray
    voltage_v: np.ndarray
    current_a: np.ndarray
    capacity_ah: np.ndarray
    cycle: np.ndarray
    step: np.ndarray
    nominal_capacity_ah: float

    def __len__(self) -> int:
        return len(self.time_s)


class CellSimulator(Protocol):
    def simulate(self, spec: CellSpec, protocol: CyclingProtocol) -> CellTrace:
        """Run (or load from cache) the whole protocol; blocking and CPU-heavy."""
        ...
