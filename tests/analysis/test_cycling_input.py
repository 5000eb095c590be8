"""Bad cycling input is refused with an error naming the problem, never a silent number."""

import numpy as np
import pandas as pd
import pytest

from voltlab.analysis.cycling import (
    CyclingAnalysisError,
    CyclingPoints,
    IncrementalCycleMetrics,
    capacity_curve,
    cycle_metrics,
    dqdv,
    fade_summary,
    metrics_frame,
)
from voltlab.errors import VoltlabError


def points(n: int = 10, **override: np.ndarray) -> CyclingPoints:
    columns = {
        "time_s": np.arange(n, dtype=float),
        "voltage_v": np.linspace(4.0, 3.0, n),
        "current_a": np.full(n, 0.001),
        "cycle": np.ones(n, dtype=int),
    }
    columns.update(override)
    return CyclingPoints(**columns)


def test_error_is_a_voltlab_and_value_error():
    assert issubclass(CyclingAnalysisError, VoltlabError)
    assert issubclass(CyclingAnalysisError, ValueError)


def test_empty_data_is_refused():
    with pytest.raises(CyclingAnalysisError, match="no points"):
        cycle_metrics(points(0))
    with pytest.raises(CyclingAnalysisError, match="no cycles"):
        metrics_frame([])


@pytest.mark.parametrize("column", ["time_s", "voltage_v", "current_a", "cycle"])
def test_nan_is_refused_naming_the_column_and_index(column):
    values = getattr(points(), column).astype(float).copy()
    values[4] = np.nan
    with pytest.raises(CyclingAnalysisError, match=f"{column} has 1 non-finite value.*index 4"):
        points(**{column: values})


def test_time_running_backwards_is_refused():
    t = np.arange(10.0)
    t[6] = 2.0
    with pytest.raises(CyclingAnalysisError, match="time_s decreases at index 6"):
        points(time_s=t)


def test_cycle_numbers_going_down_are_refused():
    with pytest.raises(CyclingAnalysisError, match="cycle decreases at index 5"):
        points(cycle=np.array([1, 1, 1, 2, 2, 1, 1, 2, 2, 2]))


def test_ragged_and_fractional_columns_are_refused():
    with pytest.raises(CyclingAnalysisError, match="differ in length"):
        points(voltage_v=np.ones(9))
    with pytest.raises(CyclingAnalysisError, match="whole numbers"):
        points(cycle=np.full(10, 1.5))
    with pytest.raises(CyclingAnalysisError, match="not numeric"):
        points(voltage_v=np.array(["a"] * 10))


def test_frame_needs_the_columns():
    with pytest.raises(CyclingAnalysisError, match="lacks column"):
        CyclingPoints.from_frame(pd.DataFrame({"time_s": [0.0], "voltage_v": [3.0]}))
    p = points()
    frame = pd.DataFrame({c: getattr(p, c) for c in ("time_s", "voltage_v", "current_a", "cycle")})
    loaded = CyclingPoints.from_frame(frame)
    for column in ("time_s", "voltage_v", "current_a", "cycle"):
        np.testing.assert_array_equal(getattr(loaded, column), getattr(p, column))


def test_stream_refuses_a_batch_from_the_past_and_feeds_after_finish():
    stream = IncrementalCycleMetrics()
    stream.feed(points(10, cycle=np.full(10, 3)))
    with pytest.raises(CyclingAnalysisError, match="before the previous batch ended"):
        stream.feed(points(10, time_s=np.arange(5.0, 15.0), cycle=np.full(10, 3)))
    with pytest.raises(CyclingAnalysisError, match="before the previous batch ended"):
        stream.feed(points(10, time_s=np.arange(20.0, 30.0), cycle=np.full(10, 2)))
    assert stream.feed(points(0)) == []
    stream.finish()
    with pytest.raises(CyclingAnalysisError, match="after finish"):
        stream.feed(points(10, time_s=np.arange(40.0, 50.0), cycle=np.full(10, 4)))


def test_bad_settings_are_refused():
    with pytest.raises(CyclingAnalysisError, match="active_mass_g"):
        IncrementalCycleMetrics(active_mass_g=0.0)
    with pytest.raises(CyclingAnalysisError, match="rest_current_a"):
        IncrementalCycleMetrics(rest_current_a=-1.0)


def test_curves_need_one_cycle_with_that_half():
    with pytest.raises(CyclingAnalysisError, match="one cycle"):
        capacity_curve(points(cycle=np.array([1] * 5 + [2] * 5)))
    with pytest.raises(CyclingAnalysisError, match="no charge"):
        capacity_curve(points(), "charge")
    flat = points(voltage_v=np.full(10, 3.5))
    with pytest.raises(CyclingAnalysisError, match="1 points with moving voltage"):
        capacity_curve(flat)
    narrow = capacity_curve(points(voltage_v=np.linspace(3.50, 3.48, 10)))
    with pytest.raises(CyclingAnalysisError, match="too narrow"):
        dqdv(narrow)
    with pytest.raises(CyclingAnalysisError, match="spans"):
        narrow.on_grid(np.linspace(3.0, 3.5, 5))


def test_fade_needs_a_complete_reference_and_enough_cycles():
    one = cycle_metrics(points())  # discharge only: incomplete
    with pytest.raises(CyclingAnalysisError, match="reference cycle 1 is incomplete"):
        fade_summary(one)
    with pytest.raises(CyclingAnalysisError, match="reference cycle 7 is absent"):
        fade_summary(one, reference_cycle=7)
    with pytest.raises(CyclingAnalysisError, match="threshold"):
        fade_summary(one, threshold=1.5)
