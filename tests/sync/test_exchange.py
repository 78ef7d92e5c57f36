"""What a box says it holds: its version vector, raised by the cursors of pages pulled.

The vector is remembered between calls (stored records are never deleted), so these
tests compare it, after every step of a random arrival order, with the answer counted
from scratch; and check that what a rolled-back transaction showed is never remembered.
"""

from __future__ import annotations

import random

import pytest
from kithtest import Clock

from appliance.box import Box
from appliance.db import database
from appliance.models import StoredRecord
from sync import exchange

START_MS = 1_767_225_600_000


def contiguous_from_scratch(origin: str) -> int:
    seqs = {
        s
        for (s,) in StoredRecord.select(StoredRecord.seq)
        .where(StoredRecord.origin == origin)
        .tuples()
    }
    n = 0
    while n + 1 in seqs:
        n += 1
    return n


@pytest.fixture
def peer_lines(tmp_path) -> tuple[str, list[bytes]]:
    """A box that wrote 40 records; return its origin and their wire lines, seq 1 first."""
    peer = Box.create(tmp_path / "peer")
    peer.log.now_ms = Clock(START_MS)
    for n in range(40):
        peer.log.append("member.joined", {"name": f"Member {n}"})
    lines = list(peer.log.export())
    database.close()
    return peer.origin, lines


@pytest.fixture
def box(tmp_path, peer_lines) -> Box:
    """A box that trusts the peer, with nothing of it yet."""
    box = Box.create(tmp_path / "box")
    box.log.now_ms = Clock(START_MS)
    box.log.append("trust.granted", {"origin": peer_lines[0], "name": "Peer"})
    return box


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_remembered_vector_matches_a_count_from_scratch(box, peer_lines, seed):
    origin, lines = peer_lines
    order = list(range(len(lines)))
    random.Random(seed).shuffle(order)
    for step in range(0, len(order), 3):
        assert box.log.ingest([lines[i] for i in order[step : step + 3]]).ok
        expected = contiguous_from_scratch(origin)
        assert box.log.contiguous(origin) == expected
        assert box.log.version_vector().get(origin, 0) == expected
        assert exchange.held(box).get(origin, 0) == expected
    assert box.log.version_vector()[origin] == len(lines)
    assert box.log.version_vector()[box.origin] == 1  # its own trust record


def test_a_rolled_back_transaction_is_not_remembered(box, peer_lines):
    origin, lines = peer_lines
    assert box.log.ingest(lines[:10]).ok
    assert box.log.contiguous(origin) == 10

    class Undo(Exception):
        pass

    with pytest.raises(Undo), database.atomic():
        assert box.log.ingest(lines[10:20]).ok
        assert box.log.contiguous(origin) == 20  # seen inside the transaction...
        raise Undo
    assert box.log.contiguous(origin) == 10  # ...and gone with it
    assert box.log.version_vector()[origin] == 10


def test_held_is_raised_by_cursors_as_far_as_pages_declared(box, peer_lines):
    origin, lines = peer_lines
    # Records 1..10 and 13..20 stored: a gap at 11-12 (say, records kept local at the peer).
    assert box.log.ingest(lines[:10] + lines[12:20]).ok
    assert exchange.held(box)[origin] == 10
    with database.atomic():
        exchange.advance_cursor("some peer", origin, 12)  # a page declared it covered 11-12
    assert box.log.version_vector()[origin] == 10
    assert exchange.held(box)[origin] == 12  # the cursor, as before: not the run above it
    with database.atomic():
        exchange.advance_cursor("another peer", origin, 25)
    assert exchange.held(box)[origin] == 25
    assert box.log.ingest(lines[10:12]).ok  # the gap filled after all: 1..20 contiguous
    assert exchange.held(box)[origin] == 25
    assert box.log.ingest(lines[20:30]).ok
    assert exchange.held(box)[origin] == 30


def test_a_box_reopened_on_its_file_counts_again(tmp_path, box, peer_lines):
    origin, lines = peer_lines
    assert box.log.ingest(lines[:5]).ok
    assert box.log.contiguous(origin) == 5
    reopened = Box.open(tmp_path / "box")
    assert reopened.log.version_vector()[origin] == 5


def test_lag_counts_what_a_peer_holds_beyond_us_of_origins_we_accept():
    accepts = {"a": None, "b": 7}
    assert exchange.lag({"a": 10}, accepts, {"a": 2010, "b": 5, "c": 900}) == 2005
    assert exchange.lag({"a": 3000, "b": 9}, accepts, {"a": 2010, "b": 5}) == 0
    assert exchange.lag({}, accepts, ["not", "a", "vector"]) == 0
