"""Who is calling the MCP server over HTTP: a bearer token, mapped to an actor.

Over stdio the client started the server, so the server acts as REGISTRY_ACTOR. Over HTTP any
process that reaches the port could call it, so every request must carry `Authorization: Bearer
<token>`, and the token names the actor (whose role the settings give, as everywhere). Tokens come
from REGISTRY_MCP_TOKENS (`actor=token` pairs, comma-separated); with none set, one token is made
for REGISTRY_ACTOR at start and printed once. The MCP SDK's bearer middleware checks the header and
answers 401; this module supplies the token table and reads the caller back inside a tool.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken

from registry.errors import BadInput

MIN_TOKEN_LENGTH = 24


@dataclass(frozen=True)
class StaticTokens:
    """The SDK's TokenVerifier over a fixed table of token → actor name (constant-time compare)."""

    actors_by_token: dict[str, str]

    async def verify_token(self, token: str) -> AccessToken | None:
        for known, actor in self.actors_by_token.items():
            if hmac.compare_digest(token.encode(), known.encode()):
                return AccessToken(token=token, client_id=actor, scopes=[], subject=actor)
        return None


def parse_tokens(spec: str) -> dict[str, str]:
    """`ada@example.com=<token>,ci-bot=<token>` → {token: actor}; a short or repeated token is refused."""
    table: dict[str, str] = {}
    for pair in (p.strip() for p in spec.split(",") if p.strip()):
        actor, sep, token = pair.partition("=")
        actor, token = actor.strip(), token.strip()
        if not sep or not actor or not token:
            raise BadInput("REGISTRY_MCP_TOKENS: give actor=token pairs separated by commas")
        if len(token) < MIN_TOKEN_LENGTH:
            raise BadInput(
                f"REGISTRY_MCP_TOKENS: the token of {actor} is shorter than {MIN_TOKEN_LENGTH} characters"
            )
        if token in table:
            raise BadInput(f"REGISTRY_MCP_TOKENS: {actor} and {table[token]} share a token")
        table[token] = actor
    return table


def http_tokens(spec: str, default_actor: str) -> tuple[dict[str, str], str | None]:
    """The token table, and the token made for `default_actor` when none was configured."""
    table = parse_tokens(spec)
    if table:
        return table, None
    made = secrets.token_urlsafe(32)
    return {made: default_actor}, made


def caller_name() -> str | None:
    """The actor named by the current HTTP request's token; None over stdio."""
    token = get_access_token()
    return token.client_id if token else None
