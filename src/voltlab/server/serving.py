"""Running the server: the orchestrator and the API in one process (uvicorn), until SIGINT or
SIGTERM. Shutdown stops the engines here, leaving their campaigns resumable."""

import logging

import uvicorn

from voltlab.drivers import DriverConfig
from voltlab.orchestrator.steps import EngineSettings
from voltlab.server.app import create_app
from voltlab.server.runtime import LabRuntime
from voltlab.server.settings import ServerSettings, TokenSpec
from voltlab.server.tokens import hash_token, new_token

log = logging.getLogger(__name__)


def with_session_token(settings: ServerSettings) -> tuple[ServerSettings, str | None]:
    """Settings with a fresh operator token when none is configured, and that token (shown
    once to whoever started the server; only its hash is kept). None if tokens exist."""
    if settings.tokens:
        return settings, None
    token = new_token()
    spec = TokenSpec(name="session", role="operator", hash=hash_token(token))
    return settings.model_copy(update={"tokens": [spec]}), token


async def serve(
    settings: ServerSettings,
    *,
    instruments: DriverConfig | None = None,
    engine_settings: EngineSettings | None = None,
) -> None:
    """Serve the API on ``settings.host:settings.port`` for the lab file ``settings.lab``.
    ``instruments`` (e.g. a simulated lab's endpoints) overrides ``settings.instruments``."""
    runtime = LabRuntime(
        settings.lab,
        instruments=instruments or settings.instruments,
        engine_settings=engine_settings,
        events_endpoint=settings.events_endpoint,
    )
    app = create_app(settings, runtime)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        lifespan="on",
        # Events are short JSON sent to every client: compressing each copy costs the event
        # loop more than it saves on the wire.
        ws_per_message_deflate=False,
    )
    log.info("voltlab API on http://%s:%d (lab %s)", settings.host, settings.port, settings.lab)
    await uvicorn.Server(config).serve()
