"""Moderation across two real boxes: a hide made at centre A reaches centre B as a signed
record, and B honours it, reviews it or ignores it as B's staff chose for A.

Each box is a real `kith serve` process on loopback; A reaches B (`kith --data A sync`).
Work on a box is done by a short Python process opening its data dir, as staff and
members would through the pages; what visitors see at B is read over HTTP from B.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from contextlib import ExitStack
from pathlib import Path

import kithtest
import pytest
from kithtest import init_args, kith, pair, serving

PASSWORD = "moderation-sync-password"

# Runs in a child process with the box open as BOX; prints JSON.
PRELUDE = """
import json, sys
from pathlib import Path
from appliance.box import Box
from appliance.models import Account, Post, Role, StoredRecord
from appliance.services import accounts, board, conduct, moderation, moderation_log
from appliance.services.accounts import login_key
BOX = Box.open(Path(sys.argv[1]))
def actor(name):
    row = Account.get_or_none(Account.login == login_key(name))
    member = row.member if row else accounts.sign_up(BOX, name, "password-123")
    person = accounts.actor_for(BOX, member)
    if conduct.needs_acceptance(BOX, person):
        conduct.accept_conduct(BOX, person, conduct.current_version(BOX))
    return person
ADMIN = accounts.actor_for(BOX, Role.get(Role.role == "admin").member)
def new_post(title):
    return board.create_post(BOX, actor("Ann Author"), {"type": "need", "title": title,
        "details": "Call Ann on 07700 900111", "category": "travel", "place": "Mill Lane",
        "needed_by": ""})
"""


def on_box(data: Path, code: str):
    """Run code in a child Python with the box open as BOX; return its stdout as JSON."""
    return kithtest.on_box(data, code, prelude=PRELUDE)


def settle(a: Path) -> None:
    """Sync A with B until a round moves nothing (A reaches B; B never calls A)."""
    for _ in range(4):
        out = kith("--data", str(a), "sync")
        if " 0 in, 0 out" in out:
            return
    raise AssertionError(f"syncing did not settle: {out}")


def status(url: str) -> int:
    """Return the HTTP status of a GET, as a visitor's phone would see it."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def page(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read().decode()


@pytest.fixture(scope="module")
def centres(tmp_path_factory):
    """Boxes A and B, served and paired; yields {name: (data dir, base URL)}."""
    root = tmp_path_factory.mktemp("moderation")
    password = root / "password"
    password.write_text(PASSWORD + "\n")
    with ExitStack() as stack:
        boxes = {}
        for name in ("A", "B"):
            data = root / name
            kith(*init_args(data, password, f"Centre {name}"))
            _, url = stack.enter_context(serving("--data", str(data), log=root / f"{name}.log"))
            boxes[name] = (data, url)
        pair(boxes["A"][0], boxes["B"][0], boxes["B"][1])
        yield boxes


