"""What the routers share: the runtime dependency, error responses for OpenAPI, path ids."""

from typing import Annotated, Any

from fastapi import Depends, Path, Request

from voltlab.server.models import CAMPAIGN_ID, EXPERIMENT_ID, ErrorOut
from voltlab.server.runtime import LabRuntime


def runtime_of(request: Request) -> LabRuntime:
    runtime: LabRuntime = request.app.state.runtime
    return runtime


Runtime = Annotated[LabRuntime, Depends(runtime_of)]

CampaignId = Annotated[str, Path(description="Campaign id.", examples=[CAMPAIGN_ID])]
ExperimentId = Annotated[str, Path(description="Experiment id.", examples=[EXPERIMENT_ID])]
SampleId = Annotated[str, Path(description="Sample id.", examples=["powder-19c2"])]

SQLITE_INT_MAX = 2**63 - 1
"""Largest integer SQLite stores: sequence numbers and offsets beyond it cannot exist."""


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI descriptions of the error responses an endpoint may give."""
    text = {
        400: "The body cannot be parsed (not JSON, not UTF-8).",
        401: "Missing or invalid bearer token.",
        403: "The token's role may not do this (operator needed).",
        404: "No such campaign, experiment or sample.",
        409: "Not possible in the current state.",
        413: "Request body larger than the server's limit.",
        415: "Unsupported body media type.",
        422: "Invalid input; the detail names the field.",
    }
    return {code: {"model": ErrorOut, "description": text[code]} for code in (401, *codes)}


READ = errors(404)
ACT = errors(400, 403, 404, 409, 413, 422)
