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
# Never redacted: erasures themselves, and role records, which hold no personal data (a
# role name and an expiry) and decide whether an erasure by staff is valid, so a box
# that meets the chain later can still tell (even after that staff member is erased).
KEPT_KINDS = frozenset({KIND, "role.granted", "role.revoked"})
REFUSED = "redacted record without a valid erasure that covers it"


@dataclass(frozen=True)
class Cover:
    """One honoured erasure: what it redacts."""

    id: str
    member: str
    mode: str
    entities: frozenset[str]

    def covers(self, fields: dict, record_id: str) -> bool:
        """Return True if this erasure redacts a record (stub or full) with these fields."""
        if fields["kind"] in KEPT_KINDS:
            return False
        aggregate = aggregate_of(fields, record_id)
        return (
            aggregate == self.member
            or aggregate in self.entities
            or (self.mode == "remove" and fields["author"] == self.member)
        )


@dataclass
class Covers:
    """Every erasure a box honours, indexed for the question "does one cover this?"."""

    by_id: dict[str, Cover] = field(default_factory=dict)
    by_aggregate: dict[str, Cover] = field(default_factory=dict)
    by_author: dict[str, Cover] = field(default_factory=dict)

    def add(self, cover: Cover) -> None:
        self.by_id[cover.id] = cover
        self.by_aggregate.setdefault(cover.member, cover)
        for entity in cover.entities:
            self.by_aggregate.setdefault(entity, cover)
        if cover.mode == "remove":
            self.by_author.setdefault(cover.member, cover)

    def covering(self, fields: dict, record_id: str) -> Cover | None:
        """Return an erasure covering a record, or None."""
        if not self.by_id or fields["kind"] in KEPT_KINDS:
            return None
        cover = self.by_aggregate.get(aggregate_of(fields, record_id))
        if cover is None and fields["author"] is not None:
            cover = self.by_author.get(fields["author"])
        return cover


@dataclass
class Outcome:
    """What `apply` did: records redacted, entities to refold, stubs refused."""

    redacted: set[str] = field(default_factory=set)
    aggregates: set[str] = field(default_factory=set)
    refused: list[str] = field(default_factory=list)
    erasures: list[str] = field(default_factory=list)  # newly honoured erasure ids


def _cover_of(row: Erasure) -> Cover:
    return Cover(row.id, row.member, row.mode, frozenset(json.loads(row.entities)))


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


def _pending(joined: list[str]) -> list[Record]:
    """Return stored erasures of members whose `member.joined` just arrived."""
    found = []
    for chunk in chunks(joined):
        cursor = database.execute_sql(
            f"SELECT id, raw FROM stored_record WHERE aggregate IN ({marks(chunk)}) AND kind = ?",
            (*chunk, KIND),
        )
        for record_id, raw in cursor:
            raw = bytes(raw)
            found.append(Record(id=record_id, raw=raw, fields=json.loads(raw)))
    return found


def _redact_stored(cover: Cover, outcome: Outcome) -> None:
    """Replace the raw bytes of every stored record the erasure covers by its stub."""
    queries = []
    ids = [cover.member, *cover.entities]
    for chunk in chunks(ids):
        queries.append(
            (f"SELECT id, raw FROM stored_record WHERE aggregate IN ({marks(chunk)})", chunk)
        )
    if cover.mode == "remove":
        # Canonical JSON has no spaces, so the author field is this exact text (each match
        # is parsed to be sure); there is no author column to ask.
        needle = f'"author":"{cover.member}"'.encode()
        queries.append(("SELECT id, raw FROM stored_record WHERE instr(raw, ?) > 0", (needle,)))
    stubs: dict[str, bytes] = {}
    for sql, params in queries:
        for record_id, raw in database.execute_sql(sql, params).fetchall():
            if record_id in stubs:
                continue
            raw = bytes(raw)
            fields = json.loads(raw)
            if is_stub(fields) or not cover.covers(fields, record_id):
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
    cover = Cover(rec.id, rec.fields["subject"], body["mode"], frozenset(body["entities"]))
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
    joined = [r.id for r in fresh if r.fields["kind"] == "member.joined"]
    if joined:
        seen = {r.id for r in erasures}
        erasures += [r for r in _pending(joined) if r.id not in seen]
    stubs = [r for r in fresh if is_stub(r.fields)]
    if not erasures and not stubs and not count():
        return outcome  # the usual case: nothing to do, one cheap query
    covers = honoured()
    erased = set(row[0] for row in database.execute_sql("SELECT member FROM erasure").fetchall())
    erasures.sort(key=lambda r: r.hlc_key)
    for rec in erasures:
        member = rec.fields["subject"]
        if member in erased or rec.id in covers.by_id:
            continue  # a member is erased once: the first valid erasure holds
        if validity(rec.fields) is True:
            cover = _honour(rec, outcome)
            covers.add(cover)
            erased.add(member)
            _redact_stored(cover, outcome)
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
        if cover is None or not cover.covers(stub.fields, stub.id):
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
    return row is not None and _cover_of(row).covers(fields, record_id)


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
