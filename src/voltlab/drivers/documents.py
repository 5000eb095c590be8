"""Where bluesky documents go: the sink interface a store plugs into, and a validating sink.

A RunEngine hands every document to its subscribers as ``(name, doc)`` in emission order, in the
RunEngine's thread. :class:`DocumentSink` is that callable; :class:`ValidatingSink` checks each
document against event-model's JSON schemas and against the run it belongs to, then keeps it.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import event_model
import jsonschema

from voltlab.errors import VoltlabError

RUN_KINDS = ("descriptor", "stop")
"""Documents that name their run start with ``run_start``."""


class DocumentSink(Protocol):
    """Receives a run's documents in order (``RunEngine.subscribe(sink)``); an exception it
    raises fails the plan, so a store that cannot keep a document stops the measurement."""

    def __call__(self, name: str, doc: Mapping[str, Any]) -> None: ...


class InvalidDocument(VoltlabError, ValueError):
    """A document that breaks event-model's schema or does not fit the run it claims."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"invalid {name} document: {message}")
        self.name = name


def validate_document(name: str, doc: Mapping[str, Any]) -> None:
    """Check ``doc`` against event-model's JSON schema for its kind ``name``."""
    try:
        kind = event_model.DocumentNames[name]
    except KeyError:
        raise InvalidDocument(name, "unknown document kind") from None
    try:
        event_model.schema_validators[kind].validate(doc)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "document"
        raise InvalidDocument(name, f"{where}: {exc.message}") from exc


@dataclass
class RunRecord:
    """One run's documents, split by kind."""

    start: Mapping[str, Any]
    descriptors: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    events: list[Mapping[str, Any]] = field(default_factory=list)
    stop: Mapping[str, Any] | None = None

    def events_of(self, stream: str) -> list[Mapping[str, Any]]:
        """Events of the named stream (e.g. ``primary``), in order."""
        uids = {uid for uid, d in self.descriptors.items() if d["name"] == stream}
        return [e for e in self.events if e["descriptor"] in uids]

    def summary(self) -> dict[str, Any]:
        """Plan, sample, outcome and what was recorded: a one-line view of the run."""
        keys = sorted({k for d in self.descriptors.values() for k in d["data_keys"]})
        return {
            "plan_name": self.start.get("plan_name"),
            "sample_id": self.start.get("sample_id"),
            "exit_status": None if self.stop is None else self.stop["exit_status"],
            "events": len(self.events),
            "data_keys": keys,
        }


class ValidatingSink:
    """Validates and keeps documents: each against its schema, descriptors and stops against a
    known start, events against a known descriptor carrying exactly its data keys.
    Raises :class:`InvalidDocument`; ``documents`` holds every accepted one in order."""

    def __init__(self) -> None:
        self.documents: list[tuple[str, Mapping[str, Any]]] = []
        self.runs: dict[str, RunRecord] = {}
        self._run_of_descriptor: dict[str, RunRecord] = {}

    def __call__(self, name: str, doc: Mapping[str, Any]) -> None:
        validate_document(name, doc)
        if name == "start":
            if doc["uid"] in self.runs:
                raise InvalidDocument(name, f"run {doc['uid']} started twice")
            self.runs[doc["uid"]] = RunRecord(doc)
        elif name in RUN_KINDS:
            self._check_run(name, doc)
        elif name == "event":
            self._check_event(doc)
        self.documents.append((name, doc))

    def _check_run(self, name: str, doc: Mapping[str, Any]) -> None:
        run = self.runs.get(doc["run_start"])
        if run is None:
            raise InvalidDocument(name, f"names unknown run start {doc['run_start']}")
        if run.stop is not None:
            raise InvalidDocument(name, f"run {doc['run_start']} has already stopped")
        if name == "stop":
            run.stop = doc
        else:
            run.descriptors[doc["uid"]] = doc
            self._run_of_descriptor[doc["uid"]] = run

    def _check_event(self, doc: Mapping[str, Any]) -> None:
        run = self._run_of_descriptor.get(doc["descriptor"])
        if run is None:
            raise InvalidDocument("event", f"names unknown descriptor {doc['descriptor']}")
        expected = set(run.descriptors[doc["descriptor"]]["data_keys"])
        if set(doc["data"]) != expected or set(doc["timestamps"]) != expected:
            raise InvalidDocument(
                "event", f"data keys {sorted(doc['data'])} differ from the descriptor's"
            )
        run.events.append(doc)
