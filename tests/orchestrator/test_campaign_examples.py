"""The example campaigns load, give the planners a Problem, and turn points into valid recipes
and protocols; the cost model agrees with the simulated lab's."""

from pathlib import Path

import pytest

from voltlab.drivers import CyclerConfig, DriverConfig
from voltlab.orchestrator.campaign import (
    METRICS,
    STEP_KINDS,
    Campaign,
    CostModel,
    load_campaign,
)
from voltlab.orchestrator.errors import CampaignError
from voltlab.planners import BoTorchPlanner, Problem, SobolPlanner
from voltlab.protocol import Dopant, Recipe
from voltlab.protocol.cycler import FastChargeCycling, GalvanostaticCycling
from voltlab.simulated_hardware.config import SimSettings
from voltlab.simulated_hardware.world.cell_descriptors import material_cost_usd_per_kg

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.fixture(scope="module")
def discovery() -> Campaign:
    return load_campaign(EXAMPLES / "cathode_discovery.yaml")


@pytest.fixture(scope="module")
def fast_charge() -> Campaign:
    return load_campaign(EXAMPLES / "fast_charge.yaml")


def test_discovery_problem_matches_the_design(discovery: Campaign) -> None:
    problem = discovery.problem()
    assert isinstance(problem, Problem)
    assert [(o.name, o.direction) for o in problem.objectives] == [
        ("capacity", "maximise"),
        ("retention", "maximise"),
        ("cost", "minimise"),
    ]
    assert problem.reference_point == {"capacity": 120.0, "retention": 0.70, "cost": 25.0}
    (layered,) = problem.constraints
    assert (layered.name, layered.lower, layered.upper) == ("layered", 0.95, None)
    assert discovery.step_kinds() == [
        "synthesize",
        "xrd",
        "gate",
        "assemble_cell",
        "cycle",
        "analyse",
    ]
    assert discovery.outcome_metrics["layered"] == "xrd.layered_fraction"
    assert (discovery.seed, discovery.budget.experiments, discovery.planner.kind) == (
        1,
        24,
        "botorch",
    )
    assert (discovery.concurrency.mode, discovery.concurrency.max_in_flight) == ("async", 4)
    assert all(discovery.needs(i) for i in ("robot", "cycler", "xrd"))


def test_discovery_instruments_are_the_simulated_lab_defaults(discovery: Campaign) -> None:
    sim = SimSettings()
    robot = sim.robot
    assert discovery.instruments.robot is not None
    assert discovery.instruments.robot.url == (
        f"opc.tcp://{robot.host}:{robot.port}{robot.endpoint_path}"
    )
    assert discovery.instruments.cycler is not None
    assert (
        discovery.instruments.cycler.endpoint
        == f"tcp://{sim.cycler.host}:{sim.cycler.command_port}"
    )
    assert discovery.instruments.cycler.stream_endpoint == (
        f"tcp://{sim.cycler.host}:{sim.cycler.stream_port}"
    )
    assert discovery.instruments.xrd is not None
    assert discovery.instruments.xrd.endpoint == f"tcp://{sim.xrd.host}:{sim.xrd.port}"


def test_planner_suggestions_become_valid_recipes(discovery: Campaign) -> None:
    planner = SobolPlanner(discovery.problem(), seed=discovery.seed)
    suggestions = planner.ask(8)
    for suggestion in suggestions:
        point = suggestion.parameters
        recipe = discovery.recipe_for(point)
        assert isinstance(recipe, Recipe)
        assert recipe.ni == pytest.approx(point["ni"])
        assert recipe.calcination_temperature_c == pytest.approx(point["calcination_temperature_c"])
        assert recipe.dopant.value == point["dopant"]
        expected_fraction = 0.0 if point["dopant"] == "none" else point["dopant_fraction"]
        assert recipe.dopant_fraction == pytest.approx(expected_fraction)
        protocol = discovery.protocol_for(point)
        assert isinstance(protocol, GalvanostaticCycling)
        assert (protocol.cycles, protocol.formation_c_rate, protocol.v_max) == (50, 0.1, 4.2)


def test_dopant_none_zeroes_the_fraction_a_recipe_would_refuse(discovery: Campaign) -> None:
    point = discovery.space.decode([0.5] * discovery.space.dim)
    point.update(dopant="none", dopant_fraction=0.02)
    assert discovery.recipe_for(point).dopant_fraction == 0.0
    point["dopant"] = "Al"
    recipe = discovery.recipe_for(point)
    assert (recipe.dopant, recipe.dopant_fraction) == (Dopant.AL, 0.02)


def test_recipe_for_names_the_bad_field(discovery: Campaign) -> None:
    point = discovery.space.decode([0.5] * discovery.space.dim)
    with pytest.raises(CampaignError, match=r"calcination_temperature_c.*outside"):
        discovery.recipe_for({**point, "calcination_temperature_c": 1200.0})
    with pytest.raises(CampaignError, match=r"missing parameter 'dopant'"):
        discovery.recipe_for({k: v for k, v in point.items() if k != "dopant"})


