"""Personal tokens for the JSON API: a member makes one for a tool, and revokes it.

Only a hash of the token is kept (like login sessions), so a copy of the database
cannot be used to act as anyone. A token acts as its member for member work only:
its actor carries no staff, admin or coordinator role, so staff pages and API routes
refuse it (members.require_staff says why), whatever the member's roles.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import replace

from appliance.box import Box
from appliance.dates import DAY_MS
from appliance.errors import N_, Conflict, InvalidInput, NotFound, NotSignedIn
from appliance.models import ApiToken
from appliance.services.accounts import STAFF_ROLES, Actor, actor_for, require_member
from appliance.text import one_line

PREFIX = "kith_"
NAME_MAX = 60
DAYS = (30, 90, 365)  # how long a token may last; the member picks one
TOKENS_MAX = 20  # live tokens one member may hold
# Roles a token never carries: staff work, and a coordinator's (every rider's addresses,
# booking paid journeys) are too much power for a credential that can leak from a tool.
TOKEN_LEAVES_OUT = frozenset({*STAFF_ROLES, "coordinator"})


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(box: Box, actor: Actor | None, name: str, days: int | str = 90) -> dict:
    """Make a token for the actor; return {id, name, token, expires_ms}.

    The token itself is shown this once: only its hash is stored.
    """
    require_member(actor)
    if actor.via_token:
        raise Conflict(N_("Make new tokens while signed in on the box, not with a token."))
    errors = {}
    name = one_line(name or "")
    if not name:
        errors["name"] = N_("Please name the token after the tool that will use it.")
    elif len(name) > NAME_MAX:
        errors["name"] = N_("Please keep the name under 60 characters.")
    try:
        days = int(days)
    except (TypeError, ValueError):
        days = 0
    if days not in DAYS:
        errors["days"] = N_("Please choose 30, 90 or 365 days.")
    if errors:
        raise InvalidInput(errors)
    now = box.log.now_ms()
    live = ApiToken.select().where(
        (ApiToken.member == actor.id) & ApiToken.revoked_ms.is_null() & (ApiToken.expires_ms > now)
    )
    if live.count() >= TOKENS_MAX:
        raise Conflict(N_("You have 20 tokens already: revoke one you no longer use first."))
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken.create(
        id=secrets.token_hex(8),
        member=actor.id,
        name=name,
        token_hash=_hash(token),
        created_ms=now,
        expires_ms=now + days * DAY_MS,
    )
    return {"id": row.id, "name": name, "token": token, "expires_ms": row.expires_ms}


def list_tokens(box: Box, actor: Actor | None) -> list[dict]:
    """Return the actor's tokens, newest first (never the tokens themselves)."""
    require_member(actor)
    now = box.log.now_ms()
    rows = (
        ApiToken.select()
        .where(ApiToken.member == actor.id)
        .order_by(ApiToken.created_ms.desc(), ApiToken.id)
    )
    return [
        {
            "id": r.id,
            "name": r.name,
            "created_ms": r.created_ms,
            "expires_ms": r.expires_ms,
            "last_used_ms": r.last_used_ms,
            "state": "revoked" if r.revoked_ms else ("expired" if r.expires_ms <= now else "live"),
        }
        for r in rows
    ]


def revoke_token(box: Box, actor: Actor | None, token_id: str) -> None:
    """Revoke one of the actor's tokens at once."""
    require_member(actor)
    row = ApiToken.get_or_none((ApiToken.id == str(token_id)) & (ApiToken.member == actor.id))
    if row is None:
        raise NotFound(N_("You have no such token."))
    if row.revoked_ms is not None:
        raise Conflict(N_("That token is already revoked."))
    row.revoked_ms = box.log.now_ms()
    row.save()


def actor_for_token(box: Box, token: str) -> Actor:
    """Return the member-only actor of a live token; raise NotSignedIn saying why not."""
    row = ApiToken.get_or_none(ApiToken.token_hash == _hash(token or ""))
    now = box.log.now_ms()
    if row is None:
        raise NotSignedIn(N_("That token is not known here: make one at /account/tokens."))
    if row.revoked_ms is not None:
        raise NotSignedIn(N_("That token was revoked: make a new one at /account/tokens."))
    if row.expires_ms <= now:
        raise NotSignedIn(N_("That token has expired: make a new one at /account/tokens."))
    actor = actor_for(box, row.member)
    if actor is None:
        raise NotSignedIn(N_("That token's account no longer exists."))
    if row.last_used_ms is None or now - row.last_used_ms > 60_000:
        # At most once a minute: a busy tool should not write on every request.
        ApiToken.update(last_used_ms=now).where(ApiToken.id == row.id).execute()
    return replace(actor, roles=actor.roles - TOKEN_LEAVES_OUT, via_token=True)
