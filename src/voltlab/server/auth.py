"""Bearer-token authentication and the two roles: viewers read, operators also act.

Verifying a token against its scrypt hashes is slow on purpose (tens of ms), so the outcome for
a token, accepted or refused, is remembered by its SHA-256 (the configured tokens do not change
while the process runs); a token never seen before pays the full price.
"""

import hashlib
import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, WebSocket, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from voltlab.server.settings import Role, TokenSpec
from voltlab.server.tokens import verify_token

log = logging.getLogger(__name__)
MAX_REMEMBERED = 1024


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's name and role."""

    name: str
    role: Role

    @property
    def may_act(self) -> bool:
        return self.role == "operator"


class Authenticator:
    """Checks tokens against the configured hashes."""

    def __init__(self, tokens: list[TokenSpec]) -> None:
        self._tokens = list(tokens)
        self._known: dict[bytes, Principal | None] = {}

    def principal(self, token: str) -> Principal | None:
        """Who holds ``token`` (None: no configured token matches)."""
        digest = hashlib.sha256(token.encode()).digest()
        if digest in self._known:
            return self._known[digest]
        principal = next(
            (Principal(s.name, s.role) for s in self._tokens if verify_token(token, s.hash)), None
        )
        if len(self._known) >= MAX_REMEMBERED:
            self._known.clear()
        self._known[digest] = principal
        return principal


bearer = HTTPBearer(
    auto_error=False,
    description="An API token from the server's settings: `Authorization: Bearer <token>`.",
)


def _unauthorised(detail: str, error: str | None = None) -> HTTPException:
    challenge = "Bearer" if error is None else f'Bearer error="{error}"'
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": challenge}
    )


def authenticator_of(request: Request) -> Authenticator:
    auth: Authenticator = request.app.state.authenticator
    return auth


def viewer(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """Any valid token (viewer or operator): may read."""
    if credentials is None:
        raise _unauthorised("missing bearer token: send 'Authorization: Bearer <token>'")
    principal = authenticator_of(request).principal(credentials.credentials)
    if principal is None:
        raise _unauthorised("invalid token", "invalid_token")
    return principal


def operator(principal: Annotated[Principal, Depends(viewer)]) -> Principal:
    """An operator's token: may act."""
    if not principal.may_act:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"token {principal.name!r} has role viewer; this action needs role operator",
        )
    return principal


Viewer = Annotated[Principal, Depends(viewer)]
Operator = Annotated[Principal, Depends(operator)]


def websocket_principal(websocket: WebSocket, token: str | None) -> Principal | None:
    """The caller of a WebSocket: ``Authorization: Bearer`` header, or ``?token=`` (browsers
    cannot set headers on a WebSocket)."""
    header = websocket.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        token = value.strip()
    if not token:
        return None
    auth: Authenticator = websocket.app.state.authenticator
    return auth.principal(token)
