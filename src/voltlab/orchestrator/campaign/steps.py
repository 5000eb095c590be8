"""Workflow steps of a campaign: a discriminated union on the key ``step``.

A workflow is an ordered list such as synthesize -> xrd -> gate -> assemble_cell -> cycle ->
analyse; which orders are allowed is checked by :mod:`voltlab.orchestrator.campaign.checks`.
"""

import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from voltlab.planners import ParamValue
from voltlab.protocol import Dopant, Recipe
from voltlab.protocol.cycler import FastChargeCycling, GalvanostaticCycling

RECIPE_FIELDS: tuple[str, ...] = tuple(Recipe.model_fields)
"""Recipe fields a point's parameters (or a synthesize step's ``fixed``) may set."""

PROTOCOL_KINDS: dict[str, type[GalvanostaticCycling | FastChargeCycling]] = {
    "galvanostatic": GalvanostaticCycling,
    "fast_charge": FastChargeCycling,
}


def protocol_fields(kind: str) -> tuple[str, ...]:
    """Fields of the cycling protocol ``kind`` a point's parameters may set (all but ``kind``)."""
    return tuple(name for name in PROTOCOL_KINDS[kind].model_fields if name != "kind")


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SynthesizeStep(_Step):
    """The robot makes a powder from a Recipe: the point's Recipe-field parameters plus ``fixed``."""

    step: Literal["synthesize"] = "synthesize"
    fixed: dict[str, float | str] = Field(default_factory=dict)

    @field_validator("fixed")
    @classmethod
    def _recipe_fields(cls, value: dict[str, float | str]) -> dict[str, float | str]:
        unknown = sorted(set(value) - set(RECIPE_FIELDS))
        if unknown:
            raise ValueError(
                f"{unknown[0]!r} is not a recipe field (allowed: {', '.join(RECIPE_FIELDS)})"
            )
        return value

    def recipe(self, point: Mapping[str, ParamValue]) -> Recipe:
        """``fixed`` plus the point's Recipe fields; dopant "none" forces a zero fraction.

        Raises pydantic's ``ValidationError`` (locations are Recipe field names)."""
        values: dict[str, Any] = {**self.fixed}
        values.update({k: v for k, v in point.items() if k in RECIPE_FIELDS})
        if values.get("dopant") == Dopant.NONE.value:
            values["dopant_fraction"] = 0.0
        return Recipe.model_validate(values)


class XRDStep(_Step):
    """Measure the powder's pattern; angles in degrees 2-theta, count time in s per point."""

    step: Literal["xrd"] = "xrd"
    two_theta_start: float = 10.0
    two_theta_stop: float = 80.0
    step_deg: float = Field(default=0.02, gt=0.0)
    count_time_s: float = Field(default=1.0, gt=0.0)

    @model_validator(mode="after")
    def _range(self) -> "XRDStep":
        if not self.two_theta_start < self.two_theta_stop:
            raise ValueError(
                f"two_theta_start {self.two_theta_start} must be below "
                f"two_theta_stop {self.two_theta_stop}"
            )
        return self


class GateStep(_Step):
    """Stop an experiment (state "gated") whose ``metric`` falls outside ``[min, max]``."""

    step: Literal["gate"] = "gate"
    metric: str
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounded(self) -> "GateStep":
        check_bounds(self.min, self.max)
        return self


class AssembleCellStep(_Step):
    """The robot builds a coin cell from the experiment's powder."""

    step: Literal["assemble_cell"] = "assemble_cell"


class CycleStep(_Step):
    """Cycle a cell on a cycler channel with ``protocol`` filled in from the point.

    ``protocol`` is a partial cycling protocol (its ``kind`` and fixed fields); the point's
    parameters named like fields of that kind complete it. ``cathode_mass_g`` (g) is the active
    mass of a reference cell, used when no assemble_cell step makes the cell. ``deadline_min``
    bounds the step's wall time (minutes).
    """

    step: Literal["cycle"] = "cycle"
    protocol: dict[str, Any]
    cathode_mass_g: float | None = Field(default=None, gt=0.0)
    deadline_min: float | None = Field(default=None, gt=0.0)

    @field_validator("protocol")
    @classmethod
    def _template(cls, value: dict[str, Any]) -> dict[str, Any]:
        kind = value.get("kind")
        if kind not in PROTOCOL_KINDS:
            raise ValueError(
                f"protocol kind {kind!r} is unknown (allowed: {', '.join(PROTOCOL_KINDS)})"
            )
        fields = protocol_fields(kind)
        unknown = sorted(set(value) - {"kind", *fields})
        if unknown:
            raise ValueError(
                f"{unknown[0]!r} is not a field of a {kind} protocol (allowed: {', '.join(fields)})"
            )
        return value

    @property
    def protocol_kind(self) -> str:
        return str(self.protocol["kind"])

    def build_protocol(
        self, point: Mapping[str, ParamValue]
    ) -> GalvanostaticCycling | FastChargeCycling:
        """The template completed by the point's parameters named like protocol fields.

        Raises pydantic's ``ValidationError`` (locations are protocol field names)."""
        fields = protocol_fields(self.protocol_kind)
        values = {**self.protocol, **{k: v for k, v in point.items() if k in fields}}
        return PROTOCOL_KINDS[self.protocol_kind].model_validate(values)


class AnalyseStep(_Step):
    """Final metrics of the experiment; ``retention_threshold`` (fraction) marks end of life."""

    step: Literal["analyse"] = "analyse"
    retention_threshold: float = Field(default=0.8, gt=0.0, le=1.0)


Step = Annotated[
    SynthesizeStep | XRDStep | GateStep | AssembleCellStep | CycleStep | AnalyseStep,
    Field(discriminator="step"),
]
STEP_KINDS: tuple[str, ...] = ("synthesize", "xrd", "gate", "assemble_cell", "cycle", "analyse")

STEP_INSTRUMENTS: dict[str, str] = {
    "synthesize": "robot",
    "assemble_cell": "robot",
    "xrd": "xrd",
    "cycle": "cycler",
}
"""Which instrument of :class:`voltlab.drivers.DriverConfig` each step kind drives."""


def check_bounds(low: float | None, high: float | None) -> None:
    """At least one finite bound, and ``low <= high`` when both are given."""
    bounds = [b for b in (low, high) if b is not None]
    if not bounds:
        raise ValueError("give min and/or max")
    if not all(math.isfinite(b) for b in bounds):
        raise ValueError("min and max must be finite")
    if low is not None and high is not None and low > high:
        raise ValueError(f"min {low} is above max {high}")
