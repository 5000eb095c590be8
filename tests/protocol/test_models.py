"""Schema checks of recipes and instrument commands."""

import pytest
from pydantic import ValidationError

from voltlab.protocol import Recipe
from voltlab.protocol.cycler import (
    FastChargeCycling,
    GalvanostaticCycling,
    PointBatch,
    StartParams,
    pack_points,
    point_topic,
    unpack_points,
)
from voltlab.protocol.xrd import MeasureParams

GOOD = dict(
    ni=0.6, mn=0.2, co=0.2, li_excess=0.03, calcination_temperature_c=800, calcination_time_h=10
)


def test_recipe_composition_must_sum_to_one() -> None:
    with pytest.raises(ValidationError, match="ni \\+ mn \\+ co must equal 1"):
        Recipe.model_validate(GOOD | {"ni": 0.7})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("li_excess", -0.1),
        ("calcination_time_h", 0),
        ("dopant", "Zr"),
        ("ni", "lots"),
        ("colour", "red"),
    ],
)
def test_recipe_rejects_bad_fields_by_name(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as info:
        Recipe.model_validate(GOOD | {field: value})
    assert field in str(info.value)


def test_dopant_fraction_needs_a_dopant() -> None:
    with pytest.raises(ValidationError, match="dopant_fraction must be 0"):
        Recipe.model_validate(GOOD | {"dopant_fraction": 0.01})


def test_fast_charge_derives_cc3_and_refuses_impossible_protocols() -> None:
    protocol = FastChargeCycling(cycles=10, cc1_c_rate=6.0, cc2_c_rate=4.0, charge_time_min=10.0)
    # 0.2/6 h + 0.2/4 h = 5 min, leaving 5 min for 40 % SOC: 4.8C.
    assert protocol.cc3_c_rate() == pytest.approx(4.8)
    with pytest.raises(ValidationError, match="leave no time for CC3"):
        FastChargeCycling(cycles=10, cc1_c_rate=2.0, cc2_c_rate=2.0, charge_time_min=10.0)


def test_galvanostatic_voltage_window_is_ordered() -> None:
    with pytest.raises(ValidationError, match="v_min"):
        GalvanostaticCycling(cycles=5, charge_c_rate=1, discharge_c_rate=1, v_min=4.3, v_max=3.0)


def test_start_params_pick_the_protocol_by_kind() -> None:
    params = StartParams.model_validate(
        {
            "channel": 2,
            "job_id": "job-1",
            "cell": {"cell_id": "cell-1", "sample_id": None},
            "protocol": {"kind": "fast_charge", "cycles": 5, "cc1_c_rate": 5, "cc2_c_rate": 5},
        }
    )
    assert isinstance(params.protocol, FastChargeCycling)
    with pytest.raises(ValidationError, match="job_id"):
        StartParams.model_validate(params.model_dump() | {"job_id": "no spaces allowed"})


def test_point_batches_pack_and_unpack() -> None:
    batch = PointBatch(
        job_id="j",
        channel=4,
        first_seq=10,
        time_s=[0.0, 30.0],
        voltage_v=[3.7, 3.8],
        current_a=[-0.001, -0.001],
        capacity_ah=[0.0, 1e-5],
        cycle=[1, 1],
        step=[0, 0],
    )
    assert unpack_points(pack_points(batch)) == batch
    assert len(batch) == 2
    assert point_topic(4) == b"cycler.ch004"


def test_measure_params_count_points_and_order_the_range() -> None:
    params = MeasureParams(
        job_id="x", two_theta_start=10, two_theta_stop=80, step=0.02, count_time_s=0.5
    )
    assert params.n_points == 3501
    with pytest.raises(ValidationError, match="two_theta_stop"):
        MeasureParams(
            job_id="x", two_theta_start=80, two_theta_stop=10, step=0.02, count_time_s=0.5
        )
