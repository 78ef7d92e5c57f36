"""Erasures in the log: which `member.erased` records a box honours, and redaction.

A valid erasure of member m (sync/PROTOCOL.md, "Erasure") comes from m's home box (the
origin of m's `member.joined`) and is authored by m or by staff of that box. Every
record it covers is stored as a redacted stub: the same id, chain place and columns,
only the body and signature gone. The log calls `apply` inside the transaction that
stores records (its own or a peer's), so what is redacted never reaches a projection,
and a box that receives the records in any order ends with the same stubs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from appliance.db import database
from appliance.foldsql import chunks, executemany, marks
from appliance.kinds import aggregate_of
from appliance.models import Erasure
from appliance.records import Record, is_stub, make_stub

KIND = "member.erased"
STAFF_ROLES = ("staff", "admin")
ROLE_KINDS = ("role.granted", "role.revoked")
# Never redacted, whatever an erasure names: erasures themselves; role records, which
# hold no personal data (a role name and an expiry) and decide whether an erasure by
# staff is valid, so a box that meets the chain later can still tell (even after that
# staff member is erased); and a box's trust and centre records, which no erasure may
# touch (a peer naming them would make a box unpair itself).
KEPT_PREFIXES = ("role.", "trust.", "centre.")
# The entities an erasure of m removes whole (its `entities`): rides whose rider is m and,
# with mode remove, the posts, shifts and proposals m created at their home box.
RIDE_ROOT = "ride.requested"
REMOVED_ROOTS = frozenset({"post.created", "shift.created", "proposal.made"})
REFUSED = "redacted record without a valid erasure that covers it"


def kept(kind: str) -> bool:
    """Return True for the kinds no erasure ever redacts."""
    return kind == KIND or kind.startswith(KEPT_PREFIXES)


@dataclass(frozen=True)
class Cover:
    """One honoured erasure: whom it erases, from which home box, and what it names."""

    id: str
    member: str
    origin: str  # the member's home box, which wrote the erasure
    mode: str
    entities: frozenset[str]


@dataclass
class Covers:
    """Every erasure a box honours, indexed for the question "does one cover this?".

    What an erasure covers depends on records the box holds (the creating records of
    the entities it names, the member's `member.joined`), read once per `apply`.
    """

    by_id: dict[str, Cover] = field(default_factory=dict)
    by_member: dict[str, Cover] = field(default_factory=dict)
    by_entity: dict[str, list[Cover]] = field(default_factory=dict)
    _held: dict[str, dict | None] = field(default_factory=dict)

    def add(self, cover: Cover) -> None:
        self.by_id[cover.id] = cover
        self.by_member.setdefault(cover.member, cover)
        for entity in cover.entities:
            self.by_entity.setdefault(entity, []).append(cover)

    def held(self, record_id: str) -> dict | None:
        """Return the fields of a stored record (in full or as its stub), or None."""
        if record_id not in self._held:
            row = database.execute_sql(
                "SELECT raw FROM stored_record WHERE id = ?", (record_id,)
            ).fetchone()
            self._held[record_id] = json.loads(bytes(row[0])) if row else None
        return self._held[record_id]

    def takes(self, cover: Cover, entity: str) -> bool | None:
        """Return whether an erasure removes an entity it names: judged on the entity's
        creating record as held (a stub's fields where the full record is gone), or None
        while that record has not arrived (it is judged when it does)."""
        root = self.held(entity)
        if root is None:
            return None
        kind = root["kind"]
        if kind == RIDE_ROOT:
            body = root.get("body")
            return body is None or body.get("rider") == cover.member  # a stub's rider is gone
        return (
            cover.mode == "remove"
            and kind in REMOVED_ROOTS
            and root["author"] == cover.member
            and root["origin"] == cover.origin
        )

    def stands(self, cover: Cover) -> bool:
        """Return False once a verified `member.joined` of the member from another box
        has replaced the stub the erasure was judged on (section 8.3): it covers no more."""
        root = self.held(cover.member)
        return root is None or (root["kind"] == "member.joined" and root["origin"] == cover.origin)

    def covers(self, cover: Cover, fields: dict, record_id: str, *, stub: bool = False) -> bool:
        """Return True if an honoured erasure redacts a record (stub or full) with these
        fields. A stub of an entity whose creating record has not arrived is let in
        (a verified record that arrives later replaces it); a full record waits."""
        if kept(fields["kind"]) or not self.stands(cover):
            return False
        aggregate = aggregate_of(fields, record_id)
        if aggregate == cover.member:
            return True
        if (
            cover.mode == "remove"
            and fields["author"] == cover.member
            and fields["origin"] == cover.origin  # a member writes only at their home box
        ):
            return True
        if aggregate in cover.entities:
            taken = self.takes(cover, aggregate)
            return taken is True or (stub and taken is None)
        return False

    def covering(self, fields: dict, record_id: str) -> Cover | None:
        """Return an honoured erasure covering a full record, or None."""
        if not self.by_id or kept(fields["kind"]):
            return None
        aggregate = aggregate_of(fields, record_id)
        candidates = [self.by_member.get(aggregate), *self.by_entity.get(aggregate, ())]
        if fields["author"] is not None:
            candidates.append(self.by_member.get(fields["author"]))
        for cover in candidates:
            if cover is not None and self.covers(cover, fields, record_id):
                return cover
        return None


@dataclass
class Outcome:
    """What `apply` did: records redacted, entities to refold, stubs refused."""

    redacted: set[str] = field(default_factory=set)
    aggregates: set[str] = field(default_factory=set)
    refused: list[str] = field(default_factory=list)
    erasures: list[str] = field(default_factory=list)  # newly honoured erasure ids


def _cover_of(row: Erasure) -> Cover:
    return Cover(row.id, row.member, row.origin, row.mode, frozenset(json.loads(row.entities)))


def honoured() -> Covers:
    """Return every erasure this box honours."""
    covers = Covers()
    for row in Erasure.select().order_by(Erasure.at_ms, Erasure.id):
        covers.add(_cover_of(row))
    return covers


def count() -> int:
    """Return how many erasures this box honours (they are never taken back)."""
    return database.execute_sql("SELECT COUNT(*) FROM erasure").fetchone()[0]


# --- validity --------------------------------------------------------------------------


def _held_staff_role(author: str, origin: str, seq: int, at_ms: int) -> bool:
    """Return True if the origin's own chain, before seq, left author a staff or admin role
    that had not expired at at_ms."""
    rows = database.execute_sql(
        "SELECT raw FROM stored_record WHERE aggregate = ? AND origin = ? AND seq < ? "
        "AND kind IN ('role.granted', 'role.revoked') ORDER BY seq",
        (author, origin, seq),
    )
    roles: dict[str, int | None] = {}
    for (raw,) in rows:
        fields = json.loads(bytes(raw))
        body = fields.get("body")
        if body is None:
            continue
        if fields["kind"] == "role.granted":
            roles[body["role"]] = body["expires"]
        else:
            roles.pop(body["role"], None)
    return any(
        role in roles and (roles[role] is None or roles[role] > at_ms) for role in STAFF_ROLES
    )


def validity(fields: dict) -> bool | None:
    """Return whether an erasure record is valid here: True, False, or None while the
    erased member's `member.joined` has not arrived (it is judged again when it does)."""
    if "body" not in fields:
        return False
    member = fields["subject"]
    row = database.execute_sql(
        "SELECT origin, kind FROM stored_record WHERE id = ?", (member,)
    ).fetchone()
    if row is None:
        return None
    origin, kind = row
    if kind != "member.joined" or origin != fields["origin"]:
        return False  # only the member's home box erases them
    author = fields["author"]
    if author == member:
        return True
    if author is None:
        return False
    return _held_staff_role(author, origin, fields["seq"], fields["hlc"][0])


# --- applying ----------------------------------------------------------------------------


def _records(sql: str, params) -> list[Record]:
    found = []
    for record_id, raw in database.execute_sql(sql, params).fetchall():
        raw = bytes(raw)
        found.append(Record(id=record_id, raw=raw, fields=json.loads(raw)))
    return found


def _pending(fresh: list[Record]) -> list[Record]:
    """Return stored erasures not honoured yet that records just stored may make valid:
    those of members whose `member.joined` arrived, and those of an origin whose role
    records arrived (a staff member's grant may come after their erasure: 8.1)."""
    found = []
    joined = [r.id for r in fresh if r.fields["kind"] == "member.joined"]
    for chunk in chunks(joined):
        found += _records(
            f"SELECT id, raw FROM stored_record WHERE aggregate IN ({marks(chunk)}) AND kind = ?",
            (*chunk, KIND),
        )
    # Only an erasure after a role record in its origin's chain can depend on it.
    roles: dict[str, int] = {}
    for rec in fresh:
        if rec.fields["kind"] in ROLE_KINDS:
            origin, seq = rec.fields["origin"], rec.fields["seq"]
            roles[origin] = min(seq, roles.get(origin, seq))
    for origin, seq in roles.items():
        found += _records(
            "SELECT id, raw FROM stored_record WHERE origin = ? AND seq > ? AND kind = ? "
            "AND id NOT IN (SELECT id FROM erasure)",
            (origin, seq, KIND),
        )
    return found


def _redact_stored(
    cover: Cover, covers: Covers, outcome: Outcome, aggregates: list[str] | None = None
) -> None:
    """Replace the raw bytes of every stored record the erasure covers by its stub: all
    of them, or only those feeding `aggregates` (an entity whose creating record arrived)."""
    queries = []
    ids = [cover.member, *cover.entities] if aggregates is None else aggregates
    for chunk in chunks(ids):
        queries.append(
            (f"SELECT id, raw FROM stored_record WHERE aggregate IN ({marks(chunk)})", chunk)
        )
    if cover.mode == "remove" and aggregates is None:
        # Canonical JSON has no spaces, so the author field is this exact text (each match
        # is parsed to be sure); there is no author column to ask. Only the home box's
        # records count, so only its part of the log is searched.
        needle = f'"author":"{cover.member}"'.encode()
        queries.append(
            (
                "SELECT id, raw FROM stored_record WHERE origin = ? AND instr(raw, ?) > 0",
                (cover.origin, needle),
            )
        )
    stubs: dict[str, bytes] = {}
    for sql, params in queries:
        for record_id, raw in database.execute_sql(sql, params).fetchall():
            if record_id in stubs:
                continue
            raw = bytes(raw)
            fields = json.loads(raw)
            if is_stub(fields) or not covers.covers(cover, fields, record_id):
                continue
            stub = make_stub(Record(id=record_id, raw=raw, fields=fields), cover.id)
            stubs[record_id] = stub.raw
            outcome.aggregates.add(aggregate_of(fields, record_id))
    executemany("UPDATE stored_record SET raw = ? WHERE id = ?", [(r, i) for i, r in stubs.items()])
    outcome.redacted.update(stubs)


def _honour(rec: Record, outcome: Outcome) -> Cover:
    body = rec.fields["body"]
    Erasure.insert(
        member=rec.fields["subject"],
        id=rec.id,
        origin=rec.fields["origin"],
        mode=body["mode"],
        entities=json.dumps(body["entities"]),
        at_ms=rec.fields["hlc"][0],
    ).execute()
    cover = Cover(
        rec.id,
        rec.fields["subject"],
        rec.fields["origin"],
        body["mode"],
        frozenset(body["entities"]),
    )
    outcome.erasures.append(rec.id)
    outcome.aggregates.update((cover.member, *cover.entities))
    return cover


def apply(fresh: Iterable[Record]) -> Outcome:
    """Honour the valid erasures among (or waiting for) records just stored, redact what
    every honoured erasure covers, and judge the stubs that arrived.

    Runs inside the transaction that stored `fresh`, after they are stored, so an
    erasure and the records it covers may arrive in one batch in any order. A stub that
    no honoured erasure (named by its `redacted.erasure`) covers is listed in `refused`:
    the caller must then roll the batch back.
    """
    fresh = list(fresh)
    outcome = Outcome()
    erasures = [r for r in fresh if r.fields["kind"] == KIND and "body" in r.fields]
    seen = {r.id for r in erasures}
    for rec in _pending(fresh):
        if rec.id not in seen:
            seen.add(rec.id)
            erasures.append(rec)
    stubs = [r for r in fresh if is_stub(r.fields)]
    if not erasures and not stubs and not count():
        return outcome  # the usual case: nothing to do, one cheap query
    covers = honoured()
    erasures.sort(key=lambda r: r.hlc_key)
    for rec in erasures:
        if "body" not in rec.fields:
            continue
        member = rec.fields["subject"]
        if member in covers.by_member or rec.id in covers.by_id:
            continue  # a member is erased once: the first valid erasure holds
        if validity(rec.fields) is True:
            cover = _honour(rec, outcome)
            covers.add(cover)
            _redact_stored(cover, covers, outcome)
    # Entities named by an honoured erasure whose creating record just arrived: judged now.
    for rec in fresh:
        for cover in covers.by_entity.get(rec.id, ()):
            if covers.takes(cover, rec.id):
                _redact_stored(cover, covers, outcome, [rec.id])
    # Full records covered by an erasure honoured before they arrived.
    late = {}
    for rec in fresh:
        if rec.id in outcome.redacted or is_stub(rec.fields):
            continue
        cover = covers.covering(rec.fields, rec.id)
        if cover is not None:
            late[rec.id] = make_stub(rec, cover.id).raw
            outcome.aggregates.add(aggregate_of(rec.fields, rec.id))
    executemany("UPDATE stored_record SET raw = ? WHERE id = ?", [(r, i) for i, r in late.items()])
    outcome.redacted.update(late)
    for stub in stubs:
        cover = covers.by_id.get(stub.fields["redacted"]["erasure"])
        if cover is None or not covers.covers(cover, stub.fields, stub.id, stub=True):
            outcome.refused.append(stub.id)
    return outcome


def purge_search_index() -> None:
    """Rebuild the post search index from its content, once erased posts are forgotten.

    A regular FTS5 table keeps a deleted row's tokens in its index segments until they
    are merged: rebuilding drops every token of a removed post (secure_delete zeroes the
    freed pages).
    """
    database.execute_sql("INSERT INTO post_fts(post_fts) VALUES('rebuild')")


def covered_stub(fields: dict, record_id: str) -> bool:
    """Return True if a stored stub is covered by the erasure it names (for verify)."""
    row = Erasure.get_or_none(Erasure.id == fields["redacted"]["erasure"])
    return row is not None and Covers().covers(_cover_of(row), fields, record_id, stub=True)


def forget_old_pages() -> None:
    """Move the WAL into the database file and truncate it, so the pages that held
    redacted bodies leave the WAL (secure_delete has zeroed them in the file).

    Only outside a transaction: inside one the caller checkpoints once it commits.
    """
    if not database.in_transaction():
        database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def apply_stored() -> Outcome:
    """Judge every held erasure and apply the valid ones not yet honoured, then refold
    what they touched (inside the caller's transaction).

    For a box that stored `member.erased` records before it knew the kind (a schema
    step after an upgrade); applying an honoured erasure again changes nothing.
    """
    from appliance import projection  # the folds import nothing of this module's callers

    rows = database.execute_sql(
        "SELECT id, raw FROM stored_record WHERE kind = ? ORDER BY hlc_ms, hlc_c, origin, id",
        (KIND,),
    ).fetchall()
    records = [Record(id=i, raw=bytes(raw), fields=json.loads(bytes(raw))) for i, raw in rows]
    outcome = apply(records)
    projection.refold_many(sorted(outcome.aggregates))
    if outcome.erasures:
        purge_search_index()
    return outcome
