"""Every way a campaign file can be wrong gives one CampaignError naming the file, the field as a
dotted path, and the allowed values where there is a closed set."""

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from voltlab.orchestrator.campaign import STEP_KINDS, load_campaign, parse_campaign
from voltlab.orchestrator.errors import CampaignError

EXAMPLES = Path(__file__).parents[2] / "examples"
Data = dict[str, Any]


def _example(name: str) -> Data:
    return yaml.safe_load((EXAMPLES / name).read_text())


DISCOVERY = _example("cathode_discovery.yaml")
FAST_CHARGE = _example("fast_charge.yaml")


def problems_of(tmp_path: Path, edit: Callable[[Data], object], base: Data = DISCOVERY) -> str:
    """Write the example changed by ``edit`` to a file; the load error's message."""
    data = copy.deepcopy(base)
    edit(data)
    path = tmp_path / "lab" / "campaign.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(CampaignError) as info:
        load_campaign(path)
    message = str(info.value)
    assert message.startswith(f"{path}: invalid campaign")
    return message


def has_line(message: str, field: str, *parts: str) -> bool:
    """Whether a line of ``message`` is ``field: ...`` containing every part."""
    lines = [line.strip() for line in message.splitlines()[1:]]
    return any(line.startswith(f"{field}: ") and all(p in line for p in parts) for line in lines)


def test_unknown_step_kind_lists_the_kinds(tmp_path: Path) -> None:
    message = problems_of(tmp_path, lambda d: d["workflow"][1].update(step="measure"))
    allowed = "allowed: synthesize, xrd, gate, assemble_cell, cycle, analyse"
    assert has_line(message, "workflow[1]", "'measure'", allowed)
    assert ", ".join(STEP_KINDS) in allowed


def test_missing_step_key_lists_the_kinds(tmp_path: Path) -> None:
    message = problems_of(tmp_path, lambda d: d["workflow"][1].pop("step"))
    assert has_line(message, "workflow[1]", "'step'", "allowed: synthesize, xrd")


def test_unknown_keys_list_the_section_keys(tmp_path: Path) -> None:
    message = problems_of(tmp_path, lambda d: d.update(budjet={"experiments": 3}))
    assert has_line(message, "budjet", "unknown key", "allowed: name, description, seed, space")
    message = problems_of(tmp_path, lambda d: d["workflow"][1].update(two_theta_end=90.0))
    assert has_line(
        message,
        "workflow[1].two_theta_end",
        "unknown key",
        "allowed: step, two_theta_start, two_theta_stop, step_deg, count_time_s",
    )
    message = problems_of(
        tmp_path, lambda d: d["space"]["parameters"][0]["components"][1].update(low=0.1)
    )
    assert has_line(message, "space.parameters[0].components[1].low", "name, lower, upper")
    message = problems_of(tmp_path, lambda d: d["instruments"]["cycler"].update(port=5555))
    assert has_line(message, "instruments.cycler.port", "unknown key", "stream_endpoint")


def test_bad_direction_lists_both_spellings_accepted(tmp_path: Path) -> None:
    message = problems_of(tmp_path, lambda d: d["objectives"][0].update(direction="up"))
    assert has_line(message, "objectives[0].direction", "'up'", "allowed: maximise, minimise")
    data = copy.deepcopy(DISCOVERY)
    data["objectives"][0]["direction"] = "maximize"
    data["objectives"][2]["direction"] = "minimize"
    campaign = parse_campaign(yaml.safe_dump(data))
    assert [o.direction for o in campaign.problem().objectives] == [
        "maximise",
        "maximise",
        "minimise",
    ]


def test_unknown_parameter_kind_and_level(tmp_path: Path) -> None:
    message = problems_of(tmp_path, lambda d: d["space"]["parameters"][1].update(kind="real"))
    assert has_line(
        message, "space.parameters[1]", "'real'", "allowed: continuous, integer, categorical"
    )
    message = problems_of(
        tmp_path, lambda d: d["space"]["parameters"][4].update(levels=["none", "Fe"])
    )
    assert has_line(message, "space.parameters[4]", "'Fe'", "allowed: none, Al, Mg, Ti")


def test_metric_whose_step_is_missing(tmp_path: Path) -> None:
    def drop_xrd_and_gate(d: Data) -> None:
        del d["workflow"][1:3]

    message = problems_of(tmp_path, drop_xrd_and_gate)
    assert has_line(
        message, "constraints[0].metric", "'layered'", "xrd.layered_fraction", "xrd step"
    )
    message = problems_of(tmp_path, lambda d: d["workflow"][2].update(metric="cycling.retention"))
    assert has_line(message, "workflow[2].metric", "cycling.retention", "cycle step", "earlier")

    def cycler_only_with_cost(d: Data) -> None:
        d["objectives"][1] = {"name": "cost", "metric": "recipe.material_cost_usd_kg"}
        d["objectives"][1]["direction"] = "minimise"

    message = problems_of(tmp_path, cycler_only_with_cost, FAST_CHARGE)
    assert has_line(message, "objectives[1].metric", "recipe.material_cost_usd_kg", "synthesize")