def test_fast_charge_protocols_stay_under_the_cycler_rate_limit(fast_charge: Campaign) -> None:
    assert not fast_charge.needs("robot")
    assert fast_charge.needs("cycler")
    assert fast_charge.resources.cycler_channels == list(range(16))
    assert fast_charge.concurrency.max_in_flight == 16
    max_c_rate = SimSettings().cycler.max_c_rate
    for cc1 in (3.6, 5.0, 8.0):
        for cc2 in (3.6, 6.5, 8.0):
            protocol = fast_charge.protocol_for({"cc1_c_rate": cc1, "cc2_c_rate": cc2})
            assert isinstance(protocol, FastChargeCycling)
            assert protocol.cycles >= 100
            assert 0 < protocol.cc3_c_rate() <= max_c_rate
    with pytest.raises(CampaignError, match="no synthesize step"):
        fast_charge.recipe_for({"cc1_c_rate": 5.0, "cc2_c_rate": 5.0})


def test_fast_charge_problem_builds_a_botorch_planner(fast_charge: Campaign) -> None:
    planner = BoTorchPlanner(
        fast_charge.problem(), seed=fast_charge.seed, options=fast_charge.planner.botorch_options()
    )
    (suggestion,) = planner.ask(1)
    assert set(suggestion.parameters) == {"cc1_c_rate", "cc2_c_rate"}
    assert fast_charge.problem().reference_point is None


def test_with_instruments_repoints_and_rechecks(discovery: Campaign) -> None:
    assert discovery.instruments.cycler is not None
    moved_cycler = CyclerConfig(
        endpoint="tcp://127.0.0.1:6001", stream_endpoint="tcp://127.0.0.1:6002"
    )
    moved = discovery.with_instruments(
        discovery.instruments.model_copy(update={"cycler": moved_cycler})
    )
    assert moved.instruments.cycler == moved_cycler
    assert moved.workflow == discovery.workflow
    assert discovery.instruments.cycler.endpoint == "tcp://127.0.0.1:5555"
    with pytest.raises(CampaignError, match=r"instruments\.xrd: not configured.*workflow\[1\]"):
        discovery.with_instruments(
            DriverConfig(robot=discovery.instruments.robot, cycler=moved_cycler)
        )


def test_needs_refuses_unknown_instruments(discovery: Campaign) -> None:
    with pytest.raises(CampaignError, match=r"allowed: robot, cycler, xrd"):
        discovery.needs("furnace")


def test_every_metric_comes_from_a_workflow_step() -> None:
    assert {info.step for info in METRICS.values()} <= set(STEP_KINDS)
    assert {name.split(".")[0] for name in METRICS} == {"xrd", "cycling", "recipe"}


@pytest.mark.parametrize(
    "recipe",
    [
        Recipe(
            ni=0.8,
            mn=0.1,
            co=0.1,
            li_excess=0.05,
            calcination_temperature_c=780.0,
            calcination_time_h=12.0,
        ),
        Recipe(
            ni=1 / 3,
            mn=1 / 3,
            co=1 / 3,
            li_excess=0.0,
            calcination_temperature_c=950.0,
            calcination_time_h=2.0,
            dopant="Al",
            dopant_fraction=0.02,
        ),
        Recipe(
            ni=0.6,
            mn=0.4,
            co=0.0,
            li_excess=0.1,
            calcination_temperature_c=650.0,
            calcination_time_h=24.0,
            dopant="Ti",
            dopant_fraction=0.03,
        ),
        Recipe(
            ni=0.5,
            mn=0.2,
            co=0.3,
            li_excess=0.02,
            calcination_temperature_c=870.0,
            calcination_time_h=6.0,
            dopant="Mg",
            dopant_fraction=0.01,
        ),
    ],
)
def test_cost_model_matches_the_simulated_lab(recipe: Recipe) -> None:
    assert CostModel().material_cost_usd_kg(recipe) == pytest.approx(
        material_cost_usd_per_kg(recipe), rel=1e-12
    )


def test_cost_model_prices_override_the_defaults_per_element() -> None:
    recipe = Recipe(
        ni=0.6,
        mn=0.2,
        co=0.2,
        li_excess=0.05,
        calcination_temperature_c=800.0,
        calcination_time_h=10.0,
    )
    cheap_cobalt = CostModel(prices={"Co": 25.0})
    assert cheap_cobalt.prices["Ni"] == 16.0
    assert cheap_cobalt.material_cost_usd_kg(recipe) < CostModel().material_cost_usd_kg(recipe)
    no_firing = CostModel(firing_usd_per_kg_per_kilo_degree_hour=0.0)
    firing = CostModel().material_cost_usd_kg(recipe) - no_firing.material_cost_usd_kg(recipe)
    assert firing == pytest.approx(0.12 * 0.775 * 10.0)
    with pytest.raises(ValueError, match=r"allowed: Ni, Mn, Co, Li, Al, Mg, Ti"):
        CostModel(prices={"Fe": 1.0})
