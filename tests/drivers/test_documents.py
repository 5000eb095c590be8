"""ValidatingSink: accepts a well-formed run, refuses documents that break the schema or the run."""

from typing import Any

import event_model
import pytest

from voltlab.drivers.documents import InvalidDocument, ValidatingSink, validate_document


def compose(sample_id: str = "p-1") -> dict[str, Any]:
    """A start, a descriptor, two events and a stop, made by event-model itself."""
    run = event_model.compose_run(metadata={"plan_name": "measure", "sample_id": sample_id})
    keys = {"counts": {"dtype": "array", "shape": [3], "source": "test"}}
    stream = run.compose_descriptor(name="primary", data_keys=keys)
    events = [
        stream.compose_event(data={"counts": [1.0, 2.0, float(i)]}, timestamps={"counts": 0.0})
        for i in range(2)
    ]
    return {
        "start": run.start_doc,
        "descriptor": stream.descriptor_doc,
        "events": events,
        "stop": run.compose_stop(),
    }


def feed(sink: ValidatingSink, docs: dict[str, Any]) -> None:
    sink("start", docs["start"])
    sink("descriptor", docs["descriptor"])
    for event in docs["events"]:
        sink("event", event)
    sink("stop", docs["stop"])


def test_a_well_formed_run_is_kept_in_order() -> None:
    sink, docs = ValidatingSink(), compose()
    feed(sink, docs)
    assert [name for name, _ in sink.documents] == ["start", "descriptor", "event", "event", "stop"]
    (run,) = sink.runs.values()
    assert run.events_of("primary") == docs["events"] and run.events_of("baseline") == []
    assert run.summary() == {
        "plan_name": "measure",
        "sample_id": "p-1",
        "exit_status": "success",
        "events": 2,
        "data_keys": ["counts"],
    }


def test_schema_violations_name_the_field() -> None:
    start = dict(compose()["start"])
    del start["time"]
    with pytest.raises(InvalidDocument, match=r"invalid start document: .*'time'"):
        validate_document("start", start)
    stop = dict(compose()["stop"]) | {"exit_status": "exploded"}
    with pytest.raises(InvalidDocument, match="exit_status"):
        validate_document("stop", stop)
    with pytest.raises(InvalidDocument, match="unknown document kind"):
        validate_document("memo", {})


def test_documents_that_do_not_fit_their_run_are_refused() -> None:
    docs, other = compose(), compose()
    sink = ValidatingSink()
    with pytest.raises(InvalidDocument, match="unknown run start"):
        sink("descriptor", docs["descriptor"])
    sink("start", docs["start"])
    with pytest.raises(InvalidDocument, match="started twice"):
        sink("start", docs["start"])
    with pytest.raises(InvalidDocument, match="unknown descriptor"):
        sink("event", docs["events"][0])
    sink("descriptor", docs["descriptor"])
    odd = docs["events"][0] | {"data": {"volts": 1.0}, "timestamps": {"volts": 0.0}}
    with pytest.raises(InvalidDocument, match="differ from the descriptor"):
        sink("event", odd)
    with pytest.raises(InvalidDocument, match="unknown run start"):
        sink("stop", other["stop"])
    sink("stop", docs["stop"])
    with pytest.raises(InvalidDocument, match="already stopped"):
        sink("stop", docs["stop"])
    assert [name for name, _ in sink.documents] == ["start", "descriptor", "stop"]
