"""What two boxes exchange: which origins may cross, what each side has, one page at a time.

Both directions use the same rules, so pull (a peer reading from us) and push (us
writing to a peer) cannot drift apart.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass

from appliance.box import Box
from appliance.db import database
from appliance.models import StoredRecord
from appliance.records import is_stub

MAX_PAGE_RECORDS = 500
MAX_PAGE_BYTES = 192 * 1024  # under the web app's request limit, so a push page fits


@dataclass(frozen=True)
class Page:
    """One origin's records from `after` up to `through` (local records stepped over)."""

    origin: str | None  # None: nothing more to send
    after: int
    through: int
    lines: list[bytes]
    more: bool

    def header(self, **extra) -> bytes:
        """Return the JSON header line that travels before the page's records."""
        return json.dumps(
            {
                "origin": self.origin,
                "after": self.after,
                "through": self.through,
                "count": len(self.lines),
                "more": self.more,
                **extra,
            },
            sort_keys=True,
        ).encode("ascii")


def sendable(
    box: Box, peer: str, accepts: dict[str, int | None], ours: dict[str, int] | None = None
) -> dict[str, int]:
    """Return {origin: highest seq} this box may send a peer, in the order to send them.

    We offer our own records, the peer's, and those of the boxes we trust directly (one
    step of relayed trust), each up to where we revoked it, and only what the peer says
    it accepts (`accepts`, its trusted origins: it may have revoked one we still trust).
    Our own origin goes first, so our trust records arrive before what they vouch for.
    """
    vector = held(box) if ours is None else ours
    limits = {**box.log.granted_here(), box.origin: None, peer: None}
    order = [box.origin] + sorted(o for o in limits if o != box.origin)
    result = {}
    for origin in order:
        if origin not in accepts:
            continue
        upto = vector.get(origin, 0)
        for limit in (limits[origin], accepts[origin]):
            if limit is not None:
                upto = min(upto, limit)
        if upto:
            result[origin] = upto
    return result


def held(box: Box) -> dict[str, int]:
    """Return {origin: n}: every record of that origin up to n that will ever leave its
    box is stored here.

    That is our contiguous vector, raised by what peers' pages declared they covered: a
    page covers all its origin's records in its range except the ones kept local at
    their origin, which leave gaps no peer can ever fill.
    """
    covered = dict(database.execute_sql("SELECT origin, MAX(seq) FROM peer_cursor GROUP BY origin"))
    have = {}
    for origin in dict.fromkeys([*box.log.stored_origins(), *covered]):
        cursor = covered.get(origin, 0)
        # Without the record after a cursor, the contiguous run cannot pass the cursor:
        # one index probe instead of counting all of a large origin's records.
        if cursor and not box.log.holds_seq(origin, cursor + 1):
            have[origin] = cursor
            continue
        seq = max(cursor, box.log.contiguous(origin))
        if seq:
            have[origin] = seq
    # Our own chain may have gaps below our seq after a restore (records kept local and
    # lost with the old disk, appliance/backup.py): nothing in them will ever leave here.
    if (own := box.log.state().seq) > have.get(box.origin, 0):
        have[box.origin] = own
    return have


def lag(have: dict[str, int], accepts: dict, theirs: dict) -> int:
    """Return about how many records a peer that holds `theirs` has of the origins we
    accept beyond what we hold (`have`): an estimate, for choosing how to pull."""
    if not isinstance(theirs, dict):
        return 0
    return sum(
        max(0, seq - have.get(origin, 0))
        for origin, seq in theirs.items()
        if origin in accepts and isinstance(seq, int)
    )


def accepts(box: Box) -> dict[str, int | None]:
    """Return the origins this box will take from a peer: trusted and not quarantined."""
    quarantined = box.log.quarantined()
    return {o: limit for o, limit in box.log.trusted_origins().items() if o not in quarantined}


def advance_cursor(peer: str, origin: str, through: int) -> None:
    """Move our cursor for a peer's copy of an origin forward (inside the ingest transaction)."""
    database.execute_sql(
        "INSERT INTO peer_cursor (peer, origin, seq) VALUES (?, ?, ?) "
        "ON CONFLICT (peer, origin) DO UPDATE SET seq = excluded.seq "
        "WHERE peer_cursor.seq < excluded.seq",
        (peer, origin, through),
    )


def next_page(
    box: Box,
    peer: str,
    their_have: dict[str, int],
    their_accepts: dict[str, int | None],
    max_records: int = MAX_PAGE_RECORDS,
    max_bytes: int = MAX_PAGE_BYTES,
    ours: dict[str, int] | None = None,
) -> Page | None:
    """Return the next page the peer lacks, or None when it has everything we may send.

    Only an origin's own box may declare that a range ends in records it keeps local;
    a relaying box's page ends at its last record, and a range holding nothing but
    another box's local records is not offered at all.
    """
    offer = sendable(box, peer, their_accepts, ours)
    ahead = [(o, upto) for o, upto in offer.items() if upto > their_have.get(o, 0)]
    while ahead:
        origin, upto = ahead.pop(0)
        after = their_have.get(origin, 0)
        lines, through = box.log.records_after(origin, after, upto, max_records, max_bytes)
        if origin != box.origin:
            if not lines:
                continue
            through = json.loads(lines[-1])["seq"]
        kept, support = supporting_erasures(lines, max_bytes)
        if len(kept) < len(lines):  # cut to make room for the erasures: ends at its last record
            lines, through = kept, json.loads(kept[-1])["seq"]
        lines = lines + support
        return Page(origin, after, through, lines, more=through < upto or bool(ahead))
    return None