def test_unknown_metric_lists_the_catalogue(tmp_path: Path) -> None:
    message = problems_of(tmp_path, lambda d: d["objectives"][1].update(metric="retention_pct"))
    assert has_line(
        message, "objectives[1].metric", "'retention_pct'", "allowed: xrd.layered_fraction"
    )


def test_parameter_used_by_no_step(tmp_path: Path) -> None:
    stir = {"kind": "continuous", "name": "stir_rpm", "lower": 100.0, "upper": 600.0}
    message = problems_of(tmp_path, lambda d: d["space"]["parameters"].append(stir))
    assert has_line(
        message,
        "space.parameters[6]",
        "parameter 'stir_rpm' is used by no workflow step",
        "recipe fields ni, mn",
        "galvanostatic protocol fields cycles",
    )
    # a protocol field only counts when there is a cycle step to take it
    rate = {"kind": "continuous", "name": "charge_c_rate", "lower": 0.2, "upper": 1.0}

    def without_cycling(d: Data) -> None:
        d["space"]["parameters"].append(rate)
        d["workflow"] = d["workflow"][:3]
        d["objectives"] = [{"name": "cost", "metric": "recipe.material_cost_usd_kg"}]
        d["objectives"][0]["direction"] = "minimise"
        d["planner"] = {"kind": "sobol"}

    message = problems_of(tmp_path, without_cycling)
    assert has_line(message, "space.parameters[6]", "'charge_c_rate' is used by no workflow step")


def test_step_order(tmp_path: Path) -> None:
    message = problems_of(tmp_path, lambda d: d["workflow"].insert(0, {"step": "xrd"}))
    assert has_line(message, "workflow[0]", "xrd needs an earlier synthesize step")
    assert has_line(message, "workflow[2]", "a second xrd step")
    message = problems_of(tmp_path, lambda d: d["workflow"].insert(0, d["workflow"].pop()))
    assert has_line(message, "workflow[0]", "analyse must be the last step")
    message = problems_of(tmp_path, lambda d: d["workflow"].pop(3))
    assert has_line(message, "workflow[3]", "cycle after synthesize needs an earlier assemble_cell")


def test_wrong_type_values(tmp_path: Path) -> None:
    def wrong_types(d: Data) -> None:
        d["budget"]["experiments"] = "many"
        d["workflow"][2]["min"] = "high"

    message = problems_of(tmp_path, wrong_types)
    assert "2 problem(s)" in message
    assert has_line(message, "budget.experiments", "valid integer")
    assert has_line(message, "workflow[2].min", "valid number")


def test_bounds_and_names(tmp_path: Path) -> None:
    message = problems_of(tmp_path, lambda d: d["workflow"][2].pop("min"))
    assert has_line(message, "workflow[2]", "give min and/or max")
    message = problems_of(tmp_path, lambda d: d.update(name="Cathode Discovery"))
    assert has_line(message, "name", "pattern")
    message = problems_of(tmp_path, lambda d: d["constraints"][0].update(name="cost"))
    assert has_line(message, "constraints[0].name", "'cost' names more than one")
    message = problems_of(tmp_path, lambda d: d["objectives"][0].pop("reference"))
    assert has_line(message, "objectives[0].reference", "every objective or none")
    message = problems_of(tmp_path, lambda d: d["concurrency"].update(batch_size=3))
    assert has_line(message, "concurrency", "batch_size applies to mode 'batch' only")
    message = problems_of(tmp_path, lambda d: d.update(resources={"cycler_channels": [1, 1, -2]}))
    assert has_line(message, "resources.cycler_channels", "[-2]", "listed twice: [1]")


def test_missing_instrument(tmp_path: Path) -> None:
    message = problems_of(tmp_path, lambda d: d["instruments"].pop("xrd"))
    assert has_line(message, "instruments.xrd", "not configured", "workflow[1] (xrd)")
    message = problems_of(tmp_path, lambda d: d.pop("instruments"), FAST_CHARGE)
    assert has_line(message, "instruments.cycler", "not configured", "workflow[0] (cycle)")


def test_recipe_problems_point_at_the_space_or_fixed(tmp_path: Path) -> None:
    message = problems_of(tmp_path, lambda d: d["workflow"][0].update(fixed={"li_excess": 0.05}))
    assert has_line(message, "workflow[0].fixed.li_excess", "both fixed and a space parameter")
    message = problems_of(tmp_path, lambda d: d["workflow"][0].update(fixed={"lithium": 0.05}))
    assert has_line(message, "workflow[0].fixed", "'lithium'", "allowed: ni, mn, co, li_excess")
    message = problems_of(tmp_path, lambda d: d["space"]["parameters"][2].update(upper=2500.0))
    assert has_line(message, "space.parameters[2]", "less than or equal to 2000")
    message = problems_of(tmp_path, lambda d: d["space"]["parameters"].pop(1))
    assert has_line(message, "workflow[0]", "recipe field 'li_excess' is set by neither")
    # fixing the lithium excess instead of searching it is fine
    data = copy.deepcopy(DISCOVERY)
    data["space"]["parameters"].pop(1)
    data["workflow"][0]["fixed"] = {"li_excess": 0.04}
    campaign = parse_campaign(yaml.safe_dump(data))
    point = campaign.space.decode([0.5] * campaign.space.dim)
    assert campaign.recipe_for(point).li_excess == 0.04


