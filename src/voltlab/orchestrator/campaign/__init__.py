"""Campaign files: the YAML a scientist writes, validated into one immutable :class:`Campaign`.

A campaign gives the search space, objectives and constraints (metrics from :data:`METRICS`),
the workflow of steps and gates, budget, concurrency, planner, cycler channels, instrument
endpoints and cost model. :func:`load_campaign` reports every problem of a file at once, each as
``field: message (allowed: ...)``.
"""

from voltlab.orchestrator.campaign.costs import DEFAULT_PRICES_USD_PER_KG, CostModel
from voltlab.orchestrator.campaign.loading import load_campaign, parse_campaign
from voltlab.orchestrator.campaign.metrics import METRICS, MetricInfo
from voltlab.orchestrator.campaign.model import CAMPAIGN_NAME_PATTERN, INSTRUMENTS, Campaign
from voltlab.orchestrator.campaign.sections import (
    Budget,
    Concurrency,
    ConstraintSpec,
    ObjectiveSpec,
    PlannerSpec,
    Resources,
)
from voltlab.orchestrator.campaign.steps import (
    PROTOCOL_KINDS,
    RECIPE_FIELDS,
    STEP_INSTRUMENTS,
    STEP_KINDS,
    AnalyseStep,
    AssembleCellStep,
    CycleStep,
    GateStep,
    Step,
    SynthesizeStep,
    XRDStep,
    protocol_fields,
)

__all__ = [
    "CAMPAIGN_NAME_PATTERN",
    "DEFAULT_PRICES_USD_PER_KG",
    "INSTRUMENTS",
    "METRICS",
    "PROTOCOL_KINDS",
    "RECIPE_FIELDS",
    "STEP_INSTRUMENTS",
    "STEP_KINDS",
    "AnalyseStep",
    "AssembleCellStep",
    "Budget",
    "Campaign",
    "Concurrency",
    "ConstraintSpec",
    "CostModel",
    "CycleStep",
    "GateStep",
    "MetricInfo",
    "ObjectiveSpec",
    "PlannerSpec",
    "Resources",
    "Step",
    "SynthesizeStep",
    "XRDStep",
    "load_campaign",
    "parse_campaign",
    "protocol_fields",
]
