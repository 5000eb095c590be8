"""Reading a bundle back, from its folder or its zip: the RO-Crate metadata, the manifest and
any described file, each checked against the size and SHA-256 the metadata records. Every
problem is a :class:`BundleError` naming the file."""

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

from voltlab.orchestrator.export._format import (
    BUNDLE_FORMAT,
    BUNDLE_VERSION,
    MANIFEST,
    METADATA,
    BundleError,
)


class BundleReader:
    """One bundle; ``bundle`` is its folder or a zip of it."""

    def __init__(self, bundle: str | Path) -> None:
        self.bundle = Path(bundle)
        self._zip: zipfile.ZipFile | None = None
        if self.bundle.is_dir():
            pass
        elif self.bundle.is_file() and zipfile.is_zipfile(self.bundle):
            self._zip = zipfile.ZipFile(self.bundle)
        else:
            raise BundleError(f"{self.bundle}: not a bundle folder or zip")
        self.entities = self._described_files()

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def __enter__(self) -> "BundleReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def where(self, name: str) -> str:
        """How messages name file ``name`` of this bundle."""
        return f"{self.bundle}/{name}"

    def exists(self, name: str) -> bool:
        if self._zip is not None:
            return name in self._zip.namelist()
        return (self.bundle / name).is_file()

    def raw(self, name: str) -> bytes:
        """File ``name`` as stored (unchecked)."""
        if not self.exists(name):
            raise BundleError(f"{self.where(name)}: missing from the bundle")
        if self._zip is not None:
            return self._zip.read(name)
        return (self.bundle / name).read_bytes()

    def read(self, name: str) -> bytes:
        """File ``name``, which the metadata must describe, checked against its checksum."""
        entity = self.entities.get(name)
        if entity is None:
            raise BundleError(f"{self.where(METADATA)}: does not describe {name}")
        data = self.raw(name)
        expected = entity.get("sha256")
        if expected is not None and hashlib.sha256(data).hexdigest() != expected:
            raise BundleError(
                f"{self.where(name)}: content does not match the SHA-256 in {METADATA} "
                "(the file was changed or damaged)"
            )
        return data

    def json(self, name: str) -> Any:
        try:
            return json.loads(self.read(name))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BundleError(f"{self.where(name)}: not valid JSON ({exc})") from exc

    def manifest(self) -> dict[str, Any]:
        """The manifest, after checking the bundle's format and version are ones we read."""
        manifest = self.json(MANIFEST)
        if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
            raise BundleError(f"{self.where(MANIFEST)}: not a {BUNDLE_FORMAT} manifest")
        version = manifest.get("version")
        if version != BUNDLE_VERSION:
            raise BundleError(
                f"{self.where(MANIFEST)}: bundle format version {version!r} is not supported "
                f"(this voltlab reads version {BUNDLE_VERSION})"
            )
        return manifest

    def verify(self) -> int:
        """Check every described file exists with its recorded checksum; return how many."""
        for name in self.entities:
            self.read(name)
        return len(self.entities)

    def _described_files(self) -> dict[str, dict[str, Any]]:
        """File entities of the RO-Crate metadata by path."""
        where = self.where(METADATA)
        try:
            metadata = json.loads(self.raw(METADATA))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BundleError(f"{where}: not valid JSON ({exc})") from exc
        graph = metadata.get("@graph") if isinstance(metadata, dict) else None
        if not isinstance(graph, list):
            raise BundleError(f"{where}: not RO-Crate metadata (no @graph list)")
        files = {}
        for entity in graph:
            if not isinstance(entity, dict) or "@id" not in entity:
                raise BundleError(f"{where}: an entity without @id: {entity!r:.80}")
            types = entity.get("@type")
            if types == "File" or (isinstance(types, list) and "File" in types):
                files[entity["@id"]] = entity
        if not files:
            raise BundleError(f"{where}: describes no files")
        return files


def verify_bundle(bundle: str | Path) -> int:
    """Check a bundle's format version and that every file its metadata lists is there
    unchanged; return the number of files checked. Raises :class:`BundleError`."""
    with BundleReader(bundle) as reader:
        reader.manifest()
        return reader.verify()
