"""Partition and heal between real boxes; the same records from two peers; short,
shuffled pages.

Three `kith serve` boxes on loopback, all paired with each other: A added B, C added A
and B, so A and C run the rounds and B only answers. Work on a box is done by a short
Python process opening its data dir, as in test_three_boxes.py.
"""

from __future__ import annotations

import json
import subprocess
from contextlib import ExitStack
from pathlib import Path

import kithtest
import pytest
from kithtest import KITH, NO_BACKGROUND_SYNC, SNAPSHOT, init_args, kith, pair, serving

PASSWORD = "partition-password"
# Served boxes get NO_BACKGROUND_SYNC: a background round would heal the partition.

# Runs in a child process with the box open as BOX; prints JSON.
PRELUDE = """
import json, sys
from pathlib import Path
from appliance.box import Box
from appliance.models import Account, Member, Role
from appliance.services import accounts, board, moderation
from appliance.services.accounts import login_key
BOX = Box.open(Path(sys.argv[1]))
ARGS = json.loads(sys.argv[2]) if len(sys.argv) > 2 else None
def actor(name):
    # A member of this box, signed up here on first use.
    row = Account.get_or_none(Account.login == login_key(name))
    member = row.member if row else accounts.sign_up(BOX, name, "password-123")
    return accounts.actor_for(BOX, member)
def visitor(name):
    # A member who signed up at another centre, acting here (the folds key helpers by
    # member, whichever box signs the record).
    return accounts.actor_for(BOX, Member.get(Member.name == name).id)
def staff():
    role = Role.get((Role.role == "admin") & (Role.origin == BOX.origin))
    return accounts.actor_for(BOX, role.member)
"""

# The documented rule (PROTOCOL.md section 4), computed from the stored records alone:
# order each post's records by (hlc, origin, id); the last resolve/reopen and the last
# hide/unhide win; helpers are an add/remove set keyed by author. Prints, per post,
# what the rule says next to what the projection holds.
LAST_WRITER = """
from appliance.models import Helper, Post, StoredRecord
out = {}
for post in Post.select():
    rows = (StoredRecord.select().where(StoredRecord.aggregate == post.id)
            .order_by(StoredRecord.hlc_ms, StoredRecord.hlc_c, StoredRecord.origin,
                      StoredRecord.id))
    resolved, note, hidden, reason, helpers = False, None, False, None, {}
    for row in rows:
        rec = json.loads(row.raw)
        kind, body = rec["kind"], rec["body"]
        if kind == "post.resolved":
            resolved, note = True, body["note"]
        elif kind == "post.reopened":
            resolved, note = False, None
        elif kind == "post.hidden":
            hidden, reason = True, body["reason"]
        elif kind == "post.unhidden":
            hidden, reason = False, None
        elif kind == "help.offered" and rec["author"]:
            since = helpers.get(rec["author"], (None, rec["hlc"][0]))[1]
            helpers[rec["author"]] = (body["mode"], since)
        elif kind == "help.withdrawn":
            helpers.pop(rec["author"], None)
    status = "resolved" if resolved else (
        "on_it" if any(m == "on_it" for m, _ in helpers.values()) else "open")
    expected = {"status": status, "note": note, "hidden": hidden, "reason": reason,
                "helpers": sorted([k, *v] for k, v in helpers.items())}
    actual = {"status": post.status, "note": post.resolved_note, "hidden": post.hidden,
              "reason": post.hidden_reason,
              "helpers": sorted([h.member, h.mode, h.since_ms]
                                for h in Helper.select().where(Helper.post == post.id))}
    out[post.title] = {"expected": expected, "actual": actual}
print(json.dumps(out))
"""


def on_box(data: Path, code: str, args=None):
    """Run code in a child Python with the box open as BOX and ARGS = args; return JSON."""
    extra = [] if args is None else [json.dumps(args)]
    return kithtest.on_box(data, code, *extra, prelude=PRELUDE)