def test_protocol_template_checked_at_the_space_bounds(tmp_path: Path) -> None:
    def slow_lower_bounds(d: Data) -> None:
        for parameter in d["space"]["parameters"]:
            parameter["lower"] = 2.0

    message = problems_of(tmp_path, slow_lower_bounds, FAST_CHARGE)
    assert has_line(message, "workflow[0].protocol", "cc1_c_rate': 2.0", "no time for CC3")
    message = problems_of(
        tmp_path, lambda d: d["workflow"][0]["protocol"].update(kind="cccv"), FAST_CHARGE
    )
    assert has_line(message, "workflow[0].protocol", "allowed: galvanostatic, fast_charge")
    message = problems_of(
        tmp_path, lambda d: d["workflow"][0]["protocol"].update(charge_c_rate=1.0), FAST_CHARGE
    )
    assert has_line(message, "workflow[0].protocol", "'charge_c_rate'", "allowed: cycles, cc1")
    message = problems_of(
        tmp_path, lambda d: d["workflow"][0]["protocol"].update(cc1_c_rate=4.0), FAST_CHARGE
    )
    assert has_line(message, "workflow[0].protocol.cc1_c_rate", "both in the template")
    message = problems_of(tmp_path, lambda d: d["workflow"][4]["protocol"].update(v_min=4.3))
    assert has_line(message, "workflow[4].protocol", "v_min (4.3 V) must be below v_max")


def test_cycle_metrics_need_enough_cycles_and_a_mass(tmp_path: Path) -> None:
    message = problems_of(
        tmp_path, lambda d: d["workflow"][0]["protocol"].update(cycles=50), FAST_CHARGE
    )
    assert has_line(message, "workflow[0].protocol.cycles", "at least 100 cycles", "run 50")
    message = problems_of(
        tmp_path, lambda d: d["workflow"][0]["protocol"].update(cycles="many"), FAST_CHARGE
    )
    assert has_line(message, "workflow[0].protocol.cycles", "valid integer")

    def capacity_without_mass(d: Data) -> None:
        d["workflow"][0].pop("cathode_mass_g")
        d["objectives"][1]["metric"] = "cycling.specific_capacity_mah_g"

    message = problems_of(tmp_path, capacity_without_mass, FAST_CHARGE)
    assert has_line(message, "workflow[0].cathode_mass_g", "cathode mass")


def test_planner_settings(tmp_path: Path) -> None:
    message = problems_of(tmp_path, lambda d: d["objectives"].pop(1), FAST_CHARGE)
    assert has_line(message, "planner.kind", "at least two objectives", "allowed", "sobol")
    message = problems_of(
        tmp_path, lambda d: d["planner"].update(options={"mc_sample": 3, "num_restarts": 0})
    )
    assert has_line(message, "planner.options.mc_sample", "unknown key", "allowed: acquisition")
    assert has_line(message, "planner.options.num_restarts", "greater than or equal to 1")
    message = problems_of(tmp_path, lambda d: d["planner"].update(kind="grid"))
    assert has_line(message, "planner.kind", "'grid'", "allowed: botorch, sobol, random")
    message = problems_of(tmp_path, lambda d: d["planner"].update(kind="sobol", options={"q": 1}))
    assert has_line(message, "planner.options", "takes no options")


def test_cost_prices_only_for_known_elements(tmp_path: Path) -> None:
    message = problems_of(tmp_path, lambda d: d.update(costs={"prices": {"Fe": 2.0}}))
    assert has_line(message, "costs.prices", "'Fe'", "allowed: Ni, Mn, Co, Li, Al, Mg, Ti")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: x\nspace: [\n  1,\n", r"YAML syntax error at line 4"),
        ("name: a\nseed: 1\nname: b\n", r"YAML syntax error at line 3, column 1: .*'name' twice"),
        ("name: a\n\tseed: 1\n", r"YAML syntax error at line 2"),
        ("- 1\n- 2\n", r"the top level must be a mapping.*got list.*allowed keys: name"),
        ("", r"the campaign file is empty"),
    ],
)
def test_yaml_problems(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    with pytest.raises(CampaignError, match=rf"^{re.escape(str(path))}: {expected}"):
        load_campaign(path)


def test_parse_names_the_given_source_and_missing_files() -> None:
    with pytest.raises(CampaignError, match=r"^<string>: YAML syntax error at line 1"):
        parse_campaign("name: [")
    with pytest.raises(CampaignError, match=r"^no/such/campaign\.yaml: cannot read"):
        load_campaign("no/such/campaign.yaml")


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    def many(d: Data) -> None:
        d["objectives"][0]["direction"] = "up"
        d["workflow"][1]["step"] = "measure"
        d["budget"]["experiments"] = 0
        d["extra"] = True

    message = problems_of(tmp_path, many)
    assert "4 problem(s)" in message
    for field in ("objectives[0].direction", "workflow[1]", "budget.experiments", "extra"):
        assert has_line(message, field)
