"""The operator's REST and WebSocket API (and, later, the dashboard), on top of the
orchestrator: one process runs the campaign engines and the API on one lab file.

    settings = load_server_settings(Path("server.yaml"))
    runtime = LabRuntime(settings.lab, instruments=settings.instruments)
    app = create_app(settings, runtime)        # serve with uvicorn
"""

from voltlab.server.app import create_app
from voltlab.server.auth import Principal
from voltlab.server.runtime import LabRuntime
from voltlab.server.settings import ServerSettings, TokenSpec, load_server_settings
from voltlab.server.tokens import hash_token, new_token, verify_token

__all__ = [
    "LabRuntime",
    "Principal",
    "ServerSettings",
    "TokenSpec",
    "create_app",
    "hash_token",
    "load_server_settings",
    "new_token",
    "verify_token",
]
