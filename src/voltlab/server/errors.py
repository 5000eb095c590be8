"""Errors the API answers with, and how orchestrator errors map onto HTTP status codes.

Unknown ids: 404 naming the id. An action that does not apply now (wrong state, already
running): 409 with the reason. A bad campaign file or bad parameters: 422 naming the field.
Every error body is ``{"detail": ...}``.
"""

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from voltlab.errors import VoltlabError
from voltlab.orchestrator.control import ControlError
from voltlab.orchestrator.errors import CampaignError, StoreError, TransitionError
from voltlab.orchestrator.export import BundleError
from voltlab.planners import PlannerInputError


class ServerError(VoltlabError):
    """Base of the API's own errors."""


class NotFoundError(ServerError, LookupError):
    """No campaign, experiment or sample with this id (the message names it)."""


class ConflictError(ServerError, RuntimeError):
    """The action does not apply in the current state (the message says why)."""


class InvalidInputError(ServerError, ValueError):
    """A request value is wrong (the message names the field)."""


class UnsupportedMediaError(InvalidInputError):
    """The request body's media type is not one the endpoint reads."""


def _handler(status_code: int, lab: Path):
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        # Store messages start with the lab file's full path; the client needs only its name.
        detail = str(exc).replace(str(lab), lab.name)
        return JSONResponse({"detail": detail}, status_code=status_code)

    return handle


def install_error_handlers(app: FastAPI, lab: Path) -> None:
    """Map voltlab's errors to 404 / 409 / 422 responses (most specific class first)."""
    for error, code in (
        (NotFoundError, 404),
        (UnsupportedMediaError, 415),
        (ConflictError, 409),
        (InvalidInputError, 422),
        (CampaignError, 422),
        (PlannerInputError, 422),
        (ControlError, 409),
        (TransitionError, 409),
        (StoreError, 409),
        (BundleError, 409),
    ):
        app.add_exception_handler(error, _handler(code, lab))
