"""The cycler channel's safety interlocks: a protocol outside them is refused before it starts."""

from voltlab.protocol import ErrorCode, ProtocolError
from voltlab.protocol.cycler import CyclingProtocol, GalvanostaticCycling
from voltlab.simulated_hardware.config import CyclerSettings


def c_rates(protocol: CyclingProtocol) -> dict[str, float]:
    """Every C-rate the protocol drives the cell at, by the protocol field that sets it."""
    if isinstance(protocol, GalvanostaticCycling):
        rates = {
            "charge_c_rate": protocol.charge_c_rate,
            "discharge_c_rate": protocol.discharge_c_rate,
        }
        if protocol.formation_cycles:
            rates["formation_c_rate"] = protocol.formation_c_rate
        return rates
    return {
        "cc1_c_rate": protocol.cc1_c_rate,
        "cc2_c_rate": protocol.cc2_c_rate,
        "cc3_c_rate": protocol.cc3_c_rate(),
        "discharge_c_rate": protocol.discharge_c_rate,
    }


def check_interlocks(
    protocol: CyclingProtocol, nominal_capacity_ah: float, limits: CyclerSettings
) -> None:
    """Raise INTERLOCK naming the offending value and the limit it breaks."""
    if protocol.v_max > limits.v_max_limit:
        _refuse(
            "v_max",
            f"v_max {protocol.v_max:g} V is above the channel's v_max_limit "
            f"{limits.v_max_limit:g} V",
        )
    if protocol.v_min < limits.v_min_limit:
        _refuse(
            "v_min",
            f"v_min {protocol.v_min:g} V is below the channel's v_min_limit "
            f"{limits.v_min_limit:g} V",
        )
    for name, rate in c_rates(protocol).items():
        if rate > limits.max_c_rate:
            _refuse(
                name, f"{name} {rate:.3g}C is above the channel's max_c_rate {limits.max_c_rate:g}C"
            )
        current_a = rate * nominal_capacity_ah
        if current_a > limits.max_current_a:
            _refuse(
                name,
                f"{name} {rate:.3g}C on this {nominal_capacity_ah * 1000:.3g} mAh cell is "
                f"{current_a:.4g} A, above the channel's max_current_a {limits.max_current_a:g} A",
            )


def _refuse(field: str, message: str) -> None:
    raise ProtocolError(ErrorCode.INTERLOCK, message, field=f"params.protocol.{field}")
