"""Retention: delete what Kith keeps only for a stated time, once that time is up.

PRIVACY.md states these periods; PERIODS below is the one list of them (a test checks
PRIVACY.md names every one). What is a signed record is not swept: records stay until
an erasure redacts them. The sweep deletes local rows only:

- a walk-in visitor's name and contact (appliance/services/assisted.py, forget_expired),
- login sessions past their expiry (a login lasts `session_days`),
- personal API tokens 30 days after they expired or were revoked,
- the password, sessions and contact of a member whose account was erased, should any
  still be here (the erasure deletes them; the sweep makes sure).

Ride addresses are never stored opened: a ride keeps only the sealed copy, and a page
opens it for the people allowed to read it, in memory, for that page alone.
Rate-limit memory is in memory only and forgotten when the server restarts.
"""

from __future__ import annotations

from appliance.box import Box
from appliance.db import database
from appliance.models import Account, ApiToken, LoginSession, Member, MemberPrivate
from appliance.services import assisted

DAY_MS = 86_400_000

# Every retention period Kith enforces, in days (PRIVACY.md states each one).
TOKEN_KEEP_DAYS = 30  # an expired or revoked API token stays listed (to its member) this long
PERIODS = {
    "visitor_details_days": assisted.KEEP_DAYS,
    "visitor_details_after_resolved_days": assisted.RESOLVED_KEEP_DAYS,
    "api_token_after_end_days": TOKEN_KEEP_DAYS,
}


def _expired_sessions(now: int) -> int:
    return LoginSession.delete().where(LoginSession.expires_ms <= now).execute()


def _ended_tokens(now: int) -> int:
    """Delete API tokens that expired or were revoked more than TOKEN_KEEP_DAYS ago."""
    cutoff = now - TOKEN_KEEP_DAYS * DAY_MS
    return (
        ApiToken.delete()
        .where((ApiToken.expires_ms <= cutoff) | (ApiToken.revoked_ms <= cutoff))
        .execute()
    )


def _erased_leftovers() -> int:
    """Delete the local rows of members whose account was erased; return how many."""
    erased = Member.select(Member.id).where(Member.erased == True)  # noqa: E712 (SQL)
    deleted = 0
    for model in (LoginSession, ApiToken, Account, MemberPrivate):
        deleted += model.delete().where(model.member.in_(erased)).execute()
    return deleted


def sweep(box: Box) -> dict[str, int]:
    """Delete every local row past its retention; return how many of each went."""
    visitors = assisted.forget_expired(box)
    now = box.log.now_ms()
    with database.atomic():
        sessions = _expired_sessions(now)
        tokens = _ended_tokens(now)
        leftovers = _erased_leftovers()
    return {
        "visitor_details": visitors,
        "sessions": sessions,
        "api_tokens": tokens,
        "erased_account_rows": leftovers,
    }
