"""Schemathesis against the OpenAPI document, in-process: generated requests (valid and
invalid, a bounded and deterministic number per operation) never get a 5xx, and responses
conform to the documented schemas. Each case is sent as generated (unknown ids, mostly) and
again with the ids of a real finished campaign, so the data endpoints answer with real data.

Runs on a copy of the session's lab file, so the operator actions it fuzzes change nothing the
other tests read."""

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from tests.server.conftest import Served
from tests.server.server_fixtures import OPERATOR
from voltlab.orchestrator.store import Store
from voltlab.server import LabRuntime, ServerSettings, create_app

EXAMPLES_PER_OPERATION = 20
CHECKED_BEYOND = {
    "POST /api/campaigns",
    "POST /api/campaigns/{campaign_id}/experiments",
}
"""Operations whose input is checked beyond what a JSON schema can say (the campaign YAML, a
manual experiment against the campaign's search space): a schema-valid request may get 422."""
FUZZ = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def _copy(source: Path, target: Path) -> None:
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


@pytest.fixture(scope="session")
def real_ids(served: Served, finished: str) -> dict[str, str]:
    with Store.open(served.lab) as store:
        experiment = next(e for e in store.experiments(finished) if e.state == "completed")
        sample = store.samples(experiment.id)[-1]
    return {"campaign_id": finished, "experiment_id": experiment.id, "sample_id": sample.id}


@pytest.fixture(scope="session")
def fuzzed_app(
    served: Served,
    real_ids: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
    token_hashes: list[dict[str, str]],
) -> Iterator[FastAPI]:
    lab = tmp_path_factory.mktemp("fuzz") / "lab.sqlite"
    _copy(served.lab, lab)
    settings_ = ServerSettings(lab=lab, tokens=token_hashes, resume_unfinished=False)
    yield create_app(settings_, LabRuntime(lab, instruments=served.instruments))
    shutdown_lifespans()  # schemathesis started the app's lifespan on its own event loop


@pytest.fixture(scope="session")
def api_schema(fuzzed_app: FastAPI) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_generated_requests_get_no_server_error(
    api_schema: schemathesis.BaseSchema, real_ids: dict[str, str], mode: GenerationMode
) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 25
    replayed: set[str] = set()

    def check(case: schemathesis.Case) -> None:
        excluded = [positive_data_acceptance] if case.operation.label in CHECKED_BEYOND else []
        if mode is GenerationMode.NEGATIVE:
            # Not a server error: unknown query parameters are ignored (FastAPI), and the
            # operator header this test always sends makes a "missing token" case valid.
            excluded.append(negative_data_rejection)
        case.call_and_validate(headers=OPERATOR, excluded_checks=excluded)
        if not case.path_parameters:
            return
        case.path_parameters = {name: real_ids[name] for name in case.path_parameters}
        key = repr((case.operation.label, case.query, case.body))
        if key not in replayed:  # a real id once per distinct query and body
            replayed.add(key)
            case.call_and_validate(headers=OPERATOR, excluded_checks=excluded)

    fuzzed = 0
    for operation in operations:

        @FUZZ
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: schemathesis.Case) -> None:
            check(case)

        try:
            run()
        except Unsatisfiable:
            # No invalid input exists for it (no parameters, or only free-form strings).
            assert mode is GenerationMode.NEGATIVE, operation.label
            continue
        fuzzed += 1
    assert fuzzed >= (len(operations) if mode is GenerationMode.POSITIVE else 10)
