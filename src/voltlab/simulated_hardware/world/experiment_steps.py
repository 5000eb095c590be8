"""Cycling protocols as PyBaMM experiment step strings, grouped in blocks of identical cycles.

Galvanostatic: CC charge at ``charge_c_rate`` to ``v_max``, CV hold to ``cv_cutoff_c_rate``, rest,
CC discharge to ``v_min``, rest; the first ``formation_cycles`` use ``formation_c_rate`` both ways.

Fast charge (after Attia et al. 2020): CC1 for 0-20 % SOC, CC2 for 20-40 %, CC3 for 40-80 %, each a
timed step that also stops at ``v_max``; then, as in Attia's protocol, a 1C CC-CV top-up to
``v_max`` (CV to C/20) so the discharge capacity measures the cell, not the charge acceptance; rest;
CC discharge to ``v_min`` and a CV hold at ``v_min`` to C/20 so every charge starts from the same
empty state; rest. Step indices: 0-2 CC1-CC3, 3-4 top-up, then rest, discharge, hold, rest.
"""

from dataclasses import dataclass

from voltlab.protocol.cycler import CyclingProtocol, FastChargeCycling, GalvanostaticCycling

# Long protocols are solved in blocks of at most this many cycles, each started from the last
# state of the previous one, so memory stays bounded (about 0.5 GB per 300 cycles otherwise).
MAX_BLOCK_CYCLES = 50
HOLD_CUTOFF_C_RATE = 0.05
TOP_UP_C_RATE = 1.0


@dataclass(frozen=True)
class Block:
    steps: tuple[str, ...]
    cycles: int


def _rate(c_rate: float) -> str:
    return f"{c_rate:.6g}C"


def _rest(minutes: float) -> tuple[str, ...]:
    return (f"Rest for {minutes * 60.0:.6g} seconds",) if minutes > 0 else ()


def _galvanostatic_cycle(
    p: GalvanostaticCycling, charge: float, discharge: float
) -> tuple[str, ...]:
    return (
        f"Charge at {_rate(charge)} until {p.v_max:.6g} V",
        f"Hold at {p.v_max:.6g} V until {_rate(p.cv_cutoff_c_rate)}",
        *_rest(p.rest_min),
        f"Discharge at {_rate(discharge)} until {p.v_min:.6g} V",
        *_rest(p.rest_min),
    )


def _fast_charge_cycle(p: FastChargeCycling) -> tuple[str, ...]:
    stages = ((p.cc1_c_rate, 0.2), (p.cc2_c_rate, 0.2), (p.cc3_c_rate(), 0.4))
    charge = tuple(
        f"Charge at {_rate(rate)} for {soc / rate * 3600.0:.6g} seconds or until {p.v_max:.6g} V"
        for rate, soc in stages
    )
    return (
        *charge,
        f"Charge at {_rate(TOP_UP_C_RATE)} until {p.v_max:.6g} V",
        f"Hold at {p.v_max:.6g} V until {_rate(HOLD_CUTOFF_C_RATE)}",
        *_rest(p.rest_min),
        f"Discharge at {_rate(p.discharge_c_rate)} until {p.v_min:.6g} V",
        f"Hold at {p.v_min:.6g} V until {_rate(HOLD_CUTOFF_C_RATE)}",
        *_rest(p.rest_min),
    )


def protocol_blocks(protocol: CyclingProtocol) -> list[Block]:
    """The protocol's cycles in order, as blocks of at most MAX_BLOCK_CYCLES identical cycles."""
    if isinstance(protocol, GalvanostaticCycling):
        formation = protocol.formation_cycles
        runs = [
            (
                _galvanostatic_cycle(
                    protocol, protocol.formation_c_rate, protocol.formation_c_rate
                ),
                formation,
            ),
            (
                _galvanostatic_cycle(protocol, protocol.charge_c_rate, protocol.discharge_c_rate),
                protocol.cycles - formation,
            ),
        ]
    else:
        runs = [(_fast_charge_cycle(protocol), protocol.cycles)]
    blocks = []
    for steps, cycles in runs:
        while cycles > 0:
            size = min(cycles, MAX_BLOCK_CYCLES)
            blocks.append(Block(steps, size))
            cycles -= size
    return blocks
