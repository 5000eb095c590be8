"""The FastAPI application: routers per area, auth, error mapping, CORS and size limits.

The app's lifespan starts the :class:`LabRuntime` (opening the lab file, resuming unfinished
campaigns if the settings say so) and stops it at shutdown, leaving campaigns resumable.
"""

import contextlib
from collections.abc import AsyncIterator
from importlib.metadata import version

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from voltlab.server.auth import Authenticator
from voltlab.server.dashboard import mount_dashboard
from voltlab.server.errors import install_error_handlers
from voltlab.server.limits import BodySizeLimit
from voltlab.server.routes import (
    campaigns,
    events,
    experiments,
    instruments,
    measurements,
    meta,
    operator,
    results,
)
from voltlab.server.runtime import LabRuntime
from voltlab.server.settings import ServerSettings

DESCRIPTION = """\
The operator API of a voltlab lab: campaigns, the human in the loop (approve, veto, manual
experiments, exclusions, pause, resume, abort), instruments, samples with lineage, measurements,
analyses, planner decisions, the Pareto front, and live events over a WebSocket
(`/ws/events?after=SEQ`).

Every call but `/api/health` needs `Authorization: Bearer <token>`; viewer tokens read,
operator tokens also act. Times are Unix seconds.
"""


def create_app(
    settings: ServerSettings, runtime: LabRuntime, *, event_poll_s: float = 1.0
) -> FastAPI:
    """The API on ``runtime`` (started and stopped by the app's lifespan)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start(resume_unfinished=settings.resume_unfinished)
        try:
            yield
        finally:
            await runtime.close()

    app = FastAPI(
        title="voltlab operator API",
        version=version("voltlab"),
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.authenticator = Authenticator(settings.tokens)
    app.state.event_poll_s = event_poll_s
    for module in (meta, campaigns, operator, instruments, experiments, measurements, results,
                   events):  # fmt: skip
        app.include_router(module.router)
    mount_dashboard(app)
    install_error_handlers(app, runtime.lab_path)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    return app
