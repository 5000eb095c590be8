"""What every simulated instrument shares: settings, the sample registry, faults and the clock."""

import hashlib
from dataclasses import dataclass

import numpy as np

from voltlab.simulated_hardware.clock import SimClock
from voltlab.simulated_hardware.config import SimSettings
from voltlab.simulated_hardware.faults import FaultInjector
from voltlab.simulated_hardware.registry import SampleRegistry


@dataclass
class LabContext:
    settings: SimSettings
    registry: SampleRegistry
    faults: FaultInjector
    clock: SimClock

    @classmethod
    def from_settings(cls, settings: SimSettings) -> "LabContext":
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        return cls(
            settings=settings,
            registry=SampleRegistry(settings.registry_path),
            faults=FaultInjector(settings.faults),
            clock=SimClock(settings.acceleration),
        )

    def rng(self, *keys: str) -> np.random.Generator:
        """A generator seeded by the world seed and ``keys`` (e.g. a job id): the same job always
        draws the same noise, in any process, whatever ran before it."""
        digest = hashlib.sha256("\x1f".join([str(self.settings.seed), *keys]).encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:8], "little"))

    def close(self) -> None:
        self.registry.close()
