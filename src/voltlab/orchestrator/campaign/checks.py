"""Cross-section checks of a campaign: step order, where each metric comes from, which step uses
each parameter, that recipes and protocols can be built across the space, and that every
instrument a step drives is configured.

Each check returns ``(field, message)`` issues with the field as a dotted path
(``workflow[2].metric``) so that the loader can report every problem at once.
"""

import itertools
from collections.abc import Iterator, Sequence
from functools import cache
from typing import TYPE_CHECKING

from pydantic import ValidationError

from voltlab.analysis.cycling import EarlyLifeModel
from voltlab.orchestrator.campaign.metrics import METRICS, PREDICTED_LIFE_METRIC
from voltlab.orchestrator.campaign.report import Issue, describe_error
from voltlab.orchestrator.campaign.steps import (
    PROTOCOL_KINDS,
    RECIPE_FIELDS,
    STEP_INSTRUMENTS,
    CycleStep,
    GateStep,
    Step,
    SynthesizeStep,
    protocol_fields,
)
from voltlab.planners import (
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    ParamValue,
    SearchSpace,
    SimplexGroup,
)
from voltlab.protocol import Recipe

if TYPE_CHECKING:
    from voltlab.orchestrator.campaign.model import Campaign

MAX_PROTOCOL_CORNERS = 256
"""Protocol parameters whose every bound combination is tried at load (2**8)."""


@cache
def early_life_late_cycle() -> int:
    """The last cycle the default early-life model reads (its features need cycles up to it)."""
    return EarlyLifeModel.load().definition.cycle_late


def parameter_paths(space: SearchSpace) -> dict[str, str]:
    """Each user-level parameter name -> its dotted path in the campaign file."""
    paths: dict[str, str] = {}
    for i, parameter in enumerate(space.parameters):
        if isinstance(parameter, SimplexGroup):
            for j, component in enumerate(parameter.components):
                paths[component.name] = f"space.parameters[{i}].components[{j}]"
        else:
            paths[parameter.name] = f"space.parameters[{i}]"
    return paths


def campaign_issues(campaign: "Campaign") -> list[Issue]:
    """Every cross-section problem of ``campaign`` (empty when it is consistent)."""
    issues = [
        *_workflow_order(campaign.workflow),
        *_outcomes(campaign),
        *_parameters_used(campaign),
        *_instruments(campaign),
    ]
    if len(campaign.objectives) < 2 and campaign.planner.kind == "botorch":
        issues.append(
            (
                "planner.kind",
                f"botorch needs at least two objectives, the campaign has "
                f"{len(campaign.objectives)} (allowed with one objective: sobol, random)",
            )
        )
    if not issues:  # building recipes and protocols only makes sense on a sound campaign
        issues += _recipes_buildable(campaign)
        issues += _protocols_buildable(campaign)
    return list(dict.fromkeys(issues))


def _workflow_order(workflow: Sequence[Step]) -> Iterator[Issue]:
    seen: set[str] = set()
    for i, step in enumerate(workflow):
        kind, where = step.step, f"workflow[{i}]"
        if kind != "gate" and kind in seen:
            yield where, f"a second {kind} step; only gate steps may repeat"
        if kind in ("xrd", "assemble_cell") and "synthesize" not in seen:
            yield where, f"{kind} needs an earlier synthesize step"
        if kind == "cycle" and "synthesize" in seen and "assemble_cell" not in seen:
            yield where, "cycle after synthesize needs an earlier assemble_cell step"
        if isinstance(step, CycleStep) and "assemble_cell" in seen and step.cathode_mass_g:
            yield (
                f"{where}.cathode_mass_g",
                "only for reference cells; the assembled cell carries its own mass",
            )
        if kind == "analyse" and i != len(workflow) - 1:
            yield where, "analyse must be the last step"
        if isinstance(step, GateStep):
            yield from _metric_source(
                step.metric, f"{where}.metric", f"gate {where}", seen, "which must come earlier"
            )
        seen.add(kind)


