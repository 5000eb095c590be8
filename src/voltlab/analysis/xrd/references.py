"""Reference phases, built with pymatgen from lattice and sites (or read from CIF text).

The default library holds the phases a layered-oxide calcination makes:

- ``layered``: R-3m Li(Ni,Mn,Co,dopant)O2 (alpha-NaFeO2 type, hexagonal setting, Z = 3): Li on
  3a (0,0,0), metals on 3b (0,0,1/2), O on 6c (0,0,0.2585). Cation mixing x puts x Ni on 3a and
  x Li on 3b, so the formula (and Z M) does not change;
- ``rocksalt``: NiO (Fm-3m, a = 4.177 Angstrom), the over-fired or lithium-poor impurity;
- ``li2co3``: monoclinic Li2CO3 (C2/c, zabuyelite), unreacted carbonate.

More phases come from CIF text with :func:`structure_from_cif`. Lengths in Angstrom.
"""

import logging
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from pymatgen.core import Lattice, Structure
from pymatgen.symmetry.groups import SpaceGroup

from voltlab.analysis.xrd._errors import XRDAnalysisError

LAYERED_OXYGEN_Z = 0.2585
NIO_A = 4.177
LI2CO3_LATTICE = (8.359, 4.973, 6.194, 114.83)
"""a, b, c (Angstrom) and beta (degrees)."""
LI2CO3_SITES = (
    ("Li", (0.1965, 0.4484, 0.8345)),
    ("C", (0.0, 0.0657, 0.25)),
    ("O", (0.0, 0.3213, 0.25)),
    ("O", (0.1459, -0.0636, 0.3136)),
)
LAYERED = "layered"
ROCKSALT = "rocksalt"
LI2CO3 = "li2co3"
DOPANTS = ("Al", "Mg", "Ti")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LayeredComposition:
    """Metal fractions of the layered oxide's M site (ni + mn + co = 1 before doping); the
    dopant takes ``dopant_fraction`` of the M site and the others shrink in proportion."""

    ni: float
    mn: float
    co: float
    dopant: str | None = None
    dopant_fraction: float = 0.0

    def __post_init__(self) -> None:
        fractions = (self.ni, self.mn, self.co, self.dopant_fraction)
        if min(fractions) < 0 or abs(self.ni + self.mn + self.co - 1.0) > 1e-6:
            raise XRDAnalysisError(f"layered composition must have ni + mn + co = 1, got {self}")
        if self.dopant is not None and self.dopant not in DOPANTS:
            raise XRDAnalysisError(f"unknown dopant {self.dopant!r}; known: {', '.join(DOPANTS)}")
        if self.dopant is None and self.dopant_fraction:
            raise XRDAnalysisError("dopant_fraction given without a dopant")

    def metals(self) -> dict[str, float]:
        """M-site fractions, dopant included."""
        d = self.dopant_fraction if self.dopant else 0.0
        out = {"Ni": self.ni * (1 - d), "Mn": self.mn * (1 - d), "Co": self.co * (1 - d)}
        if self.dopant:
            out[self.dopant] = d
        return out


Position = tuple[float, float, float]


@cache
def _orbits(symbol: str, positions: tuple[Position, ...]) -> tuple[tuple[int, Position], ...]:
    """Every input position's symmetry copies, tagged with the input's index. Building a
    pymatgen SpaceGroup is slow pure Python (milliseconds, holding the GIL), and the copies'
    fractional coordinates do not depend on the lattice, so they are worked out once."""
    group = SpaceGroup(symbol)
    return tuple(
        (index, (float(x), float(y), float(z)))
        for index, position in enumerate(positions)
        for x, y, z in group.get_orbit(position)
    )


def from_spacegroup(
    symbol: str, lattice: Lattice, species: Sequence[Any], positions: Sequence[Sequence[float]]
) -> Structure:
    """``Structure.from_spacegroup`` with the symmetry work cached (same sites, same order)."""
    orbits = _orbits(symbol, tuple((p[0], p[1], p[2]) for p in positions))
    return Structure(lattice, [species[i] for i, _ in orbits], [p for _, p in orbits])