@pytest.fixture(scope="module")
def boxes(tmp_path_factory):
    """A, B and C served on loopback and all paired; yields {name: (dir, url)}."""
    root = tmp_path_factory.mktemp("triangle")
    password = root / "password"
    password.write_text(PASSWORD + "\n")
    found = {}
    with ExitStack() as stack:
        for name in "ABC":
            data = root / name
            kith(*init_args(data, password, f"Centre {name}"))
            _, url = stack.enter_context(
                serving("--data", str(data), log=root / f"{name}.log", env=NO_BACKGROUND_SYNC)
            )
            found[name] = (data, url)
        pair(found["A"][0], found["B"][0], found["B"][1])
        pair(found["C"][0], found["B"][0], found["B"][1])
        pair(found["C"][0], found["A"][0], found["A"][1])
        yield found


def settle(boxes) -> None:
    """Run rounds from A and C (B only answers) until a whole pass moves nothing."""
    for _ in range(5):
        lines = [
            line
            for name in "AC"
            for line in kith("--data", str(boxes[name][0]), "sync").splitlines()
        ]
        if all(" 0 in, 0 out" in line for line in lines):
            return
    raise AssertionError(f"syncing did not settle: {lines}")


def snapshots(boxes, names="ABC") -> list[dict]:
    return [on_box(boxes[n][0], SNAPSHOT) for n in names]


def record_ids(data: Path) -> list[str]:
    return on_box(
        data,
        """
from appliance.models import StoredRecord
print(json.dumps(sorted(r.id for r in StoredRecord.select(StoredRecord.id))))""",
    )


def post_state(data: Path, title: str) -> dict:
    return on_box(
        data,
        """
from appliance.models import Post
p = Post.get(Post.title == ARGS)
print(json.dumps({"status": p.status, "hidden": p.hidden}))""",
        title,
    )


TITLES = {
    "p1": "Resolved at A, commented at B",
    "p2": "B reopens, then A resolves again",
    "p3": "A resolves again, then B reopens",
    "p4": "A unhides, then B hides again",
    "p5": "B hides again, then A unhides",
    "p6": "Helpers come and go on both sides",
}


