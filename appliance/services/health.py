"""What staff must know about the box itself: origins quarantined after a fork."""

from __future__ import annotations

from appliance.models import Quarantine, TrustedOrigin
from appliance.services.accounts import Actor
from appliance.services.members import require_staff


def quarantined(actor: Actor | None) -> list[dict]:
    """Return the origins whose records are refused after a fork, for staff."""
    require_staff(actor)
    names = {t.origin: t.name for t in TrustedOrigin.select()}
    return [
        {
            "origin": q.origin,
            "name": names.get(q.origin, q.origin[:12]),
            "reason": q.reason,
            "at_ms": q.at_ms,
        }
        for q in Quarantine.select().order_by(Quarantine.at_ms)
    ]