def layered_oxide(
    composition: LayeredComposition, a: float, c: float, mixing: float = 0.0
) -> Structure:
    """R-3m layered oxide with ``mixing`` (fraction of 3a sites holding Ni, at most the Ni on 3b)."""
    metals = composition.metals()
    if not 0.0 <= mixing <= metals["Ni"]:
        raise XRDAnalysisError(f"cation mixing {mixing} outside [0, Ni = {metals['Ni']:.3f}]")
    li_site = {"Li": 1.0 - mixing} | ({"Ni": mixing} if mixing else {})
    m_site = {el: f for el, f in metals.items() if f > 0} | ({"Li": mixing} if mixing else {})
    m_site["Ni"] = metals["Ni"] - mixing
    return from_spacegroup(
        "R-3m",
        Lattice.hexagonal(a, c),
        [li_site, {el: f for el, f in m_site.items() if f > 0}, "O"],
        [[0, 0, 0], [0, 0, 0.5], [0, 0, LAYERED_OXYGEN_Z]],
    )


def rock_salt_nio() -> Structure:
    """Rock-salt NiO, conventional cubic cell (Z = 4)."""
    return from_spacegroup("Fm-3m", Lattice.cubic(NIO_A), ["Ni", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def lithium_carbonate() -> Structure:
    """Monoclinic Li2CO3 (Z = 4)."""
    species, coords = zip(*LI2CO3_SITES, strict=True)
    return from_spacegroup("C2/c", Lattice.monoclinic(*LI2CO3_LATTICE), list(species), list(coords))


def structure_from_cif(cif_text: str) -> Structure:
    """The first structure in CIF text (read the file yourself: analysis does no I/O)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            structure = Structure.from_str(cif_text, fmt="cif")
        except (ValueError, KeyError, IndexError) as exc:
            notes = "; ".join(str(w.message) for w in caught)
            raise XRDAnalysisError(
                f"could not read a structure from the CIF text: {exc} {notes}".strip()
            ) from exc
    for w in caught:
        logger.warning("CIF parser: %s", w.message)
    return structure


@dataclass(frozen=True)
class PhaseReference:
    """A candidate phase. ``layered`` is set only for the layered oxide, whose lattice a, c and
    cation mixing are refined; other phases keep the lattice of ``structure``."""

    name: str
    structure: Structure
    layered: LayeredComposition | None = None


class ReferenceLibrary(Mapping[str, PhaseReference]):
    """Named reference phases; at most one layered oxide."""

    def __init__(self, phases: Mapping[str, PhaseReference]) -> None:
        layered = [p.name for p in phases.values() if p.layered is not None]
        if len(layered) > 1:
            raise XRDAnalysisError(f"at most one layered phase per library, got {layered}")
        self._phases = dict(phases)

    def __getitem__(self, name: str) -> PhaseReference:
        return self._phases[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._phases)

    def __len__(self) -> int:
        return len(self._phases)

    def with_phase(self, name: str, structure: Structure) -> "ReferenceLibrary":
        """A new library that also holds ``structure`` (e.g. from :func:`structure_from_cif`)."""
        if name in self._phases:
            raise XRDAnalysisError(f"phase {name!r} is already in the library")
        return ReferenceLibrary(self._phases | {name: PhaseReference(name, structure)})

    def select(self, names: tuple[str, ...] | None) -> list[PhaseReference]:
        """The phases called ``names`` (all if None), or raise naming the unknown ones."""
        if names is None:
            return list(self._phases.values())
        unknown = [n for n in names if n not in self._phases]
        if unknown:
            raise XRDAnalysisError(
                f"unknown phases {unknown}; the library holds {sorted(self._phases)}"
            )
        if not names:
            raise XRDAnalysisError("no phases requested")
        return [self._phases[n] for n in dict.fromkeys(names)]


def default_library(
    composition: LayeredComposition, a: float = 2.87, c: float = 14.2
) -> ReferenceLibrary:
    """Layered oxide of ``composition`` (lattice a, c only a starting point), NiO and Li2CO3."""
    return ReferenceLibrary(
        {
            LAYERED: PhaseReference(LAYERED, layered_oxide(composition, a, c), composition),
            ROCKSALT: PhaseReference(ROCKSALT, rock_salt_nio()),
            LI2CO3: PhaseReference(LI2CO3, lithium_carbonate()),
        }
    )
