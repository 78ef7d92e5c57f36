"""Three real boxes in a line A - B - C, each a `kith serve` process on loopback.

A and C never talk to each other; everything they learn of each other comes through B.
Work on a box is done by a short Python process opening that box's data dir (the
server holds the same SQLite file open, as on a real box).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from contextlib import ExitStack
from pathlib import Path

import kithtest
import pytest
from kithtest import SNAPSHOT, init_args, kith, pair, serving

PASSWORD = "three-box-password"

# Runs in a child process with the box open as BOX; prints JSON.
PRELUDE = """
import json, sys
from pathlib import Path
from appliance.box import Box
from appliance.services import accounts, board, moderation
BOX = Box.open(Path(sys.argv[1]))
def actor(name):
    from appliance.models import Account
    from appliance.services.accounts import login_key
    row = Account.get_or_none(Account.login == login_key(name))
    member = row.member if row else accounts.sign_up(BOX, name, "password-123")
    return accounts.actor_for(BOX, member)
"""


def on_box(data: Path, code: str):
    """Run code in a child Python with the box open as BOX; return its stdout as JSON."""
    return kithtest.on_box(data, code, prelude=PRELUDE)


def sync(data: Path) -> str:
    return kith("--data", str(data), "sync")


@pytest.fixture(scope="module")
def line(tmp_path_factory):
    """Boxes A, B, C served on loopback, paired A-B and C-B; yields {name: (dir, url)}."""
    root = tmp_path_factory.mktemp("line")
    password = root / "password"
    password.write_text(PASSWORD + "\n")
    boxes = {}
    with ExitStack() as stack:
        for name in ("A", "B", "C"):
            data = root / name
            kith(*init_args(data, password, f"Centre {name}"))
            _, url = stack.enter_context(serving("--data", str(data), log=root / f"{name}.log"))
            boxes[name] = (data, url)
        pair(boxes["A"][0], boxes["B"][0], boxes["B"][1])
        pair(boxes["C"][0], boxes["B"][0], boxes["B"][1])
        yield boxes


def settle(line) -> None:
    """Sync A and C with hub B until a whole pass moves nothing."""
    for _ in range(4):
        outputs = [sync(line["A"][0]), sync(line["C"][0])]
        if all(" 0 in, 0 out" in out for out in outputs):
            return
    raise AssertionError(f"syncing did not settle: {outputs}")


def posts(url: str) -> dict:
    with urllib.request.urlopen(url + "api/v1/posts", timeout=30) as response:
        return json.load(response)


def test_work_at_both_ends_reaches_every_box_and_projections_match(line):
    a, b, c = (line[n][0] for n in "ABC")
    post_a = on_box(
        a,
        """
p = board.create_post(BOX, actor("Ann"), {"type": "need", "title": "Tins for Friday",
    "details": "", "category": "food", "place": "Hall"})
print(json.dumps(p))""",
    )
    post_c = on_box(
        c,
        """
p = board.create_post(BOX, actor("Cy"), {"type": "should", "title": "Fix the gate",
    "details": "It squeaks", "category": "local-fix", "place": "Park"})
print(json.dumps(p))""",
    )
    settle(line)
    # C comments on A's post and offers help; A resolves; staff at C hide C's own post.
    on_box(
        c,
        f"""
board.add_comment(BOX, actor("Cy"), {post_a!r}, "How many tins?")
board.offer_help(BOX, actor("Cy"), {post_a!r}, "on_it")
print("null")""",
    )
    settle(line)
    on_box(
        a,
        f"""
board.resolve(BOX, actor("Ann"), {post_a!r}, "Cy brought them")
print("null")""",
    )
    on_box(
        c,
        f"""
from appliance.models import Role
admin = next(r.member for r in Role.select().where(Role.role == "admin"))
moderation.set_post_hidden(BOX, accounts.actor_for(BOX, admin), {post_c!r}, True, "Duplicate")
print("null")""",
    )
    settle(line)

    snapshots = [on_box(d, SNAPSHOT) for d in (a, b, c)]
    assert snapshots[1] == snapshots[2]
    # A trusts C only through B, so C's hide waits for A's staff to review it: A's post
    # and moderation rows differ from B's and C's there, and nowhere else.
    differ = ("Post", "ModerationEvent")
    assert {k: v for k, v in snapshots[0].items() if k not in differ} == {
        k: v for k, v in snapshots[1].items() if k not in differ
    }
    on_a = {p["id"]: p for p in posts(line["A"][1])["posts"]}
    assert on_a[post_a]["status"] == "resolved"
    assert post_c in on_a  # hidden at C and at B (paired with C); waiting for review at A
    on_box(
        a,
        """
