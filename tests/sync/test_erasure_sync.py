"""An erasure travelling between real boxes over HTTP (sync/PROTOCOL.md, "Erasure").

Box A is Zeph's home box; box B, paired with A, syncs her post, a comment on it and her
ride before she erases her account (mode remove) at A; after the next sync B holds her
records only as stubs and neither its tables nor its database file (or WAL) hold her
name, contact, post, comment or ride areas. Box C, paired with A only after the erasure,
receives the stubs and accepts them because the erasure covers them. A stub made by
hand, with no erasure behind it, is refused with its reason when pushed to B.

Each box is a real `kith serve` process on loopback; work on a box is done by a short
Python process opening its data dir, through the services the pages use.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from contextlib import ExitStack
from pathlib import Path

import kithtest
import pytest
from cryptography.hazmat.primitives import serialization
from kithtest import SNAPSHOT, init_args, kith, pair, serving

from appliance.records import make_stub, parse
from sync.auth import sign_request

PASSWORD = "erasure-sync-password"
NAME = "Oriel Thistlewaite"
CONTACT = "oriel-5521@fernpost.example"
TITLE = "Damson chutney swap"
COMMENT = "I have four jars of quince"
AREAS = ["Wyvernmoor", "Kestrelgate Fields"]
ERASED = [NAME, CONTACT, TITLE, COMMENT, *AREAS]

PRELUDE = """
import datetime, json, sys
from pathlib import Path
from appliance.box import Box
from appliance.models import Account, Member, StoredRecord
from appliance.records import is_stub
from appliance.services import accounts, board, rides
from appliance.services import erasure as erasing
BOX = Box.open(Path(sys.argv[1]))
def actor(name, contact=""):
    row = Account.get_or_none(Account.login == accounts.login_key(name))
    member = row.member if row else accounts.sign_up(BOX, name, "password-123", contact)
    return accounts.actor_for(BOX, member)
POST = {"type": "need", "details": "", "category": "local-fix", "place": "Elm Road",
        "needed_by": ""}
"""

STORY = f"""
zeph = actor({NAME!r}, {CONTACT!r})
bob = actor("Bob Baker")
post = board.create_post(BOX, zeph, {{**POST, "title": {TITLE!r}}})
comment = board.add_comment(BOX, bob, post, {COMMENT!r})
day = (board.today(BOX) + datetime.timedelta(days=5)).isoformat()
ride = rides.request_ride(BOX, zeph, {{
    "from_address": "3 Heron Walk", "to_address": "Clinic", "from_area": {AREAS[0]!r},
    "to_area": {AREAS[1]!r}, "date": day, "time": "09:30", "time_is": "pickup",
    "window": "15", "repeat": "none", "return_at": "", "passengers": "1", "notes": ""}})
print(json.dumps({{"zeph": zeph.id, "post": post, "comment": comment, "ride": ride,
                   "a": BOX.origin}}))
"""

ERASE = """
zeph = accounts.actor_for(BOX, sys.argv[2])
print(json.dumps(erasing.erase_member(BOX, zeph, zeph.id, "remove")))
"""

STUBS = """
ids = json.loads(sys.argv[2])
held = StoredRecord.select().where(StoredRecord.id.in_(ids))
rows = {r.id: json.loads(bytes(r.raw)) for r in held}
print(json.dumps({"stubs": sorted(i for i, f in rows.items() if is_stub(f)),
                  "erasures": sorted({f["redacted"]["erasure"] for f in rows.values()
                                      if is_stub(f)}),
                  "member": Member.get_by_id(ids[0]).name, "problems": BOX.log.verify()}))
