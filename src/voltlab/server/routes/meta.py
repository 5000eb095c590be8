"""Liveness (no token needed, for health checks) and who the caller is."""

from importlib.metadata import version

from fastapi import APIRouter

from voltlab.server.auth import Viewer
from voltlab.server.models import HealthOut, WhoAmIOut
from voltlab.server.routes.common import errors

router = APIRouter(prefix="/api", tags=["server"])


@router.get("/health")
async def health() -> HealthOut:
    """The server is up (no token needed; tells nothing about the lab)."""
    return HealthOut(status="ok", version=version("voltlab"))


@router.get("/whoami", responses=errors())
async def whoami(principal: Viewer) -> WhoAmIOut:
    """The caller's token name and role."""
    return WhoAmIOut(name=principal.name, role=principal.role)
