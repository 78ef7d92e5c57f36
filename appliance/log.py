"""The record log: sign -> store -> project in one transaction, for local and foreign records.

`append` is how this box writes; `ingest` is how records from peers (and tests) enter.
Both end in `_store_and_apply`, so a record has one path into the projections whoever
made it.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from peewee import SQL, fn

from appliance import projection
from appliance.db import database
from appliance.kinds import aggregate_of, check_body
from appliance.models import BoxState, Quarantine, StoredRecord, TrustedOrigin
from appliance.records import (
    FORMAT_VERSION,
    Record,
    RecordError,
    encode,
    parse,
    public_key_text,
    record_id,
    sign,
)

DEFAULT_MAX_CLOCK_AHEAD_MS = 24 * 3600 * 1000


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


def _chunks(items: list, size: int):
    """Yield successive slices of at most `size` items (SQLite limits bound variables)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _row(rec: Record) -> dict:
    """Return the stored_record row of a verified record."""
    return {
        "id": rec.id,
        "origin": rec.origin,
        "seq": rec.seq,
        "prev": rec.prev,
        "kind": rec.kind,
        "aggregate": aggregate_of(rec.fields, rec.id),
        "hlc_ms": rec.hlc[0],
        "hlc_c": rec.hlc[1],
        "scope": rec.scope,
        "raw": rec.raw,
    }