"""

NEW_POST = """
bob = actor("Bob Baker")
post = board.create_post(BOX, bob, {**POST, "title": "Spare deckchairs"})
row = StoredRecord.get_by_id(post)
print(json.dumps({"raw": bytes(row.raw).decode(), "seq": row.seq}))
"""


def on_box(data: Path, code: str, *args: str):
    return kithtest.on_box(data, code, *args, prelude=PRELUDE)


def settle(data: Path) -> None:
    """Sync a box with its peers until a round moves nothing."""
    for _ in range(4):
        out = kith("--data", str(data), "sync")
        if " 0 in, 0 out" in out:
            return
    raise AssertionError(f"syncing did not settle: {out}")


def held(data: Path) -> tuple[str, bytes]:
    """A box's projection tables (as JSON text), and its database file and WAL bytes."""
    tables = json.dumps(kithtest.on_box(data, SNAPSHOT, prelude=PRELUDE))
    db = data / "kith.db"
    wal = db.with_name("kith.db-wal")
    return tables, db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def push(url: str, key, body: bytes) -> tuple[int, dict]:
    parts = urllib.parse.urlsplit(url)
    headers = sign_request(key, "POST", "/sync/v1/push", body, time.time_ns() // 1_000_000)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        conn.request("POST", "/sync/v1/push", body=body, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Boxes A and B paired, Zeph's story synced, erased at A and synced again; then C."""
    root = tmp_path_factory.mktemp("erasure")
    password = root / "password"
    password.write_text(PASSWORD + "\n")
    with ExitStack() as stack:
        boxes = {}
        for name in ("A", "B", "C"):
            data = root / name
            kith(*init_args(data, password, f"Centre {name}"))
            _, url = stack.enter_context(serving("--data", str(data), log=root / f"{name}.log"))
            boxes[name] = (data, url)
        a, b, c = (boxes[n][0] for n in "ABC")
        pair(b, a, boxes["A"][1])
        ids = on_box(a, STORY)
        settle(b)
        seen = {"a_before": held(a), "b_before": held(b)}
        ids["erasure"] = on_box(a, ERASE, ids["zeph"])
        settle(b)
        seen["a"], seen["b"] = held(a), held(b)
        wanted = json.dumps([ids["zeph"], ids["post"], ids["comment"], ids["ride"]])
        seen["b_stubs"] = on_box(b, STUBS, wanted)
        pair(c, a, boxes["A"][1])
        settle(c)
        seen["c"] = held(c)
        seen["c_stubs"] = on_box(c, STUBS, wanted)
        yield {"ids": ids, "seen": seen, "boxes": boxes}


def test_the_boxes_held_the_values_before_the_erasure(world):
    tables, disk = world["seen"]["a_before"]
    for value in ERASED:
        assert value.encode() in disk, value
    tables, disk = world["seen"]["b_before"]
    for value in ERASED:
        if value != CONTACT:  # contact details never leave the member's box
            assert value in tables or value.encode() in disk, value
    assert NAME in tables and TITLE in tables and COMMENT in tables
    assert CONTACT.encode() not in disk


@pytest.mark.parametrize("box", ["a", "b", "c"])
def test_no_box_holds_the_erased_values_afterwards(world, box):
    tables, disk = world["seen"][box]
    for value in ERASED:
        assert value not in tables, value
        assert value.encode() not in disk, value
    assert "A former member" in tables


@pytest.mark.parametrize("box", ["b_stubs", "c_stubs"])
def test_peers_hold_stubs_of_the_erasure_and_verify_clean(world, box):
    ids = world["ids"]
    found = world["seen"][box]
    assert found["stubs"] == sorted([ids["zeph"], ids["post"], ids["comment"], ids["ride"]])
    assert found["erasures"] == [ids["erasure"]]
    assert found["member"] == "A former member"
    assert found["problems"] == []


def test_a_hand_made_stub_is_refused_with_its_reason(world):
    (a, _), (b, b_url) = world["boxes"]["A"], world["boxes"]["B"]
    made = on_box(a, NEW_POST)
    stub = make_stub(parse(made["raw"]), "e" * 64)
    key = serialization.load_pem_private_key((a / "box.key").read_bytes(), password=None)
    header = {
        "origin": world["ids"]["a"],
        "after": made["seq"] - 1,
        "through": made["seq"],
        "count": 1,
        "more": False,
    }
    body = json.dumps(header).encode() + b"\n" + stub.raw + b"\n"
    status, answer = push(b_url, key, body)
    assert status == 400
    assert answer["rejected"] == [
        {"line": 1, "reason": "redacted record without a valid erasure that covers it"}
    ]
    tables, _ = held(b)
    assert "Spare deckchairs" not in tables
