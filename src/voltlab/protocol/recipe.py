"""A synthesis recipe for a layered LiNi_x Mn_y Co_z O2 cathode, as the robot receives it.

The schema checks what is physically meaningful (fractions non-negative and summing to one);
the robot's interlocks, not the schema, refuse temperatures its furnace cannot reach.
"""

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

COMPOSITION_TOLERANCE = 1e-6


class Dopant(StrEnum):
    NONE = "none"
    AL = "Al"
    MG = "Mg"
    TI = "Ti"


class Recipe(BaseModel):
    """Transition-metal fractions (mole fraction of the M site), lithium excess, calcination and dopant."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ni: float = Field(ge=0.0, le=1.0, description="Ni fraction of the transition-metal site")
    mn: float = Field(ge=0.0, le=1.0, description="Mn fraction of the transition-metal site")
    co: float = Field(ge=0.0, le=1.0, description="Co fraction of the transition-metal site")
    li_excess: float = Field(
        ge=0.0, le=0.5, description="Lithium excess over stoichiometry (0.05 = 5 %)"
    )
    calcination_temperature_c: float = Field(gt=0.0, le=2000.0, description="degrees Celsius")
    calcination_time_h: float = Field(gt=0.0, le=200.0, description="hours at temperature")
    dopant: Dopant = Dopant.NONE
    dopant_fraction: float = Field(
        default=0.0, ge=0.0, le=0.2, description="dopant mole fraction on the M site"
    )

    @model_validator(mode="after")
    def _check_composition(self) -> "Recipe":
        total = self.ni + self.mn + self.co
        if abs(total - 1.0) > COMPOSITION_TOLERANCE:
            raise ValueError(f"ni + mn + co must equal 1, got {total:.6f}")
        if self.dopant is Dopant.NONE and self.dopant_fraction != 0.0:
            raise ValueError("dopant_fraction must be 0 when dopant is 'none'")
        return self
