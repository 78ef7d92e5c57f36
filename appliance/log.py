"""The record log: sign -> store -> project in one transaction, for local and foreign records.

`append` is how this box writes; `ingest` is how records from peers (and tests) enter.
Both end in `_store_and_apply`, so a record has one path into the projections whoever
made it.
"""

from __future__ import annotations

import json
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from peewee import SQL

from appliance import erasure, projection
from appliance.db import database
from appliance.kinds import aggregate_of, check_body
from appliance.models import BoxState, Quarantine, StoredRecord
from appliance.records import (
    FORMAT_VERSION,
    Record,
    RecordError,
    encode,
    is_stub,
    parse,
    public_key_text,
    record_id,
    sign,
)

DEFAULT_MAX_CLOCK_AHEAD_MS = 24 * 3600 * 1000
RECENT_RECORDS = 1000  # parsed records an ingest keeps for the next one (a few MB)


def wall_clock_ms() -> int:
    """Return the wall clock in milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


def nfc(value):
    """Return a JSON value with every string (and key) in Unicode NFC."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, list):
        return [nfc(v) for v in value]
    if isinstance(value, dict):
        return {nfc(k): nfc(v) for k, v in value.items()}
    return value


@dataclass
class Rejection:
    """Why one line of an ingested batch was refused."""

    line: int
    reason: str
    origin: str | None = None
    id: str | None = None


@dataclass
class IngestResult:
    """What an ingest did: accepted ids, duplicates skipped, or the rejections."""

    accepted: list[str] = field(default_factory=list)
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.rejected


@dataclass(frozen=True)
class Checked:
    """One wire line after the checks that need no database: parsed and verified, or why not."""

    line: int
    record: Record | None = None
    error: str | None = None


def check_lines(lines: Iterable[bytes | str]) -> list[Checked]:
    """Parse and verify wire lines, numbered from 1 (blank lines skipped).

    Pure (no database), so a long pull can run it in another process while this one
    stores the previous page: Ed25519 verification holds the GIL.
    """
    checked = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            checked.append(Checked(number, record=parse(line)))
        except RecordError as exc:
            checked.append(Checked(number, error=str(exc)))
    return checked


def _chunks(items: list, size: int):
    """Yield successive slices of at most `size` items (SQLite limits bound variables)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


STORED_COLUMNS = (
    "id",
    "origin",
    "seq",
    "prev",
    "kind",
    "aggregate",
    "hlc_ms",
    "hlc_c",
    "scope",
    "raw",
)
_INSERT_STORED = (
    f"INSERT INTO stored_record ({', '.join(STORED_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(STORED_COLUMNS))})"
)


# Whether a stored row is a redacted stub, without parsing every row: only a stub's raw
# bytes hold this text outside a string (a quote inside a string is escaped), and those
# are parsed to be sure.
STUB_MARK = b'"redacted":{"erasure":'
_STUB_RAW = "CASE WHEN instr(raw, ?) > 0 THEN raw END"


def _is_stub_raw(raw: bytes | None) -> bool:
    return raw is not None and is_stub(json.loads(bytes(raw)))


def _row(rec: Record) -> tuple:
    """Return the stored_record row of a verified record, in STORED_COLUMNS order."""
    fields = rec.fields
    return (
        rec.id,
        fields["origin"],
        fields["seq"],
        fields["prev"],
        fields["kind"],
        aggregate_of(fields, rec.id),
        fields["hlc"][0],
        fields["hlc"][1],
        fields["scope"],
        rec.raw,
    )


def _limits(rows) -> dict[str, int | None]:
    """Fold (origin, last_seq) trust rows into {origin: last valid seq, or None for no limit}."""
    limits: dict[str, int | None] = {}
    for origin, last_seq in rows:
        current = limits.get(origin, 0)
        if last_seq is None or current is None:
            limits[origin] = None
        else:
            limits[origin] = max(current, last_seq)
    return limits


class Unredacted(Exception):
    """Stubs in a batch that no valid erasure covers: the batch is refused."""

    def __init__(self, ids: list[str]):
        super().__init__(erasure.REFUSED)
        self.ids = ids


class Fork(Exception):
    """Two valid records claim the same place in one origin's chain."""

    def __init__(self, origin: str, reason: str, evidence: str):
        super().__init__(reason)
        self.origin, self.reason, self.evidence = origin, reason, evidence