def supporting_erasures(
    lines: list[bytes], max_bytes: int | None = None
) -> tuple[list[bytes], list[bytes]]:
    """Return the page's lines, cut if need be, and the erasure records their redacted
    stubs name, to send after them.

    A receiver accepts a stub only beside a valid erasure that covers it (PROTOCOL.md
    section 8), and a page is judged on its own: without these, a box meeting an origin
    whose erasure lies pages after the member's records could never get past them. If the
    lines and those erasures (one newline each) would pass max_bytes, records are dropped
    from the end of the page until they fit, keeping at least one.
    """
    named: list[str | None] = []
    for line in lines:
        fields = json.loads(line) if b'"redacted"' in line else None
        named.append(fields["redacted"]["erasure"] if fields and is_stub(fields) else None)
    wanted = sorted({name for name in named if name})
    if not wanted:
        return lines, []
    rows = (
        StoredRecord.select(StoredRecord.id, StoredRecord.raw)
        .where(StoredRecord.id.in_(wanted) & (StoredRecord.kind == "member.erased"))
        .tuples()
    )
    erasures = {record_id: bytes(raw) for record_id, raw in rows}
    # Where an erasure is itself one of the page's records, it needs no second copy.
    at = {line: number for number, line in enumerate(lines)}
    placed = {name: at.get(raw, len(lines)) for name, raw in erasures.items()}
    uses = {name: named.count(name) for name in erasures}
    kept = len(lines)
    size = sum(len(line) + 1 for line in lines)
    while True:
        support = [erasures[n] for n in sorted(erasures) if uses[n] and placed[n] >= kept]
        total = size + sum(len(raw) + 1 for raw in support)
        if max_bytes is None or total <= max_bytes or kept == 1:
            return lines[:kept], support
        kept -= 1
        size -= len(lines[kept]) + 1
        if named[kept] in uses:
            uses[named[kept]] -= 1


def parse_page(body: bytes) -> tuple[dict, list[bytes]]:
    """Split a page body into its header and record lines; raise ValueError if malformed."""
    first, _, rest = body.partition(b"\n")
    header = json.loads(first)
    if not isinstance(header, dict):
        raise ValueError("the page header is not an object")
    for name in ("origin", "after", "through", "count", "more"):
        if name not in header:
            raise ValueError(f"the page header has no {name}")
    lines = [line for line in rest.split(b"\n") if line.strip()]
    if len(lines) != header["count"]:
        raise ValueError("the page holds a different number of records than its header says")
    if not isinstance(header["through"], int) or not isinstance(header["after"], int):
        raise ValueError("the page header's after and through must be numbers")
    if header["origin"] is not None and not isinstance(header["origin"], str):
        raise ValueError("the page header's origin must be an origin")
    if header["through"] < header["after"]:
        raise ValueError("the page header's through is before its after")
    return header, lines


def check_page(
    header: dict, lines: list[bytes], sender: str, parsed: list[dict | None] | None = None
) -> None:
    """Raise ValueError unless a page's records fit its header.

    Every record must be of the header's origin, in increasing seq within
    (after, through]. A page may end past its last record (stepping over local
    records) only when it comes from that origin's own box: a cursor is trusted as far
    as the box that can know it. `parsed` may give each line's fields where they are
    already parsed (None elsewhere), to save parsing them again.
    """
    origin, after, through = header["origin"], header["after"], header["through"]
    if not isinstance(origin, str):
        raise ValueError("the page names no origin")
    last = after
    support = False  # past the range: only the erasures its stubs name may follow
    for number, line in enumerate(lines):
        try:
            fields = parsed[number] if parsed is not None else None
            if fields is None:
                fields = json.loads(line)
            line_origin, seq = fields["origin"], fields["seq"]
        except (ValueError, KeyError, TypeError):
            raise ValueError("a line of the page is not a record") from None
        # An equal seq is let through: it is a fork, which ingest refuses and quarantines.
        in_range = (
            line_origin == origin
            and isinstance(seq, int)
            and after < seq <= through
            and seq >= last
        )
        if in_range and not support:
            last = seq
            continue
        if fields.get("kind") == "member.erased":
            support = True
            continue
        if line_origin != origin:
            raise ValueError("a record of the page is not of the page's origin")
        raise ValueError("the page's records are not in order within its range")
    if origin != sender and last != through:
        raise ValueError("a relayed page must end at its last record")


# --- a long pull, written in bulk ---------------------------------------------------------

# Once a pull proves long, pages as large as the protocol allows: fewer transactions, each
# rewriting many of the same index pages.
LONG_PULL_PAGES = {"max_records": 1000, "max_bytes": 1024 * 1024}
# While a long pull writes: this connection's page cache (KiB; a box's connections keep
# little, as the web server has one per thread) and its WAL checkpoints every ~40 MB rather
# than every ~4 MB, so an index page rewritten by page after page is copied back once.
BULK_CACHE_KIB = 16 * 1024
BULK_CHECKPOINT_PAGES = 10_000


@contextlib.contextmanager
def bulk_writes():
    """Set this connection for many large write transactions in a row, then as it was."""
    cache = database.execute_sql("PRAGMA cache_size").fetchone()[0]
    checkpoint = database.execute_sql("PRAGMA wal_autocheckpoint").fetchone()[0]
    database.execute_sql(f"PRAGMA cache_size = {-BULK_CACHE_KIB}")
    database.execute_sql(f"PRAGMA wal_autocheckpoint = {BULK_CHECKPOINT_PAGES}")
    try:
        yield
    finally:
        database.execute_sql(f"PRAGMA cache_size = {int(cache)}")
        database.execute_sql(f"PRAGMA wal_autocheckpoint = {int(checkpoint)}")