def _metric_source(
    metric: str, field: str, user: str, steps: set[str], missing: str = "which the workflow lacks"
) -> Iterator[Issue]:
    """The metric is in the catalogue and a step of ``steps`` produces it."""
    info = METRICS.get(metric)
    if info is None:
        yield field, f"unknown metric {metric!r} (allowed: {', '.join(METRICS)})"
    elif info.step not in steps:
        yield field, f"{user} uses {metric}, made by the {info.step} step, {missing}"


def _outcomes(campaign: "Campaign") -> Iterator[Issue]:
    steps = set(campaign.step_kinds())
    outcomes = [("objectives", i, o.name, o.metric) for i, o in enumerate(campaign.objectives)]
    outcomes += [("constraints", i, c.name, c.metric) for i, c in enumerate(campaign.constraints)]
    names = [name for *_, name, _ in outcomes]
    metrics = {metric for *_, metric in outcomes}
    for section, i, name, metric in outcomes:
        kind = section[:-1]
        yield from _metric_source(metric, f"{section}[{i}].metric", f"{kind} {name!r}", steps)
        if names.count(name) > 1:
            yield f"{section}[{i}].name", f"{name!r} names more than one objective or constraint"
    references = [o.reference is not None for o in campaign.objectives]
    if any(references) and not all(references):
        missing = references.index(False)
        yield f"objectives[{missing}].reference", "give a reference for every objective or none"
    yield from _cycle_needs(campaign, metrics)


def _cycle_needs(campaign: "Campaign", metrics: set[str]) -> Iterator[Issue]:
    """Metrics that ask more of the cycle step: a long enough run, a known cathode mass."""
    cycle = campaign.first_step("cycle")
    if not isinstance(cycle, CycleStep):
        return
    where = f"workflow[{campaign.workflow.index(cycle)}]"
    if PREDICTED_LIFE_METRIC in metrics:
        cycles = _fewest_cycles(cycle, campaign.space)
        late = early_life_late_cycle()
        if isinstance(cycles, int | float) and cycles < late:
            yield (
                f"{where}.protocol.cycles",
                f"{PREDICTED_LIFE_METRIC} needs at least {late} cycles (the early-life model's "
                f"late cycle), the protocol may run {cycles}",
            )
    reference_cells = "assemble_cell" not in campaign.step_kinds()
    if (
        "cycling.specific_capacity_mah_g" in metrics
        and reference_cells
        and cycle.cathode_mass_g is None
    ):
        yield (
            f"{where}.cathode_mass_g",
            "cycling.specific_capacity_mah_g of a reference cell needs its cathode mass (g)",
        )


def _fewest_cycles(cycle: CycleStep, space: SearchSpace) -> object:
    """Smallest cycle count the step may run: the template's (unchecked yet), or the space
    parameter's lower bound; ``None`` when neither sets it."""
    if "cycles" in cycle.protocol:
        return cycle.protocol["cycles"]
    for parameter in space.parameters:
        if isinstance(parameter, IntegerParameter | ContinuousParameter) and (
            parameter.name == "cycles"
        ):
            return parameter.lower
    return None


def _parameters_used(campaign: "Campaign") -> Iterator[Issue]:
    paths = parameter_paths(campaign.space)
    synthesize = campaign.first_step("synthesize")
    cycle = campaign.first_step("cycle")
    used: set[str] = set()
    allowed: list[str] = []
    if isinstance(synthesize, SynthesizeStep):
        used |= set(RECIPE_FIELDS)
        allowed.append(f"recipe fields {', '.join(RECIPE_FIELDS)}")
        where = f"workflow[{campaign.workflow.index(synthesize)}].fixed"
        for name in sorted(set(synthesize.fixed) & set(paths)):
            yield f"{where}.{name}", f"{name!r} is both fixed and a space parameter"
    if isinstance(cycle, CycleStep):
        fields = protocol_fields(cycle.protocol_kind)
        used |= set(fields)
        allowed.append(f"{cycle.protocol_kind} protocol fields {', '.join(fields)}")
        where = f"workflow[{campaign.workflow.index(cycle)}].protocol"
        for name in sorted(set(cycle.protocol) & set(paths)):
            yield f"{where}.{name}", f"{name!r} is both in the template and a space parameter"
    for name, path in paths.items():
        if name not in used:
            yield (
                path,
                f"parameter {name!r} is used by no workflow step "
                f"(allowed: {'; '.join(allowed) or 'none, no step takes parameters'})",
            )


