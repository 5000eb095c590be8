"""Deterministic fault injection for the simulated instruments.

Each decision depends only on the seed, the operation's name and how many times that operation
has been seen, so a campaign replayed with the same seed meets the same faults at the same
places regardless of how operations of different kinds interleave. Tests can also schedule a
fault for the next matching operation, and every injected fault is logged for observation.
"""

import logging
import random
import threading
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

log = logging.getLogger(__name__)


class FaultKind(StrEnum):
    DISCONNECT = "disconnect"
    """The server drops its connections (closes and rebinds)."""
    TIMEOUT = "timeout"
    """The command gets no reply."""
    DEVICE_ERROR = "device_error"
    """The device enters its error state: the running job fails, commands are refused until reset."""
    STUCK_JOB = "stuck_job"
    """The job stays running with frozen progress until stopped or aborted."""
    CORRUPT_MESSAGE = "corrupt_message"
    """Reply or streamed message bytes are garbled."""
    TRUNCATED_MESSAGE = "truncated_message"
    """Reply or streamed message is cut short."""
    FAILED_SYNTHESIS = "failed_synthesis"
    """A synthesis ends in the failed state with a reason (cracked crucible, furnace trip)."""


class FaultConfig(BaseModel):
    """Probability per operation of each fault kind, and the seed that makes them repeatable."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    rates: dict[FaultKind, float] = Field(default_factory=dict)

    @field_validator("rates")
    @classmethod
    def _rates_are_probabilities(cls, rates: dict[FaultKind, float]) -> dict[FaultKind, float]:
        for kind, rate in rates.items():
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"fault rate for {kind} must be within [0, 1], got {rate}")
        if sum(rates.values()) > 1.0:
            raise ValueError(f"fault rates add up to {sum(rates.values())}, more than 1")
        return rates


@dataclass(frozen=True)
class InjectedFault:
    kind: FaultKind
    operation: str
    occurrence: int


class FaultInjector:
    """Decides, per operation, whether a fault of an applicable kind happens. Thread-safe."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._config = config or FaultConfig()
        self._seen: Counter[str] = Counter()
        self._scheduled: list[tuple[FaultKind, str | None]] = []
        self._lock = threading.Lock()
        self.injected: list[InjectedFault] = []

    def schedule(self, kind: FaultKind, operation: str | None = None, count: int = 1) -> None:
        """Force ``kind`` on the next ``count`` operations named ``operation`` (any if None)
        that can suffer it."""
        with self._lock:
            self._scheduled.extend([(kind, operation)] * count)

    def draw(self, operation: str, kinds: Collection[FaultKind]) -> FaultKind | None:
        """The fault (if any) that hits this occurrence of ``operation``, among ``kinds``."""
        with self._lock:
            self._seen[operation] += 1
            occurrence = self._seen[operation]
            kind = self._take_scheduled(operation, kinds) or self._draw_random(
                operation, occurrence, kinds
            )
            if kind is not None:
                self.injected.append(InjectedFault(kind, operation, occurrence))
        if kind is not None:
            log.warning("injecting fault %s into %s #%d", kind, operation, occurrence)
        return kind

    def _take_scheduled(self, operation: str, kinds: Collection[FaultKind]) -> FaultKind | None:
        for i, (kind, wanted) in enumerate(self._scheduled):
            if kind in kinds and wanted in (None, operation):
                del self._scheduled[i]
                return kind
        return None

    def _draw_random(
        self, operation: str, occurrence: int, kinds: Collection[FaultKind]
    ) -> FaultKind | None:
        rates = [(k, self._config.rates.get(k, 0.0)) for k in sorted(kinds)]
        if not any(rate for _, rate in rates):
            return None
        u = random.Random(f"{self._config.seed}:{operation}:{occurrence}").random()
        for kind, rate in rates:
            if u < rate:
                return kind
            u -= rate
        return None