class Log:
    """The signed record log of one box."""

    def __init__(
        self,
        key: Ed25519PrivateKey,
        now_ms: Callable[[], int] = wall_clock_ms,
        max_clock_ahead_ms: int = DEFAULT_MAX_CLOCK_AHEAD_MS,
    ):
        self.key = key
        self.origin = public_key_text(key)
        self.now_ms = now_ms
        self.max_clock_ahead_ms = max_clock_ahead_ms
        self._contiguous: dict[str, int] = {}  # see contiguous()
        # The records ingested last, parsed: the next pages mostly add to the same posts,
        # whose refolds would otherwise parse them again. A record never changes under
        # its id, so one stays right even if the transaction that brought it rolls back
        # (it is only used once the database returns its id).
        self._recent: OrderedDict[str, Record] = OrderedDict()
        # Set while the box is restored from a backup (appliance.backup): raises rather than
        # sign a seq a peer may already hold. None costs append nothing.
        self.write_guard: Callable[[], None] | None = None
        # How many erasures this Log has seen honoured: when another process honours
        # one, records in _recent may have been redacted since they were parsed.
        self._erasures_seen = 0

    # --- state -----------------------------------------------------------------------

    def state(self) -> BoxState:
        """Return the box's row of counters, creating it on first use."""
        # Plain SQL: read on every sync request and ingest, where a peewee get would cost
        # several times the query.
        row = database.execute_sql(
            "SELECT seq, last_id, hlc_ms, hlc_c FROM box_state WHERE origin = ?", (self.origin,)
        ).fetchone()
        if row is None:
            state, _ = BoxState.get_or_create(origin=self.origin)
            return state
        seq, last_id, hlc_ms, hlc_c = row
        return BoxState(origin=self.origin, seq=seq, last_id=last_id, hlc_ms=hlc_ms, hlc_c=hlc_c)

    def version_vector(self) -> dict[str, int]:
        """Return {origin: highest contiguous seq} over everything stored."""
        vector: dict[str, int] = {}
        for origin in self.stored_origins():
            contiguous = self.contiguous(origin)
            if contiguous:
                vector[origin] = contiguous
        return vector

    @staticmethod
    def stored_origins() -> list[str]:
        """Return every origin with a stored record, in order (one index seek each)."""
        origins: list[str] = []
        while True:
            row = database.execute_sql(
                "SELECT origin FROM stored_record WHERE origin > ? ORDER BY origin LIMIT 1",
                (origins[-1] if origins else "",),
            ).fetchone()
            if row is None:
                return origins
            origins.append(row[0])

    @staticmethod
    def holds_seq(origin: str, seq: int) -> bool:
        """Return True if the record of an origin at a seq is stored."""
        return (
            database.execute_sql(
                "SELECT 1 FROM stored_record WHERE origin = ? AND seq = ?", (origin, seq)
            ).fetchone()
            is not None
        )

    def contiguous(self, origin: str) -> int:
        """Return the highest n such that an origin's records 1..n are all stored.

        Stored records are never deleted, so the answer never shrinks: each Log remembers
        it per origin and next time reads only what lies above it. Counting every record
        of a large origin on each sync request would cost more than the request itself.
        """
        known = self._contiguous.get(origin, 0)
        if not self.holds_seq(origin, known + 1):
            return known
        # Two statements: SQLite answers MAX alone with one seek, and COUNT alone from the
        # index without comparing each entry for the MAX.
        (highest,) = database.execute_sql(
            "SELECT MAX(seq) FROM stored_record WHERE origin = ?", (origin,)
        ).fetchone()
        (count,) = database.execute_sql(
            "SELECT COUNT(*) FROM stored_record WHERE origin = ? AND seq > ?", (origin, known)
        ).fetchone()
        if highest - known == count:  # seqs are unique: no gap above what was known
            found = highest
        else:  # a gap (records arrived out of order): walk up to it
            found = known
            seqs = database.execute_sql(
                "SELECT seq FROM stored_record WHERE origin = ? AND seq > ? ORDER BY seq",
                (origin, known),
            )
            for (seq,) in seqs:
                if seq != found + 1:
                    break
                found = seq
        # Only what is committed may be remembered: a transaction could still roll back.
        if not database.in_transaction():
            self._contiguous[origin] = max(found, self._contiguous.get(origin, 0))
        return found

    def records_after(
        self, origin: str, after: int, upto: int, max_records: int, max_bytes: int
    ) -> tuple[list[bytes], int]:
        """Return a page of an origin's records with after < seq <= upto, and the seq it
        reaches.

        Records with scope local are passed over but still counted in the seq reached,
        so a peer's cursor moves past them although it never sees them. A page holds at
        least one record however large, so paging always makes progress.
        """
        query = (
            StoredRecord.select(StoredRecord.seq, StoredRecord.scope, StoredRecord.raw)
            .where(
                (StoredRecord.origin == origin)
                & (StoredRecord.seq > after)
                & (StoredRecord.seq <= upto)
            )
            .order_by(StoredRecord.seq)
            .limit(max_records)
        )
        page, size, reached = [], 0, after
        for seq, scope, raw in query.tuples().iterator():
            if scope == "federation":
                raw = bytes(raw)
                if page and size + len(raw) + 1 > max_bytes:
                    break
                page.append(raw)
                size += len(raw) + 1
            reached = seq
        return page, reached

    # --- writing ---------------------------------------------------------------------

    def append(
        self,
        kind: str,
        body: dict,
        *,
        subject: str | None = None,
        author: str | None = None,
        scope: str = "federation",
    ) -> Record:
        """Sign a new record of this box, store it and apply it, in one transaction."""
        if self.write_guard is not None:
            self.write_guard()
        with database.atomic():
            state = self.state()
            now = self.now_ms()
            if now > state.hlc_ms:
                hlc = [now, 0]
            else:
                hlc = [state.hlc_ms, state.hlc_c + 1]
            unsigned = {
                "v": FORMAT_VERSION,
                "origin": self.origin,
                "seq": state.seq + 1,
                "prev": state.last_id,
                "hlc": hlc,
                "author": author,
                "kind": kind,
                "subject": subject,
                "scope": scope,
                "body": nfc(body),
            }
            # A service bug must never sign a record peers would refuse.
            check_body(unsigned)
            signed = sign(unsigned, self.key)
            rec = Record(id=record_id(unsigned), raw=encode(signed), fields=signed)
            self._store(rec)
            BoxState.update(seq=rec.seq, last_id=rec.id, hlc_ms=hlc[0], hlc_c=hlc[1]).where(
                BoxState.origin == self.origin
            ).execute()
            # An erasure redacts what it covers; a record about an erased member is
            # stored as its stub at once.
            outcome = erasure.apply([rec])
            self._forget_recent(outcome.redacted)
            projection.refold_many([aggregate_of(signed, rec.id), *sorted(outcome.aggregates)])
            if outcome.erasures:
                erasure.purge_search_index()
        if outcome.erasures:
            erasure.forget_old_pages()
        return rec

    # --- receiving -------------------------------------------------------------------

    def granted_here(self) -> dict[str, int | None]:
        """Return the origins this box's own grants trust, each with its last valid seq."""
        # Plain SQL: every sync request reads trust several times, and model rows cost more
        # than the query.
        direct = _limits(
            database.execute_sql(
                "SELECT origin, last_seq FROM trusted_origin WHERE truster = ?", (self.origin,)
            )
        )
        direct.pop(self.origin, None)
        return direct

    def trusted_origins(self) -> dict[str, int | None]:
        """Return the origins this box accepts, each with its last valid seq (None: no limit).

        Trust reaches one step: this box's own grants (pairing), then the grants of the
        peers it trusts without limit, so centre A learns centre C's records through
        hub B. A grant or revocation of this box's own always wins over a relayed one.
        """
        direct = self.granted_here()
        peers = [origin for origin, limit in direct.items() if limit is None]
        relayed = _limits(
            database.execute_sql(
                "SELECT origin, last_seq FROM trusted_origin "
                f"WHERE truster IN ({', '.join('?' * len(peers))}) AND origin != ?",
                (*peers, self.origin),
            )
            if peers
            else ()
        )
        return {**relayed, **direct, self.origin: None}

    @staticmethod
    def quarantined() -> set[str]:
        """Return the origins whose records are refused after a fork, until staff decide."""
        return {origin for (origin,) in database.execute_sql("SELECT origin FROM quarantine")}

    def _check_acceptable(self, rec: Record, trusted: dict, quarantined: set, now: int) -> None:
        """Raise RecordError unless a verified record may enter this box."""
        fields = rec.fields
        origin = fields["origin"]
        if origin not in trusted:
            raise RecordError("origin is not trusted by this box")
        limit = trusted[origin]
        if limit is not None and fields["seq"] > limit:
            raise RecordError(f"origin was revoked after seq {limit}")
        if fields["scope"] == "local" and origin != self.origin:
            raise RecordError("a record with scope local must never leave its box")
        if origin in quarantined:
            raise RecordError("origin is quarantined after a fork; staff must decide")
        if not is_stub(fields):
            # A stub's body is gone: what covers it is judged once the batch is stored.
            check_body(fields)
        # Measured against the wall clock, not the HLC: otherwise each accepted record
        # would move the horizon and a run of them could drag the clock without bound.
        ahead = fields["hlc"][0] - now
        if ahead > self.max_clock_ahead_ms:
            raise RecordError(
                f"stamped {ahead // 1000} s ahead of this box's clock "
                f"(limit {self.max_clock_ahead_ms // 1000} s)"
            )

    def ingest(
        self, lines: Iterable[bytes | str], *, also: Callable[[], None] | None = None
    ) -> IngestResult:
        """Verify, store and apply a batch of wire records; all of it or none of it.

        Duplicates (already stored) are skipped, so ingesting twice changes nothing.
        A fork quarantines its origin even though the batch is refused. `also` runs in
        the same transaction once the batch is stored (sync advances its cursor there).
        """
        return self.ingest_checked(check_lines(lines), also=also)

    def ingest_checked(
        self, checked: list[Checked], *, also: Callable[[], None] | None = None
    ) -> IngestResult:
        """Store and apply lines check_lines has parsed and verified, as `ingest` does."""
        result = IngestResult()
        trusted = self.trusted_origins()
        quarantined = self.quarantined()
        now = self.now_ms()
        batch: list[Record] = []
        for item in checked:
            rec = item.record
            try:
                if rec is None:
                    raise RecordError(item.error)
                self._check_acceptable(rec, trusted, quarantined, now)
                batch.append(rec)
            except RecordError as exc:
                result.rejected.append(
                    Rejection(
                        item.line,
                        str(exc),
                        origin=rec.origin if rec else None,
                        id=rec.id if rec else None,
                    )
                )
        if result.rejected:
            return result
        try:
            with database.atomic():
                erased = self._ingest_verified(batch, result)
                if also is not None:
                    also()
        except Fork as fork:
            self._quarantine(fork)
            result.accepted.clear()
            result.duplicates = 0
            result.rejected.append(Rejection(0, f"fork: {fork.reason}", origin=fork.origin))
        except Unredacted as refused:
            result.accepted.clear()
            result.duplicates = 0
            lines = {item.record.id: item.line for item in checked if item.record is not None}
            origins = {rec.id: rec.origin for rec in batch}
            for stub_id in refused.ids:
                result.rejected.append(
                    Rejection(lines[stub_id], str(refused), origin=origins[stub_id], id=stub_id)
                )
        else:
            if erased:
                erasure.forget_old_pages()
        return result

    def _ingest_verified(self, batch: list[Record], result: IngestResult) -> bool:
        """Store and apply a checked batch; return True if it brought a new erasure."""
        # A page holds hundreds of records: look up what is stored around them in a few
        # queries and insert them together, rather than several queries per record.
        batch = sorted(batch, key=lambda r: (r.fields["origin"], r.fields["seq"]))
        stored = self._stored_ids([r.id for r in batch])
        places = self._stored_places(batch)
        fresh: dict[str, Record] = {}
        gone: dict[str, str] = {}  # stored stubs a verified record displaced: id -> aggregate
        for rec in batch:
            stub = is_stub(rec.fields)
            if rec.id in fresh or rec.id in stored:
                held_stub = is_stub(fresh[rec.id].fields) if rec.id in fresh else stored[rec.id]
                if stub or not held_stub:
                    result.duplicates += 1
                    continue
                # Held only as a stub, which proves nothing: the verified record takes its
                # place and is judged afresh (section 8.3).
                self._give_way(rec.id, places, fresh, gone)
                stored.pop(rec.id, None)
            if not self._check_chain(rec, places, fresh, gone):
                # A stub that contradicts what is held is passed over, like a duplicate.
                result.duplicates += 1
                continue
            places[(rec.fields["origin"], rec.fields["seq"])] = (rec.id, rec.fields["prev"], stub)
            fresh[rec.id] = rec
        if fresh:
            # Raw executemany: building a peewee insert of hundreds of rows costs more
            # than SQLite takes to store them.
            database.cursor().executemany(_INSERT_STORED, [_row(rec) for rec in fresh.values()])
        result.accepted.extend(fresh)
        if fresh:
            newest = max(rec.fields["hlc"] for rec in fresh.values())
            own = [r for r in fresh.values() if r.fields["origin"] == self.origin]
            self._observe(newest, own)
        self._forget_recent(gone)
        outcome = erasure.apply(fresh.values())
        if outcome.refused:
            raise Unredacted(outcome.refused)
        aggregates = dict.fromkeys(aggregate_of(r.fields, r.id) for r in fresh.values())
        aggregates.update(dict.fromkeys(sorted({*outcome.aggregates, *gone.values()})))
        recent = self._recent
        seen = erasure.count()
        if seen != self._erasures_seen:
            # Some record parsed earlier may be a stub now (here or in another process).
            recent.clear()
            self._erasures_seen = seen
        recent.update((i, r) for i, r in fresh.items() if i not in outcome.redacted)
        projection.refold_many(aggregates, known=recent)
        while len(recent) > RECENT_RECORDS:
            recent.popitem(last=False)
        if outcome.erasures:
            erasure.purge_search_index()
        return bool(outcome.erasures)

    def _forget_recent(self, ids: Iterable[str]) -> None:
        for rec_id in ids:
            self._recent.pop(rec_id, None)

    # Plain SQL below: a peewee IN (...) of hundreds of values costs more to build than
    # SQLite takes to answer it.

    @staticmethod
    def _stored_ids(ids: list[str]) -> dict[str, bool]:
        """Return {id: True if held as a redacted stub} of the ids stored."""
        found: dict[str, bool] = {}
        for chunk in _chunks(ids, 500):
            cursor = database.execute_sql(
                f"SELECT id, {_STUB_RAW} FROM stored_record "
                f"WHERE id IN ({', '.join('?' * len(chunk))})",
                (STUB_MARK, *chunk),
            )
            found.update((row_id, _is_stub_raw(raw)) for row_id, raw in cursor)
        return found

    @staticmethod
    def _stored_places(batch: list[Record]) -> dict[tuple[str, int], tuple[str, str | None, bool]]:
        """Return {(origin, seq): (id, prev, is a stub)} of stored records at and beside the
        batch's seqs."""
        wanted: dict[str, set[int]] = {}
        for rec in batch:
            seq = rec.fields["seq"]
            wanted.setdefault(rec.fields["origin"], set()).update((seq - 1, seq, seq + 1))
        places = {}
        for origin, seqs in wanted.items():
            for chunk in _chunks(sorted(seqs), 500):
                cursor = database.execute_sql(
                    f"SELECT seq, id, prev, {_STUB_RAW} FROM stored_record "
                    f"WHERE origin = ? AND seq IN ({', '.join('?' * len(chunk))})",
                    (STUB_MARK, origin, *chunk),
                )
                for seq, row_id, prev, raw in cursor:
                    places[(origin, seq)] = (row_id, prev, _is_stub_raw(raw))
        return places

    def _check_chain(
        self, rec: Record, places: dict, fresh: dict[str, Record], gone: dict[str, str]
    ) -> bool:
        """Return True if rec fits its origin's chain as held, making room for it if need
        be; False for a stub that contradicts what is held; raise Fork if two verified
        records contradict each other.

        A stub's id and chain place cannot be checked (section 8.3): a verified record
        always wins over one, and a stub never wins over anything.
        """
        origin, seq, prev = rec.fields["origin"], rec.fields["seq"], rec.fields["prev"]
        conflicts = []
        same = places.get((origin, seq))
        if same:
            conflicts.append((same, f"two records claim seq {seq}", f"{same[0]} vs {rec.id}"))
        before = places.get((origin, seq - 1)) if seq > 1 else None
        if before and before[0] != prev:
            conflicts.append((before, f"seq {seq} does not follow seq {seq - 1}", rec.id))
        after = places.get((origin, seq + 1))
        if after and after[1] != rec.id:
            conflicts.append((after, f"seq {seq + 1} does not follow seq {seq}", rec.id))
        if conflicts and is_stub(rec.fields):
            return False
        for held, reason, evidence in conflicts:
            if not held[2]:
                raise Fork(origin, reason, evidence)
        for held, _, _ in conflicts:
            self._give_way(held[0], places, fresh, gone)
        return True

    def _give_way(
        self, stub_id: str, places: dict, fresh: dict[str, Record], gone: dict[str, str]
    ) -> None:
        """Take a stub (stored, or earlier in the batch) out of the way of a verified record."""
        for place, held in list(places.items()):
            if held[0] == stub_id:
                del places[place]
        if stub_id in fresh:
            del fresh[stub_id]
            return
        row = database.execute_sql(
            "SELECT aggregate, origin, seq FROM stored_record WHERE id = ?", (stub_id,)
        ).fetchone()
        if row is None:
            return
        aggregate, origin, seq = row
        database.execute_sql("DELETE FROM stored_record WHERE id = ?", (stub_id,))
        gone[stub_id] = aggregate
        # Its seq may now be a gap: the run of records held without one is counted again.
        self._contiguous[origin] = min(self._contiguous.get(origin, 0), seq - 1)

    def _observe(self, hlc: list[int], own: list[Record]) -> None:
        """Move the local clock past a received hlc (bounded by the ingest check)."""
        state = self.state()
        update = {}
        if tuple(hlc) > (state.hlc_ms, state.hlc_c):
            update.update(hlc_ms=hlc[0], hlc_c=hlc[1])
        # Our own records coming back from a peer after a restore: never reuse their seqs.
        newest = max(own, key=lambda r: r.seq, default=None)
        if newest and newest.seq > state.seq:
            update.update(seq=newest.seq, last_id=newest.id)
        if update:
            BoxState.update(**update).where(BoxState.origin == self.origin).execute()

    def _quarantine(self, fork: Fork) -> None:
        with database.atomic():
            Quarantine.insert(
                origin=fork.origin,
                reason=fork.reason,
                evidence=fork.evidence,
                at_ms=self.now_ms(),
            ).on_conflict_ignore().execute()

    def _store(self, rec: Record) -> None:
        database.execute_sql(_INSERT_STORED, _row(rec))

    # --- reading ---------------------------------------------------------------------

    def export(self) -> Iterable[bytes]:
        """Yield every stored record's exact bytes (a redacted record as its stub), in
        arrival order."""
        query = StoredRecord.select(StoredRecord.raw).order_by(SQL("rowid"))
        for (raw,) in query.tuples().iterator():
            yield bytes(raw)

    def verify(self) -> list[str]:
        """Re-check every stored record and its chain; return the problems found."""
        problems = []
        previous: dict[str, tuple[int, str]] = {}
        query = StoredRecord.select().order_by(StoredRecord.origin, StoredRecord.seq)
        for row in query.iterator():
            try:
                rec = parse(bytes(row.raw))
            except RecordError as exc:
                problems.append(f"{row.id}: {exc}")
                continue
            if rec.id != row.id:
                problems.append(f"{row.id}: stored under the wrong id ({rec.id})")
            # A stub's signature cannot be checked (its body is gone): only an erasure
            # this box honours may have made it.
            if is_stub(rec.fields) and not erasure.covered_stub(rec.fields, rec.id):
                problems.append(f"{row.id}: {erasure.REFUSED}")
            last = previous.get(rec.origin)
            if last and last[0] == rec.seq - 1 and last[1] != rec.prev:
                problems.append(f"{row.id}: prev does not match seq {rec.seq - 1}")
            previous[rec.origin] = (rec.seq, rec.id)
        return problems
