"""bluesky (event-model) documents for each measuring step, kept in the store with its sample.

The engine drives instruments through the driver clients directly, so that many cycler channels
run at once (one RunEngine runs one plan at a time); it writes the same kind of documents a
bluesky plan would: a start naming the sample, a descriptor, events and a stop.
"""

import time
from collections.abc import Mapping
from typing import Any

import event_model
import numpy as np

Document = tuple[str, dict[str, Any]]


def _data_key(source: str, value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return {"source": source, "dtype": "string", "shape": []}
    if isinstance(value, bool):
        return {"source": source, "dtype": "boolean", "shape": []}
    if isinstance(value, int | float | np.number):
        return {"source": source, "dtype": "number", "shape": []}
    shape = list(np.shape(value))
    return {"source": source, "dtype": "array", "shape": shape}


class RunRecorder:
    """One run: ``event(data)`` for each reading, then ``stop(status)`` gives all documents."""

    def __init__(self, plan_name: str, instrument: str, metadata: Mapping[str, Any]) -> None:
        self._instrument = instrument
        self._bundle = event_model.compose_run(
            metadata={"plan_name": plan_name, "detectors": [instrument], **metadata}
        )
        self._documents: list[Document] = [("start", self._bundle.start_doc)]
        self._descriptor: Any = None

    @property
    def uid(self) -> str:
        return self._bundle.start_doc["uid"]

    def event(self, data: Mapping[str, Any]) -> None:
        if self._descriptor is None:
            keys = {k: _data_key(self._instrument, v) for k, v in data.items()}
            self._descriptor = self._bundle.compose_descriptor(name="primary", data_keys=keys)
            self._documents.append(("descriptor", self._descriptor.descriptor_doc))
        now = time.time()
        event = self._descriptor.compose_event(data=dict(data), timestamps=dict.fromkeys(data, now))
        self._documents.append(("event", event))

    def documents(self) -> list[Document]:
        """The documents so far (a run still open has no stop yet)."""
        return list(self._documents)

    def stop(self, exit_status: str = "success", reason: str = "") -> list[Document]:
        stop = self._bundle.compose_stop(exit_status=exit_status, reason=reason)
        self._documents.append(("stop", stop))
        return list(self._documents)
