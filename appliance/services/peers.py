"""Peers: boxes this one has met, pairing them under staff control, and trust.

Pairing needs a person at each end: both boxes show the same short code derived from
both public keys, and staff confirm it on each side. Only the confirmation writes a
record (trust.granted); revoking writes trust.revoked with the last seq still accepted.
"""

from __future__ import annotations

import hashlib
import json

from appliance.box import Box
from appliance.errors import N_, Conflict, InvalidInput, NotFound
from appliance.models import Centre, Peer, TrustedOrigin
from appliance.records import RecordError, unb64url
from appliance.services.accounts import Actor
from appliance.services.members import require_staff

PAIRING_PREFIX = b"kith/pair/v1\n"


def fingerprint(origin: str) -> str:
    """Return a box's short fingerprint: 16 hex digits of SHA-256 of its key ('a1b2-c3d4-…').

    Raises ValueError for anything that is not a 32-byte public key.
    """
    try:
        raw = unb64url(origin)
    except (RecordError, TypeError) as exc:
        raise ValueError(f"not an origin: {exc}") from None
    if len(raw) != 32:
        raise ValueError("not an origin: an Ed25519 public key is 32 bytes")
    digest = hashlib.sha256(raw).hexdigest()[:16]
    return "-".join(digest[i : i + 4] for i in range(0, 16, 4))


def pairing_code(origin_a: str, origin_b: str) -> str:
    """Return the six-digit code both boxes show while pairing (order does not matter)."""
    keys = sorted([unb64url(origin_a), unb64url(origin_b)])
    number = int.from_bytes(hashlib.sha256(PAIRING_PREFIX + b"".join(keys)).digest()[:8], "big")
    digits = f"{number % 1_000_000:06d}"
    return f"{digits[:3]} {digits[3:]}"


def remember(box: Box, origin: str, name: str, url: str | None = None) -> Peer:
    """Record (or refresh) a box we have met; it is not trusted until confirmed."""
    if origin == box.origin:
        raise InvalidInput({"address": N_("That address is this box itself.")})
    peer = Peer.get_or_none(Peer.origin == origin)
    if peer is None:
        return Peer.create(origin=origin, name=name, url=url, added_ms=box.log.now_ms())
    peer.name = name
    if url:
        peer.url = url
    peer.save()
    return peer


def _direct_grants(box: Box, origin: str) -> list[TrustedOrigin]:
    return list(
        TrustedOrigin.select().where(
            (TrustedOrigin.truster == box.origin) & (TrustedOrigin.origin == origin)
        )
    )


def is_paired(box: Box, origin: str) -> bool:
    """Return True if this box trusts the origin directly and without a limit."""
    return any(g.last_seq is None for g in _direct_grants(box, origin))


def confirm(box: Box, code: str, actor: Actor | None = None) -> Peer:
    """Trust the met box whose pairing code staff read out; the CLI acts as the box."""
    if actor is not None:
        require_staff(actor)
    wanted = "".join(ch for ch in code or "" if ch.isdigit())
    matches = [
        p for p in Peer.select() if pairing_code(box.origin, p.origin).replace(" ", "") == wanted
    ]
    if not matches:
        raise InvalidInput(
            {"code": N_("No box waiting to pair shows that code. Check both screens again.")}
        )
    if len(matches) > 1:
        # Six digits can be matched by a box made for it: never guess between two.
        raise Conflict(
            N_("More than one box shows that code. Compare the fingerprints before pairing.")
        )
    peer = matches[0]
    if is_paired(box, peer.origin):
        raise Conflict(N_("%(name)s is already paired."), name=peer.name)
    box.log.append(
        "trust.granted",
        {"origin": peer.origin, "name": peer.name},
        author=actor.id if actor else None,
    )
    return peer


def find(name_or_origin: str) -> Peer:
    """Return the peer with that name, origin or fingerprint, or raise NotFound."""
    text = (name_or_origin or "").strip()
    for peer in Peer.select():
        if text in (peer.origin, peer.name, fingerprint(peer.origin)):
            return peer
    raise NotFound(N_("There is no peer called %(name)s."), name=text)


def revoke(box: Box, name_or_origin: str, actor: Actor | None = None) -> int:
    """Stop trusting a peer beyond the records already held; return that last seq."""
    if actor is not None:
        require_staff(actor)
    peer = find(name_or_origin)
    grants = [g for g in _direct_grants(box, peer.origin) if g.last_seq is None]
    if not grants:
        raise Conflict(N_("%(name)s is not paired."), name=peer.name)
    last_seq = box.log.version_vector().get(peer.origin, 0)
    for grant in grants:
        box.log.append(
            "trust.revoked",
            {"last_seq": last_seq},
            subject=grant.id,
            author=actor.id if actor else None,
        )
    return last_seq


def list_peers(box: Box) -> list[dict]:
    """Return every box met, paired or waiting, with how syncing with it went."""
    return [
        {
            "origin": p.origin,
            "name": p.name,
            "fingerprint": fingerprint(p.origin),
            "url": p.url,
            "paired": is_paired(box, p.origin),
            "code": pairing_code(box.origin, p.origin),
            "last_sync_ms": p.last_sync_ms,
            "last_error": p.last_error,
            "records_in": p.records_in,
            "records_out": p.records_out,
        }
        for p in Peer.select().order_by(Peer.name)
    ]


def set_address(origin: str, url: str) -> None:
    """Remember where a peer was last seen on the LAN."""
    stale = Peer.url.is_null() | (Peer.url != url)
    Peer.update(url=url).where((Peer.origin == origin) & stale).execute()


def freshness(box: Box) -> list[dict]:
    """Return when this box last synced with each paired centre, for the board's footer."""
    return [
        {"name": p.name, "last_sync_ms": p.last_sync_ms}
        for p in Peer.select().order_by(Peer.name)
        if is_paired(box, p.origin)
    ]


def trust_report(box: Box) -> list[dict]:
    """Return every origin this box accepts records from, and why."""
    names = {p.origin: p.name for p in Peer.select()}
    names.update({t.origin: t.name for t in TrustedOrigin.select()})
    names.update({c.origin: c.name for c in Centre.select()})
    report = []
    for origin, limit in box.log.trusted_origins().items():
        if origin == box.origin:
            why = "this box"
        elif _direct_grants(box, origin):
            why = "paired here"
        else:
            vouchers = [
                names.get(t.truster, t.truster[:8])
                for t in TrustedOrigin.select().where(TrustedOrigin.origin == origin)
            ]
            why = "relayed by " + ", ".join(sorted(set(vouchers)))
        report.append(
            {"origin": origin, "name": names.get(origin, origin[:8]), "why": why, "last_seq": limit}
        )
    return report


def note_sync(
    box: Box,
    origin: str,
    records_in: int,
    records_out: int,
    error: str | None,
    about_them: dict | None = None,
) -> None:
    """Record the outcome of a sync round with a peer, and what it said it holds."""
    changes = {
        Peer.last_sync_ms: box.log.now_ms() if error is None else Peer.last_sync_ms,
        Peer.last_error: error,
        Peer.records_in: Peer.records_in + records_in,
        Peer.records_out: Peer.records_out + records_out,
    }
    if about_them:
        changes[Peer.acked] = json.dumps(about_them.get("have", {}))
        changes[Peer.accepts] = json.dumps(about_them.get("accepts", {}))
    Peer.update(changes).where(Peer.origin == origin).execute()
