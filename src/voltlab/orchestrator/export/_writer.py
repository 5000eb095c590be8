"""Writes a bundle's files and remembers each one (size, checksum, media type, description) for
the RO-Crate metadata, so no file is left undescribed."""

import hashlib
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from voltlab.orchestrator.export._format import (
    CSV,
    JSON,
    JSON_LINES,
    PARQUET,
    BundleError,
    BundleFile,
)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinity (not JSON) replaced by None, at any depth."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value


def to_json(value: Any) -> str:
    """Strict JSON, keys sorted, non-finite numbers as null."""
    return json.dumps(finite(value), allow_nan=False, sort_keys=True)


class BundleWriter:
    """Files under ``root``; :attr:`files` lists what was written, in order."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: list[BundleFile] = []

    def _record(self, relative: str, media_type: str, name: str, description: str) -> Path:
        path = self.root / relative
        if any(f.path == relative for f in self.files):
            raise BundleError(f"{path}: written twice in one bundle")
        self.files.append(
            BundleFile(
                relative, media_type, name, description, path.stat().st_size, sha256_of(path)
            )
        )
        return path

    def _target(self, relative: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def text(self, relative: str, text: str, media_type: str, name: str, description: str) -> Path:
        self._target(relative).write_text(text, encoding="utf-8")
        return self._record(relative, media_type, name, description)

    def json(self, relative: str, value: Any, name: str, description: str) -> Path:
        text = json.dumps(finite(value), allow_nan=False, indent=2, sort_keys=True) + "\n"
        return self.text(relative, text, JSON, name, description)

    def json_lines(
        self, relative: str, records: Iterable[Any], name: str, description: str
    ) -> Path:
        text = "".join(to_json(record) + "\n" for record in records)
        return self.text(relative, text, JSON_LINES, name, description)

    def parquet(self, relative: str, frame: pd.DataFrame, name: str, description: str) -> Path:
        frame.to_parquet(self._target(relative), index=False, engine="pyarrow")
        return self._record(relative, PARQUET, name, description)

    def csv(self, relative: str, frame: pd.DataFrame, name: str, description: str) -> Path:
        frame.to_csv(self._target(relative), index=False, float_format="%.10g")
        return self._record(relative, CSV, name, description)
