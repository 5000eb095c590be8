"""Workflow step executors, one per step kind of the campaign file."""

from voltlab.orchestrator.steps.base import (
    EngineSettings,
    Executor,
    StepContext,
    StepFailed,
    StepOutcome,
)
from voltlab.orchestrator.steps.cycle_step import cycle
from voltlab.orchestrator.steps.decision_steps import analyse, gate, outcomes_of
from voltlab.orchestrator.steps.robot_steps import assemble_cell, synthesize
from voltlab.orchestrator.steps.xrd_step import measure_xrd

EXECUTORS: dict[str, Executor] = {
    "synthesize": synthesize,
    "xrd": measure_xrd,
    "gate": gate,
    "assemble_cell": assemble_cell,
    "cycle": cycle,
    "analyse": analyse,
}
RESOURCE_OF: dict[str, str] = {
    "synthesize": "robot",
    "assemble_cell": "robot",
    "xrd": "xrd",
    "cycle": "cycler",
}
"""The resource kind each instrument step holds while it runs (decision steps hold none)."""

__all__ = [
    "EXECUTORS",
    "RESOURCE_OF",
    "EngineSettings",
    "Executor",
    "StepContext",
    "StepFailed",
    "StepOutcome",
    "outcomes_of",
]
