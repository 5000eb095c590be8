"""Where the simulated lab keeps the physical things it has made: powders and cells.

The robot, XRD stage and cycler may run as separate processes (``voltlab sim robot`` ...), so
the registry is a small SQLite file they share, standing in for the sample moving between
instruments. Only simulators read it; the orchestrator never does.
"""

import json
import sqlite3
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from voltlab.errors import VoltlabError
from voltlab.protocol import Dopant, Recipe
from voltlab.simulated_hardware.world.product import Product

_SCHEMA = """
CREATE TABLE IF NOT EXISTS powders (
    sample_id TEXT PRIMARY KEY,
    recipe TEXT NOT NULL,
    product TEXT NOT NULL,
    mass_g REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS cells (
    cell_id TEXT PRIMARY KEY,
    sample_id TEXT NOT NULL REFERENCES powders(sample_id)
);
"""


class UnknownSampleError(VoltlabError, KeyError):
    """No powder or cell of that id exists in the simulated lab."""


@dataclass(frozen=True)
class Powder:
    sample_id: str
    recipe: Recipe
    product: Product
    mass_g: float


class SampleRegistry:
    """Thread-safe registry on one SQLite file (WAL mode, so several processes can share it)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=10.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add_powder(self, powder: Powder) -> None:
        product = asdict(powder.product) | {"dopant": powder.product.dopant.value}
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO powders VALUES (?, ?, ?, ?)",
                (
                    powder.sample_id,
                    powder.recipe.model_dump_json(),
                    json.dumps(product),
                    powder.mass_g,
                ),
            )

    def powder(self, sample_id: str) -> Powder:
        with self._lock:
            row = self._db.execute(
                "SELECT recipe, product, mass_g FROM powders WHERE sample_id = ?", (sample_id,)
            ).fetchone()
        if row is None:
            raise UnknownSampleError(f"no powder sample {sample_id!r} in the simulated lab")
        product = json.loads(row[1])
        product["dopant"] = Dopant(product["dopant"])
        return Powder(sample_id, Recipe.model_validate_json(row[0]), Product(**product), row[2])

    def add_cell(self, cell_id: str, sample_id: str) -> None:
        self.powder(sample_id)
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO cells VALUES (?, ?)", (cell_id, sample_id))

    def cell_powder(self, cell_id: str) -> Powder:
        """The powder a cell's cathode was made from."""
        with self._lock:
            row = self._db.execute(
                "SELECT sample_id FROM cells WHERE cell_id = ?", (cell_id,)
            ).fetchone()
        if row is None:
            raise UnknownSampleError(f"no cell {cell_id!r} in the simulated lab")
        return self.powder(row[0])