def test_a_hide_at_a_is_honoured_reviewed_or_ignored_at_b(centres):
    (a, url_a), (b, url_b) = centres["A"], centres["B"]
    origin_a = on_box(a, "print(json.dumps(BOX.origin))")
    post = on_box(a, 'print(json.dumps(new_post("Lift to the dentist")))')
    settle(a)
    assert status(f"{url_b}posts/{post}") == 200

    # A member at A flags it and A's staff hide it: the flag stays at A, the hide travels.
    on_box(
        a,
        f"""
moderation.flag(BOX, actor("Fred Flagger"), {post!r}, None, "spam", "Selling lifts")
moderation.set_post_hidden(BOX, ADMIN, {post!r}, True, "Sells a taxi service", rule="spam")
print("null")""",
    )
    settle(a)
    assert status(f"{url_a}posts/{post}") == 404
    assert status(f"{url_b}posts/{post}") == 404, "B honours A's hides by default"
    kinds_at_b = on_box(
        b,
        """
print(json.dumps(sorted({r.kind for r in StoredRecord.select(StoredRecord.kind)})))""",
    )
    assert "post.hidden" in kinds_at_b
    assert "flag.raised" not in kinds_at_b, "flags are local to the box they were made at"
    log_b = page(f"{url_b}moderation")
    assert "Staff of Centre A" in log_b and "Sells a taxi service" in log_b
    for private in ("Lift to the dentist", "Ann Author", "07700", "Fred Flagger"):
        assert private not in log_b, private

    # B ignores A: the post is back at B (refolded at once), still hidden at A.
    on_box(b, f'moderation.set_peer_policy(BOX, ADMIN, {origin_a!r}, "ignore"); print("null")')
    assert status(f"{url_b}posts/{post}") == 200
    assert "Sells a taxi service" not in page(f"{url_b}moderation")
    assert status(f"{url_a}posts/{post}") == 404

    # A hide that arrives while B ignores A does not count at B either.
    second = on_box(a, 'print(json.dumps(new_post("Wheelchair to the market")))')
    settle(a)
    on_box(
        a,
        f"""
moderation.set_post_hidden(BOX, ADMIN, {second!r}, True, "Duplicate post", rule="off_topic")
print("null")""",
    )
    settle(a)
    assert status(f"{url_a}posts/{second}") == 404
    assert status(f"{url_b}posts/{second}") == 200

    # B reviews A: both hides wait in B's queue, and count once B's staff accept one.
    on_box(b, f'moderation.set_peer_policy(BOX, ADMIN, {origin_a!r}, "review"); print("null")')
    waiting = on_box(
        b,
        """
queue = moderation.review_queue(BOX, ADMIN)
print(json.dumps(sorted([h["post"], h["centre"], h["reason"]] for h in queue["peer_hides"])))""",
    )
    assert sorted(waiting) == sorted(
        [[post, "Centre A", "Sells a taxi service"], [second, "Centre A", "Duplicate post"]]
    )
    assert status(f"{url_b}posts/{post}") == 200
    on_box(
        b,
        f"""
queue = moderation.review_queue(BOX, ADMIN)
hide = next(h["id"] for h in queue["peer_hides"] if h["post"] == {post!r})
moderation.review_peer_hide(BOX, ADMIN, hide, "accept")
other = next(h["id"] for h in queue["peer_hides"] if h["post"] == {second!r})
moderation.review_peer_hide(BOX, ADMIN, other, "dismiss")
print("null")""",
    )
    assert status(f"{url_b}posts/{post}") == 404
    assert status(f"{url_b}posts/{second}") == 200
    assert on_box(b, 'print(json.dumps(moderation.review_queue(BOX, ADMIN)["peer_hides"]))') == []

    # B's reviews and choices stay at B: nothing about them reaches A.
    settle(a)
    kinds_at_a = on_box(
        a,
        """
print(json.dumps(sorted({r.kind for r in StoredRecord.select(StoredRecord.kind)})))""",
    )
    assert "hide.reviewed" not in kinds_at_a
    assert "moderation.policy.set" not in kinds_at_a

    # Back to honouring A: both of A's hides count at B again.
    on_box(b, f'moderation.set_peer_policy(BOX, ADMIN, {origin_a!r}, "honour"); print("null")')
    assert status(f"{url_b}posts/{post}") == 404
    assert status(f"{url_b}posts/{second}") == 404


def test_a_hide_by_someone_who_is_not_staff_at_a_counts_nowhere(centres):
    (a, url_a), (b, url_b) = centres["A"], centres["B"]
    post = on_box(a, 'print(json.dumps(new_post("Lift to the library")))')
    # A record no service at A would write (hiding needs staff), as a modified box might.
    rogue = on_box(
        a,
        f"""
rec = BOX.log.append("post.hidden", {{"reason": "Mine to hide", "rule": "spam"}},
    subject={post!r}, author=actor("Rob Rogue").id)
print(json.dumps(rec.id))""",
    )
    settle(a)
    for url in (url_a, url_b):
        assert status(f"{url}posts/{post}") == 200, url
        assert "Mine to hide" not in page(f"{url}moderation")
    seen = on_box(
        b,
        """
queue = moderation.review_queue(BOX, ADMIN)
print(json.dumps([[h["id"], h["centre"]] for h in queue["unauthorised"]]))""",
    )
    assert seen == [[rogue, "Centre A"]]
