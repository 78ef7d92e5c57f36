"""Build signed records of made-up origins, as a peer box would send them.

Tests use this instead of a second Box because every box in one process shares the one
peewee database handle: a standalone signer needs no database at all.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.records import FORMAT_VERSION, encode, public_key_text, record_id, sign

# 2026-01-01T00:00:00Z, the hlc the made-up origins start from.
BASE_MS = 1_767_225_600_000
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Made:
    """One signed record: its id, its exact wire line and its fields."""

    id: str
    line: bytes
    fields: dict


def key_from_name(name: str) -> Ed25519PrivateKey:
    """Return a deterministic Ed25519 key for a test origin name."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(name.encode()).digest())


class Origin:
    """A made-up box: its key, and the seq, prev and hlc of its chain so far."""

    def __init__(self, name: str, start_ms: int = BASE_MS, key: Ed25519PrivateKey | None = None):
        self.key = key or key_from_name(name)
        self.origin = public_key_text(self.key)
        self.seq = 0
        self.prev: str | None = None
        self.hlc = [start_ms, -1]

    def tick(self, ms: int = 0) -> None:
        """Advance this origin's clock by ms (0: the next record only bumps the counter)."""
        if ms:
            self.hlc = [self.hlc[0] + ms, -1]

    def make(
        self,
        kind: str,
        body: dict | None = None,
        *,
        subject: str | None = None,
        author: str | None = None,
        scope: str = "federation",
        hlc: list[int] | None = None,
        seq: int | None = None,
        prev: str | None | bool = False,
        advance: bool = True,
    ) -> Made:
        """Sign the next record of this origin's chain.

        seq, prev and hlc can be forced to build forks, gaps and skewed clocks; with
        advance=False the chain position is not consumed (for a forked twin).
        """
        if hlc is None:
            hlc = [self.hlc[0], self.hlc[1] + 1]
        unsigned = {
            "v": FORMAT_VERSION,
            "origin": self.origin,
            "seq": self.seq + 1 if seq is None else seq,
            "prev": self.prev if prev is False else prev,
            "hlc": hlc,
            "author": author,
            "kind": kind,
            "subject": subject,
            "scope": scope,
            "body": {} if body is None else body,
        }
        signed = sign(unsigned, self.key)
        made = Made(id=record_id(unsigned), line=encode(signed), fields=signed)
        if advance:
            self.seq = unsigned["seq"]
            self.prev = made.id
            self.hlc = list(hlc)
        return made


def lines(records: list[Made]) -> list[bytes]:
    """Return the wire lines of some made records."""
    return [r.line for r in records]


def post_body(
    type_: str = "need",
    title: str = "Tins for Friday",
    *,
    org: str | None = None,
    items: dict[str, int] | None = None,
    use_by: str | None = None,
    category: str = "food",
    place: str = "Hall",
    needed_by: str | None = None,
) -> dict:
    """Return a post.created body; with org (and items {item id: qty}) a food post's."""
    body = {
        "type": type_,
        "title": title,
        "details": "",
        "category": category,
        "place": place,
        "needed_by": needed_by,
    }
    if org is not None:
        body["org"] = org
    if items:
        body["lines"] = [{"item": item, "qty": qty} for item, qty in items.items()]
    if use_by is not None:
        body["use_by"] = use_by
    return body


def ride_body(rider: str, **changes) -> dict:
    """Return a ride.requested body for a rider (a member id); keyword arguments change
    fields (a one-off pickup on Tuesday 2026-01-13 at 09:30 in London by default)."""
    body = {
        "rider": rider,
        "from_area": "Millbrook",
        "to_area": "City Hospital",
        "start": "2026-01-13T09:30",
        "tz": "Europe/London",
        "time_is": "pickup",
        "window": 15,
        "rrule": None,
        "return_at": None,
        "passengers": 1,
        "needs": [],
        "regular_driver": None,
    }
    return {**body, **changes}


def vouch_body(expires: str = "2027-01-01", seats: int = 4, **features: bool) -> dict:
    """Return a driver.vouched body: a licence check to `expires` and the vehicle."""
    vehicle = {"seats": seats, "wheelchair": False, "folded_chair": False, "dogs": False}
    check = {"check": "licence", "label": "Driving licence seen", "seen": "2025-12-01"}
    return {"checks": [{**check, "expires": expires}], "vehicle": {**vehicle, **features}}


def paid_body(date: str, cost: int = 2400, provider: str = "town-taxis") -> dict:
    """Return a ride.paid body: a booking with a provider for one journey."""
    return {
        "date": date,
        "provider": provider,
        "provider_name": "Town Taxis",
        "cost": cost,
        "reference": "TT-1",
    }
