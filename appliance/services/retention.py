"""Retention: delete what Kith keeps only for a stated time, once that time is up.

PRIVACY.md states these periods; PERIODS below is the one list of them (a test checks
PRIVACY.md names every one). What is a signed record is not swept: records stay until
an erasure redacts them. The sweep deletes local rows only:

- a walk-in visitor's name and contact (appliance/services/assisted.py, forget_expired),
- login sessions past their expiry (a login lasts `session_days`),
- the password, sessions and contact of a member whose account was erased, should any
  still be here (the erasure deletes them; the sweep makes sure).

Ride addresses are never stored opened: a ride keeps only the sealed copy, and a page
opens it for the people allowed to read it, in memory, for that page alone.
Rate-limit memory is in memory only and forgotten when the server restarts.
"""

from __future__ import annotations

from appliance.box import Box
from appliance.db import database
from appliance.models import Account, LoginSession, Member, MemberPrivate
from appliance.services import assisted

DAY_MS = 86_400_000

# Every retention period Kith enforces, in days (PRIVACY.md states each one).
PERIODS = {
    "visitor_details_days": assisted.KEEP_DAYS,
    "visitor_details_after_resolved_days": assisted.RESOLVED_KEEP_DAYS,
}


def _expired_sessions(now: int) -> int:
    return LoginSession.delete().where(LoginSession.expires_ms <= now).execute()


def _erased_leftovers() -> int:
    """Delete the local rows of members whose account was erased; return how many."""
    erased = Member.select(Member.id).where(Member.erased == True)  # noqa: E712 (SQL)
    deleted = 0
    for model in (LoginSession, Account, MemberPrivate):
        deleted += model.delete().where(model.member.in_(erased)).execute()
    return deleted


def sweep(box: Box) -> dict[str, int]:
    """Delete every local row past its retention; return how many of each went."""
    visitors = assisted.forget_expired(box)
    now = box.log.now_ms()
    with database.atomic():
        sessions = _expired_sessions(now)
        leftovers = _erased_leftovers()
    return {"visitor_details": visitors, "sessions": sessions, "erased_account_rows": leftovers}
