"""The lab's material cost model: raw-material prices and furnace time per kg of cathode powder.

The formula prices one kg of Li(1+x)(NiMnCo)(1-d)D(d)O2: moles of each element per formula unit
times its molar mass and price, over the formula mass, plus firing cost proportional to the
temperature rise above 25 C (in kilo-degrees) times the hours at temperature.
"""

from pydantic import BaseModel, ConfigDict, Field, field_validator

from voltlab.protocol import Dopant, Recipe

DEFAULT_PRICES_USD_PER_KG: dict[str, float] = {
    "Ni": 16.0,
    "Mn": 2.5,
    "Co": 50.0,
    "Li": 40.0,
    "Al": 2.5,
    "Mg": 3.0,
    "Ti": 12.0,
}
"""USD per kg of element (Li as the lithium-carbonate-equivalent price per kg of Li)."""

ATOMIC_MASS_G_PER_MOL: dict[str, float] = {
    "Li": 6.94,
    "Ni": 58.69,
    "Mn": 54.94,
    "Co": 58.93,
    "O": 16.0,
    "Al": 26.98,
    "Mg": 24.31,
    "Ti": 47.87,
}
ROOM_TEMPERATURE_C = 25.0


class CostModel(BaseModel):
    """Element prices (USD/kg; given ones override the defaults) and the firing cost."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prices: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_PRICES_USD_PER_KG))
    firing_usd_per_kg_per_kilo_degree_hour: float = Field(default=0.12, ge=0.0)
    """Furnace energy and occupancy, USD per kg per (1000 C above room temperature x 1 h)."""

    @field_validator("prices", mode="before")
    @classmethod
    def _merge_defaults(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value
        unknown = sorted(set(value) - set(DEFAULT_PRICES_USD_PER_KG))
        if unknown:
            raise ValueError(
                f"no price for element(s) {unknown} is used "
                f"(allowed: {', '.join(DEFAULT_PRICES_USD_PER_KG)})"
            )
        return {**DEFAULT_PRICES_USD_PER_KG, **value}

    @field_validator("prices")
    @classmethod
    def _non_negative(cls, value: dict[str, float]) -> dict[str, float]:
        negative = sorted(el for el, price in value.items() if price < 0)
        if negative:
            raise ValueError(f"prices must be >= 0, not for {negative}")
        return value

    def material_cost_usd_kg(self, recipe: Recipe) -> float:
        """Raw-material plus firing cost of one kg of the recipe's powder, USD/kg."""
        metal = 1.0 - recipe.dopant_fraction
        moles = {
            "Li": 1.0 + recipe.li_excess,
            "Ni": recipe.ni * metal,
            "Mn": recipe.mn * metal,
            "Co": recipe.co * metal,
        }
        if recipe.dopant is not Dopant.NONE:
            moles[recipe.dopant.value] = recipe.dopant_fraction
        mass = ATOMIC_MASS_G_PER_MOL
        formula_mass = sum(n * mass[el] for el, n in moles.items()) + 2 * mass["O"]
        material = sum(n * mass[el] * self.prices[el] for el, n in moles.items())
        firing = (
            self.firing_usd_per_kg_per_kilo_degree_hour
            * (recipe.calcination_temperature_c - ROOM_TEMPERATURE_C)
            / 1000.0
            * recipe.calcination_time_h
        )
        return material / formula_mass + firing
