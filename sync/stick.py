"""Carrying records on a USB stick: one bundle file per peer, made and read by `kith bundle`.

Export writes every record the peer has not acknowledged (by the vector it last
reported in a sync round; everything if it never synced), encrypted to that peer.
Import verifies the whole file and applies it in one transaction: a truncated,
tampered or foreign bundle applies nothing.
"""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from appliance.box import Box
from appliance.db import database
from appliance.models import Peer
from appliance.services import peers
from sync import bundle, exchange


class StickError(Exception):
    """A bundle that cannot be written or read; the message is for staff."""


@dataclass
class ImportResult:
    sender: str
    accepted: int = 0
    duplicates: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # origin -> records not trusted here


def bundle_name(box: Box, peer: Peer) -> str:
    """Return a file name saying who a bundle is from and for."""
    safe = "".join(ch if ch.isalnum() else "-" for ch in peer.name).strip("-")[:40] or "peer"
    return f"kith-for-{safe}-{peers.fingerprint(peer.origin).replace(' ', '')[:8]}.bundle"


def _lines_for(box: Box, peer: Peer):
    acked = json.loads(peer.acked) if peer.acked else {}
    accepts = json.loads(peer.accepts) if peer.accepts else None
    if accepts is None:
        # Never synced: offer what a newly paired peer accepts (us, it, and our peers).
        accepts = {o: None for o in exchange.held(box)}
    their_have = dict(acked)
    while (page := exchange.next_page(box, peer.origin, their_have, accepts)) is not None:
        yield from page.lines
        their_have[page.origin] = page.through


def export_for(box: Box, name: str, target: Path) -> tuple[Path, int]:
    """Write a bundle for one paired peer to a file (or into a folder); return (path, count)."""
    peer = peers.find(name)
    if not peers.is_paired(box, peer.origin):
        raise StickError(f"{peer.name} is not paired with this box; pair first")
    path = target / bundle_name(box, peer) if target.is_dir() else target
    partial = path.with_name(path.name + ".partial")
    # Write beside, flush to the stick, then rename: a stick pulled out half way never
    # holds a file that looks finished.
    try:
        with open(partial, "wb") as out:
            count = bundle.write_bundle(
                out, _lines_for(box, peer), box.log.key, peer.origin, box.log.now_ms()
            )
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    except OSError as exc:
        raise StickError(f"cannot write {path}: {exc.strerror}") from None
    return path, count


def import_file(box: Box, path: Path) -> ImportResult:
    """Verify a bundle made for this box and apply it whole, or apply nothing."""
    # Only a box paired here may send us a bundle; what it relays is checked record by
    # record as in a sync.
    trusted = [p["origin"] for p in peers.list_peers(box) if p["paired"]]
    try:
        inp = open(path, "rb")
    except OSError as exc:
        raise StickError(f"cannot read {path}: {exc.strerror}") from None
    with inp:
        try:
            pages = bundle.read_bundle(inp, box.log.key, trusted)
            result = ImportResult(sender=pages_sender(path))
            with database.atomic():
                for page in pages:
                    _apply(box, page, result)
        except bundle.BundleError as exc:
            raise StickError(str(exc)) from None
    return result


def pages_sender(path: Path) -> str:
    """Return the origin a bundle says it is from (checked by read_bundle's signature)."""
    with open(path, "rb") as inp:
        return bundle.bundle_header(inp)["from"]


def _apply(box: Box, page: list[bytes], result: ImportResult) -> None:
    # One origin at a time, so trust granted by a record earlier in the bundle counts
    # for the records after it, as it does across sync pages.
    for origin, run in itertools.groupby(page, key=_origin_of):
        lines = list(run)
        if origin is None:
            raise bundle.BundleError("a line in the bundle is not a record; nothing was applied")
        if origin not in box.log.trusted_origins():
            result.skipped[origin] = result.skipped.get(origin, 0) + len(lines)
            continue
        outcome = box.log.ingest(lines)
        if not outcome.ok:
            first = outcome.rejected[0]
            raise bundle.BundleError(
                f"a record in the bundle was refused ({first.reason}); nothing was applied"
            )
        result.accepted += len(outcome.accepted)
        result.duplicates += outcome.duplicates


def _origin_of(line: bytes) -> str | None:
    try:
        origin = json.loads(line).get("origin")
    except (ValueError, AttributeError):
        return None
    return origin if isinstance(origin, str) else None
