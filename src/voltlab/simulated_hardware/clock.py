"""Time acceleration: simulated instruments run ``acceleration`` times faster than wall time.

``acceleration = inf`` runs as fast as possible: sleeps become a bare yield to the event loop,
so other clients are still served while a long job streams.
"""

import asyncio
import math


class SimClock:
    def __init__(self, acceleration: float = 1.0) -> None:
        if not acceleration > 0:
            raise ValueError(f"acceleration must be positive (or inf), got {acceleration}")
        self.acceleration = acceleration

    @property
    def unbounded(self) -> bool:
        return math.isinf(self.acceleration)

    def wall_seconds(self, sim_seconds: float) -> float:
        """Wall-clock seconds that ``sim_seconds`` of instrument time take."""
        return 0.0 if self.unbounded else max(0.0, sim_seconds) / self.acceleration

    async def sleep(self, sim_seconds: float) -> None:
        await asyncio.sleep(self.wall_seconds(sim_seconds))