def _instruments(campaign: "Campaign") -> Iterator[Issue]:
    reported: set[str] = set()
    for i, step in enumerate(campaign.workflow):
        instrument = STEP_INSTRUMENTS.get(step.step)
        if instrument is None or instrument in reported:
            continue
        if getattr(campaign.instruments, instrument) is None:
            reported.add(instrument)
            yield (
                f"instruments.{instrument}",
                f"not configured, but workflow[{i}] ({step.step}) needs it",
            )


def _probe_points(space: SearchSpace) -> list[dict[str, ParamValue]]:
    """Cube corners and centre, and the centre with every categorical level."""
    points = [space.decode([u] * space.dim) for u in (0.0, 0.5, 1.0)]
    centre = points[1]
    for parameter in space.parameters:
        if isinstance(parameter, CategoricalParameter):
            points += [{**centre, parameter.name: level} for level in parameter.levels]
    return points


def _recipes_buildable(campaign: "Campaign") -> Iterator[Issue]:
    step = campaign.first_step("synthesize")
    if not isinstance(step, SynthesizeStep):
        return
    where = f"workflow[{campaign.workflow.index(step)}]"
    paths = parameter_paths(campaign.space)
    for point in _probe_points(campaign.space):
        try:
            step.recipe(point)
        except ValidationError as exc:
            for error in exc.errors():
                message = describe_error(error, Recipe)
                name = str(error["loc"][0]) if error["loc"] else ""
                if error["type"] == "missing":
                    yield where, f"recipe field {name!r} is set by neither the space nor fixed"
                elif name in paths:
                    yield paths[name], f"as a recipe field: {message}"
                elif name:
                    yield f"{where}.fixed.{name}", message
                else:
                    yield where, f"recipe at {point}: {message}"


def _protocols_buildable(campaign: "Campaign") -> Iterator[Issue]:
    """Build the protocol at every bound combination of the space's protocol parameters."""
    step = campaign.first_step("cycle")
    if not isinstance(step, CycleStep):
        return
    where = f"workflow[{campaign.workflow.index(step)}].protocol"
    paths = parameter_paths(campaign.space)
    fields = set(protocol_fields(step.protocol_kind))
    bounds: dict[str, tuple[float, float]] = {}
    for parameter in campaign.space.parameters:
        if isinstance(parameter, ContinuousParameter | IntegerParameter):
            if parameter.name in fields:
                bounds[parameter.name] = (parameter.lower, parameter.upper)
        else:
            for name in sorted(fields & set(parameter.names)):
                yield paths[name], "a protocol parameter must be continuous or integer"
    corners = list(itertools.product(*bounds.values()))
    if len(corners) > MAX_PROTOCOL_CORNERS:
        corners = [tuple(low for low, _ in bounds.values()), tuple(h for _, h in bounds.values())]
    for corner in corners:
        point = dict(zip(bounds, corner, strict=True))
        try:
            step.build_protocol(point)
        except ValidationError as exc:
            for error in exc.errors():
                message = describe_error(error, PROTOCOL_KINDS[step.protocol_kind])
                name = str(error["loc"][0]) if error["loc"] else ""
                at = f" with {point}" if point else ""
                if error["type"] == "missing":
                    yield where, f"field {name!r} is set by neither the space nor the template"
                elif name in paths:
                    yield paths[name], f"as a protocol field{at}: {message}"
                elif name:
                    yield f"{where}.{name}", message
                else:
                    yield where, f"invalid protocol{at}: {message}"