def _limits(rows) -> dict[str, int | None]:
    """Fold trust rows into {origin: last valid seq, or None for no limit}."""
    limits: dict[str, int | None] = {}
    for row in rows:
        current = limits.get(row.origin, 0)
        if row.last_seq is None or current is None:
            limits[row.origin] = None
        else:
            limits[row.origin] = max(current, row.last_seq)
    return limits


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

    # --- state -----------------------------------------------------------------------

    def state(self) -> BoxState:
        """Return the box's row of counters, creating it on first use."""
        state, _ = BoxState.get_or_create(origin=self.origin)
        return state

    def version_vector(self) -> dict[str, int]:
        """Return {origin: highest contiguous seq} over everything stored."""
        vector: dict[str, int] = {}
        # COUNT(*) lets SQLite answer from the (origin, seq) index alone.
        totals = StoredRecord.select(
            StoredRecord.origin, fn.MAX(StoredRecord.seq), fn.COUNT(SQL("*"))
        ).group_by(StoredRecord.origin)
        for origin, highest, count in totals.tuples():
            if highest == count:  # seqs start at 1 and are unique: no gap
                vector[origin] = highest
                continue
            # Walk only an origin that has a gap (records arrived out of order).
            seqs = StoredRecord.select(StoredRecord.seq).where(StoredRecord.origin == origin)
            contiguous = 0
            for (seq,) in seqs.order_by(StoredRecord.seq).tuples():
                if seq != contiguous + 1:
                    break
                contiguous = seq
            if contiguous:
                vector[origin] = contiguous
        return vector

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
            projection.refold(aggregate_of(signed, rec.id))
        return rec

    # --- receiving -------------------------------------------------------------------

    def granted_here(self) -> dict[str, int | None]:
        """Return the origins this box's own grants trust, each with its last valid seq."""
        direct = _limits(TrustedOrigin.select().where(TrustedOrigin.truster == self.origin))
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
            TrustedOrigin.select().where(
                TrustedOrigin.truster.in_(peers) & TrustedOrigin.origin.not_in([self.origin])
            )
        )
        return {**relayed, **direct, self.origin: None}

    def _check_acceptable(self, rec: Record, trusted: dict, quarantined: set, now: int) -> None:
        """Raise RecordError unless a verified record may enter this box."""
        if rec.origin not in trusted:
            raise RecordError("origin is not trusted by this box")
        limit = trusted[rec.origin]
        if limit is not None and rec.seq > limit:
            raise RecordError(f"origin was revoked after seq {limit}")
        if rec.scope == "local" and rec.origin != self.origin:
            raise RecordError("a record with scope local must never leave its box")
        if rec.origin in quarantined:
            raise RecordError("origin is quarantined after a fork; staff must decide")
        check_body(rec.fields)
        # Measured against the wall clock, not the HLC: otherwise each accepted record
        # would move the horizon and a run of them could drag the clock without bound.
        ahead = rec.hlc[0] - now
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
        result = IngestResult()
        trusted = self.trusted_origins()
        quarantined = {q.origin for q in Quarantine.select(Quarantine.origin)}
        now = self.now_ms()
        batch: list[Record] = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            rec = None
            try:
                rec = parse(line)
                self._check_acceptable(rec, trusted, quarantined, now)
                batch.append(rec)
            except RecordError as exc:
                result.rejected.append(
                    Rejection(
                        number,
                        str(exc),
                        origin=rec.origin if rec else None,
                        id=rec.id if rec else None,
                    )
                )
        if result.rejected:
            return result
        try:
            with database.atomic():
                self._ingest_verified(batch, result)
                if also is not None:
                    also()
        except Fork as fork:
            self._quarantine(fork)
            result.accepted.clear()
            result.duplicates = 0
            result.rejected.append(Rejection(0, f"fork: {fork.reason}", origin=fork.origin))
        return result

    def _ingest_verified(self, batch: list[Record], result: IngestResult) -> None:
        # A page holds hundreds of records: look up what is stored around them in a few
        # queries and insert them together, rather than several queries per record.
        batch = sorted(batch, key=lambda r: (r.origin, r.seq))
        stored = self._stored_ids([r.id for r in batch])
        places = self._stored_places(batch)
        fresh: dict[str, Record] = {}
        for rec in batch:
            if rec.id in stored or rec.id in fresh:
                result.duplicates += 1
                continue
            self._check_chain(rec, places)
            places[(rec.origin, rec.seq)] = (rec.id, rec.prev)
            fresh[rec.id] = rec
        for chunk in _chunks(list(fresh.values()), 200):
            StoredRecord.insert_many([_row(rec) for rec in chunk]).execute()
        result.accepted.extend(fresh)
        if fresh:
            newest = max(rec.hlc for rec in fresh.values())
            self._observe(newest, [r for r in fresh.values() if r.origin == self.origin])
        for aggregate in dict.fromkeys(aggregate_of(r.fields, r.id) for r in fresh.values()):
            projection.refold(aggregate)

    @staticmethod
    def _stored_ids(ids: list[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(ids, 500):
            query = StoredRecord.select(StoredRecord.id).where(StoredRecord.id.in_(chunk))
            found.update(row_id for (row_id,) in query.tuples())
        return found

    @staticmethod
    def _stored_places(batch: list[Record]) -> dict[tuple[str, int], tuple[str, str | None]]:
        """Return {(origin, seq): (id, prev)} of stored records at and beside the batch's seqs."""
        wanted: dict[str, set[int]] = {}
        for rec in batch:
            wanted.setdefault(rec.origin, set()).update((rec.seq - 1, rec.seq, rec.seq + 1))
        places = {}
        for origin, seqs in wanted.items():
            for chunk in _chunks(sorted(seqs), 500):
                query = StoredRecord.select(
                    StoredRecord.seq, StoredRecord.id, StoredRecord.prev
                ).where((StoredRecord.origin == origin) & StoredRecord.seq.in_(chunk))
                for seq, row_id, prev in query.tuples():
                    places[(origin, seq)] = (row_id, prev)
        return places

    def _check_chain(self, rec: Record, places: dict) -> None:
        """Raise Fork if rec contradicts a stored or batched record of its origin."""
        same = places.get((rec.origin, rec.seq))
        if same:
            raise Fork(rec.origin, f"two records claim seq {rec.seq}", f"{same[0]} vs {rec.id}")
        before = places.get((rec.origin, rec.seq - 1)) if rec.seq > 1 else None
        if before and before[0] != rec.prev:
            raise Fork(rec.origin, f"seq {rec.seq} does not follow seq {rec.seq - 1}", rec.id)
        after = places.get((rec.origin, rec.seq + 1))
        if after and after[1] != rec.id:
            raise Fork(rec.origin, f"seq {rec.seq + 1} does not follow seq {rec.seq}", rec.id)

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
        StoredRecord.insert(**_row(rec)).execute()

    # --- reading ---------------------------------------------------------------------

    def export(self) -> Iterable[bytes]:
        """Yield every stored record's exact signed bytes, in arrival order."""
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
            last = previous.get(rec.origin)
            if last and last[0] == rec.seq - 1 and last[1] != rec.prev:
                problems.append(f"{row.id}: prev does not match seq {rec.seq - 1}")
            previous[rec.origin] = (rec.seq, rec.id)
        return problems