def test_edits_on_both_sides_of_a_partition_converge_to_the_last_writer(boxes):
    a, b, c = (boxes[n][0] for n in "ABC")
    posts = on_box(
        a,
        """
ann = actor("Ann")
out = {}
for key, title in ARGS.items():
    out[key] = board.create_post(BOX, ann, {"type": "need", "title": title, "details": "",
                                            "category": "food", "place": "Hall"})
for key in ("p2", "p3"):
    board.resolve(BOX, ann, out[key], "Done before the partition")
for key in ("p4", "p5"):
    moderation.set_post_hidden(BOX, staff(), out[key], True, "Hidden before the partition")
actor("Dee")
print(json.dumps(out))""",
        TITLES,
    )
    settle(boxes)
    on_box(b, 'board.offer_help(BOX, actor("Bo"), ARGS, "can_help"); actor("Eve")', posts["p6"])
    on_box(c, 'board.offer_help(BOX, actor("Cy"), ARGS, "can_help")', posts["p6"])
    settle(boxes)

    # Partition: A on its own; B and C still reach each other. Each block runs after the
    # one before, so the later block's records carry the later clock.
    on_box(
        b,
        """
board.reopen(BOX, staff(), ARGS["p2"])
moderation.set_post_hidden(BOX, staff(), ARGS["p5"], False, "")
moderation.set_post_hidden(BOX, staff(), ARGS["p5"], True, "Hidden again at B")
board.add_comment(BOX, actor("Bo"), ARGS["p1"], "Do you still need some?")
board.offer_help(BOX, actor("Bo"), ARGS["p6"], "on_it")
board.offer_help(BOX, actor("Eve"), ARGS["p6"], "on_it")
board.withdraw_help(BOX, actor("Eve"), ARGS["p6"])""",
        posts,
    )
    on_box(
        a,
        """
ann = actor("Ann")
board.resolve(BOX, ann, ARGS["p1"], "Done at A")
board.reopen(BOX, ann, ARGS["p2"])
board.resolve(BOX, ann, ARGS["p2"], "Resolved again at A")
board.reopen(BOX, ann, ARGS["p3"])
board.resolve(BOX, ann, ARGS["p3"], "Resolved again at A")
moderation.set_post_hidden(BOX, staff(), ARGS["p4"], False, "Fine after all")
moderation.set_post_hidden(BOX, staff(), ARGS["p5"], False, "Fine after all")
board.withdraw_help(BOX, visitor("Bo"), ARGS["p6"])
board.withdraw_help(BOX, visitor("Cy"), ARGS["p6"])
board.offer_help(BOX, actor("Dee"), ARGS["p6"], "can_help")""",
        posts,
    )
    on_box(
        b,
        """
board.reopen(BOX, staff(), ARGS["p3"])
moderation.set_post_hidden(BOX, staff(), ARGS["p4"], False, "")
moderation.set_post_hidden(BOX, staff(), ARGS["p4"], True, "Hidden again at B")""",
        posts,
    )
    on_box(c, 'board.offer_help(BOX, actor("Cy"), ARGS, "on_it")', posts["p6"])
    kith("--data", str(c), "sync", "--peer", "Centre B")

    # Still apart: A and B each see their own side.
    assert post_state(a, TITLES["p3"]) == {"status": "resolved", "hidden": False}
    assert post_state(b, TITLES["p3"]) == {"status": "open", "hidden": False}
    assert post_state(a, TITLES["p4"]) == {"status": "open", "hidden": False}
    assert post_state(b, TITLES["p4"]) == {"status": "open", "hidden": True}
    assert snapshots(boxes, "BC")[0] != snapshots(boxes, "A")[0]

    settle(boxes)  # heal
    first, *others = snapshots(boxes)
    assert all(other == first for other in others)

    rule = on_box(a, LAST_WRITER)
    for title in TITLES.values():
        assert rule[title]["actual"] == rule[title]["expected"], title
    got = {key: rule[title]["actual"] for key, title in TITLES.items()}
    assert got["p1"]["status"] == "resolved" and got["p1"]["note"] == "Done at A"
    assert (got["p2"]["status"], got["p2"]["note"]) == ("resolved", "Resolved again at A")
    assert (got["p3"]["status"], got["p3"]["note"]) == ("open", None)
    assert (got["p4"]["hidden"], got["p4"]["reason"]) == (True, "Hidden again at B")
    assert (got["p5"]["hidden"], got["p5"]["reason"]) == (False, None)
    # Bo went on_it at B, then withdrew at A: gone. Cy withdrew at A, then went on_it at C:
    # back, helping since that offer. Eve came and went at B; Dee offered at A.
    names = on_box(
        a,
        "print(json.dumps({m.id: m.name for m in Member.select()}))",
    )
    helpers = {names[m]: mode for m, mode, _ in got["p6"]["helpers"]}
    assert helpers == {"Cy": "on_it", "Dee": "can_help"}
    assert got["p6"]["status"] == "on_it"
    on_p1 = [dict(json.loads(row)) for row in first["Comment"]]
    on_p1 = [row["text"] for row in on_p1 if row["post"] == posts["p1"]]
    assert on_p1 == ["Do you still need some?"]