from appliance.models import Role
admin = accounts.actor_for(BOX, next(r.member for r in Role.select().where(Role.role == "admin")))
[hide] = moderation.review_queue(BOX, admin)["peer_hides"]
moderation.review_peer_hide(BOX, admin, hide["id"], "accept")
print("null")""",
    )
    assert post_c not in {p["id"] for p in posts(line["A"][1])["posts"]}
    at_c = {p["id"]: p for p in posts(line["C"][1])["posts"]}
    assert at_c[post_a]["centre"] == "Centre A" and at_c[post_a]["comment_count"] == 1
    # A and C never met: A has no peer row for C, yet trusts it through B.
    listing = kith("--data", str(a), "peer", "list")
    assert "Centre C: relayed by Centre B" in listing
    assert "- Centre C (" not in listing


def test_a_second_sync_changes_nothing(line):
    settle(line)
    before = [on_box(line[n][0], SNAPSHOT) for n in "ABC"]
    assert " 0 in, 0 out" in sync(line["A"][0])
    assert [on_box(line[n][0], SNAPSHOT) for n in "ABC"] == before


def test_local_records_never_reach_a_peer(line):
    a = line["A"][0]
    local_id = on_box(
        a,
        """
rec = BOX.log.append("member.joined", {"name": "Only here"}, scope="local")
print(json.dumps(rec.id))""",
    )
    on_box(
        a,
        """
p = board.create_post(BOX, actor("Ann"), {"type": "offer", "title": "After the local one",
    "details": "", "category": "food", "place": "Hall"})
print("null")""",
    )
    settle(line)
    for name in "BC":
        held = on_box(
            line[name][0],
            f"""
from appliance.models import StoredRecord, Post
print(json.dumps([StoredRecord.get_or_none(StoredRecord.id == {local_id!r}) is None,
                  Post.select().where(Post.title == "After the local one").count()]))""",
        )
        # The local record stays at A; the record after it still travels.
        assert held == [True, 1]


def test_an_unpaired_box_gets_403_and_nothing(line, tmp_path):
    password = tmp_path / "pw"
    password.write_text(PASSWORD + "\n")
    stranger = tmp_path / "stranger"
    kith(*init_args(stranger, password, "Stranger"))
    body = on_box(
        stranger,
        f"""
from sync.client import _request
status, answer = _request(BOX, {line["B"][1]!r}, "/sync/v1/pull", b'{{"have": {{}}}}')
print(json.dumps([status, answer.decode()]))""",
    )
    assert body[0] == 403 and "not paired" in body[1]
    # Unsigned requests are refused the same way.
    request = urllib.request.Request(line["B"][1] + "sync/v1/pull", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    with refused.value:  # closes the response the error carries
        assert refused.value.code == 403


def test_a_tampered_push_page_is_refused_and_applies_nothing(line):
    a, b = line["A"][0], line["B"]
    result = on_box(
        a,
        f"""
from sync import exchange
from sync.client import _request
rec = board.create_post(BOX, actor("Ann"), {{"type": "need", "title": "Tamper me",
    "details": "", "category": "food", "place": "Hall"}})
from appliance.models import StoredRecord
raw = bytes(StoredRecord.get_by_id(rec).raw).replace(b"Tamper me", b"Tamper ME")
page = exchange.Page(BOX.origin, 0, 10**6, [raw], more=False)
status, answer = _request(BOX, {b[1]!r}, "/sync/v1/push", page.header() + b"\\n" + raw + b"\\n")
print(json.dumps([status, answer.decode()]))""",
    )
    assert result[0] == 400 and "signature does not verify" in result[1]
    counts = on_box(
        b[0],
        """
from appliance.models import Post, PeerCursor
print(json.dumps([Post.select().where(Post.title.contains("Tamper")).count(),
                  max([c.seq for c in PeerCursor.select()] or [0])]))""",
    )
    assert counts == [0, counts[1]] and counts[1] < 10**6  # nothing applied, cursor unmoved
    settle(line)  # the honest record still arrives by a normal sync