def test_the_same_records_from_two_peers_change_nothing(boxes):
    a, b, c = (boxes[n][0] for n in "ABC")
    settle(boxes)
    on_box(
        a,
        """
ann = actor("Ann")
p = board.create_post(BOX, ann, {"type": "offer", "title": "Spare chairs", "details": "",
                                 "category": "food", "place": "Hall"})
board.add_comment(BOX, ann, p, "Ten of them")
board.add_comment(BOX, ann, p, "Collect by Friday")""",
    )
    kith("--data", str(a), "sync")  # A -> B only: B now holds them, C does not
    about_c = on_box(
        c,
        """
from sync import exchange
print(json.dumps([BOX.origin, exchange.held(BOX), exchange.accepts(BOX)]))""",
    )
    # A and then B push C the same page of A's records, chosen against what C held.
    push = """
from sync import exchange
from sync.client import _request
c_origin, have, accepts, url = ARGS
page = exchange.next_page(BOX, c_origin, have, accepts)
assert page is not None
body = b"\\n".join([page.header(), *page.lines]) + b"\\n"
status, answer = _request(BOX, url, "/sync/v1/push", body)
print(json.dumps([status, page.origin, len(page.lines), json.loads(answer)]))"""
    args = [*about_c, boxes["C"][1]]
    from_a = on_box(a, push, args)
    before = snapshots(boxes, "C")[0], record_ids(c)
    from_b = on_box(b, push, args)
    assert from_a[0] == from_b[0] == 200
    assert from_a[1] == from_b[1]  # both pages are of A's origin
    assert from_a[2] == from_b[2] == 3
    assert from_a[3] == {"accepted": 3, "duplicates": 0}
    assert from_b[3] == {"accepted": 0, "duplicates": 3}
    assert (snapshots(boxes, "C")[0], record_ids(c)) == before

    # Now for real: C pulls new records from A and from B at the same moment.
    on_box(
        a,
        """
ann = actor("Ann")
p = board.create_post(BOX, ann, {"type": "need", "title": "Lifts to the clinic",
    "details": "Tuesdays", "category": "food", "place": "Hall"})
for n in range(5):
    board.add_comment(BOX, ann, p, f"Update {n}")""",
    )
    kith("--data", str(a), "sync")
    with ExitStack() as stack:
        runs = [
            stack.enter_context(
                subprocess.Popen(
                    [KITH, "--data", str(c), "sync", "--peer", peer],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
            for peer in ("Centre A", "Centre B")
        ]
        outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    # Between them the two rounds brought everything new, some of it perhaps twice.
    pulled = sum(int(out.split(": ", 1)[1].split(" in")[0]) for out, _ in outputs)
    assert pulled >= 6
    settle(boxes)
    first, *others = snapshots(boxes)
    assert all(other == first for other in others)
    ids = [record_ids(boxes[n][0]) for n in "ABC"]
    assert ids[0] == ids[1] == ids[2] and len(set(ids[0])) == len(ids[0])


def test_a_relay_passes_on_an_origin_whose_newest_record_is_local(boxes):
    """C cut off from A learns A's new post through B, although A's newest record (the
    one B's cursor stops at) never leaves A."""
    a, b, c = (boxes[n][0] for n in "ABC")
    settle(boxes)
    local_id = on_box(
        a,
        """
board.create_post(BOX, actor("Ann"), {"type": "offer", "title": "Only through B",
    "details": "", "category": "food", "place": "Hall"})
# A kind no fold applies, so the boards can still be compared whole afterwards.
print(json.dumps(BOX.log.append("note.kept", {"text": "Kept here"}, scope="local").id))""",
    )
    kith("--data", str(a), "sync")  # A -> B
    out = kith("--data", str(c), "sync", "--peer", "Centre B")
    assert out.startswith("Centre B: ") and " 0 in" not in out and "stopped" not in out
    assert post_state(c, "Only through B") == {"status": "open", "hidden": False}
    assert " 0 in, 0 out" in kith("--data", str(c), "sync", "--peer", "Centre B")
    settle(boxes)
    for data in (b, c):
        assert local_id not in record_ids(data)


# Pulls every page from A with tiny, random page limits, ingests the pages of each pass in
# shuffled order (records and cursor together, as the client does), and reports.
SHUFFLED = """
import random
from sync import exchange
from sync.client import _request
from appliance.models import PeerCursor, StoredRecord
url, a_origin, a_local, seed = ARGS
rnd = random.Random(seed)
pages = records = passes = 0
while True:
    have, accepts, batch = exchange.held(BOX), exchange.accepts(BOX), []
    while True:
        ask = {"have": have, "accepts": accepts, "max_records": rnd.randint(1, 3)}
        if rnd.random() < 0.3:
            ask["max_bytes"] = 1  # still one record per page
        status, answer = _request(BOX, url, "/sync/v1/pull", json.dumps(ask).encode())
        assert status == 200, answer
        header, lines = exchange.parse_page(answer)
        if header["origin"] is None:
            break
        exchange.check_page(header, lines, a_origin)
        assert 1 <= header["through"] - header["after"] <= 3 and len(lines) <= 3
        batch.append((header, lines))
        have = {**have, header["origin"]: header["through"]}
        if not header["more"]:
            break
    if not batch:
        break
    passes += 1
    rnd.shuffle(batch)
    for header, lines in batch:
        cursor = lambda h=header: exchange.advance_cursor(a_origin, h["origin"], h["through"])
        result = BOX.log.ingest(lines, also=cursor)
        assert result.ok, result.rejected
        pages += 1
        records += len(result.accepted)
held = {}
for r in StoredRecord.select(StoredRecord.origin, StoredRecord.seq):
    held.setdefault(r.origin, set()).add(r.seq)
# A cursor may step over A's own local records, never over anything else.
gaps = {a_origin: set(a_local)}
ahead = [(c.origin[:8], c.seq) for c in PeerCursor.select()
         if set(range(1, c.seq + 1)) - held.get(c.origin, set()) - gaps.get(c.origin, set())]
print(json.dumps({"pages": pages, "records": records, "passes": passes, "ahead": ahead}))
"""

FOREIGN = """
from appliance.models import StoredRecord
rows = StoredRecord.select().where(
    (StoredRecord.origin != BOX.origin) & (StoredRecord.scope == "federation"))
print(json.dumps(sorted([r.id, bytes(r.raw).decode()] for r in rows)))
"""

FEDERATION = """
from appliance.models import StoredRecord
rows = StoredRecord.select().where(StoredRecord.scope == "federation")
print(json.dumps(sorted([r.id, bytes(r.raw).decode()] for r in rows)))
"""


def test_short_shuffled_pages_give_what_a_normal_sync_gives(boxes, tmp_path):
    a = boxes["A"][0]
    settle(boxes)
    password = tmp_path / "password"
    password.write_text(PASSWORD + "\n")
    d = tmp_path / "D"
    kith(*init_args(d, password, "Centre D"))
    pair(d, a, boxes["A"][1])
    a_origin, a_local = on_box(
        a,
        """
from appliance.models import StoredRecord
local = StoredRecord.select().where(
    (StoredRecord.origin == BOX.origin) & (StoredRecord.scope == "local"))
print(json.dumps([BOX.origin, [r.seq for r in local]]))""",
    )
    report = on_box(d, SHUFFLED, [boxes["A"][1], a_origin, a_local, 7])
    # Pass 1 brings A's records (with A's grants); only then does D accept B's and C's.
    assert report["passes"] >= 2 and report["ahead"] == []
    assert report["pages"] * 3 >= report["records"] > 30
    # D now holds exactly what A would send it: every federation record A holds.
    assert on_box(d, FOREIGN) == on_box(a, FEDERATION)

    # A normal round finds nothing missing; once D's own records spread, all four agree.
    out = kith("--data", str(d), "sync")
    assert "Centre A: 0 in," in out
    settle(boxes)
    first, *others = snapshots(boxes, "ABC")
    assert all(other == first for other in others)
    # D paired with A only: B's and C's hides wait for D's staff to review them, until
    # D's staff choose to honour those centres. Then D agrees with the others on
    # everything but its own choices.
    pending = on_box(
        d,
        """
from appliance.models import ModerationEvent
print(json.dumps(sorted({e.origin for e in ModerationEvent.select()
                         .where(ModerationEvent.review == "pending")})))""",
    )
    # (B's hides are pending when the partition test ran first in this module's boxes.)
    assert a_origin not in pending
    on_box(
        d,
        """
for origin in ARGS:
    moderation.set_peer_policy(BOX, staff(), origin, "honour")""",
        pending,
    )
    at_d = on_box(d, SNAPSHOT)
    # D's own choices (local records) are its alone.
    assert len(at_d.pop("PeerPolicy")) == len(pending) and first.pop("PeerPolicy") == []
    assert at_d == first
