"""Convergence: the same set of records gives the same projections, however it arrives.

Three made-up origins write a plausible causal history (centres, members, posts and
everything that happens to them, moderation, roles, trust). Fresh boxes ingest it in
random orders, split into random batches, with duplicates, and must end up with
identical projections: every table in appliance.models.PROJECTIONS and the search index.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from boxes import snapshot, trust
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st
from recordmaker import BASE_MS, DAY_MS, Made, Origin, key_from_name

from appliance.box import KEY_FILE, SECRET_FILE, Box
from appliance.db import database
from appliance.models import Comment, Member, Post

# Every receiving box has the same key and clock, so its own trust records (and so its
# TrustedOrigin rows) are identical too and the whole snapshot can be compared.
RECEIVER_KEY = key_from_name("receiver")
NOW_MS = BASE_MS + DAY_MS

ORIGIN_NAMES = ("east", "west", "south")
NAMES = ["Ann", "Bea", "Chidi", "Dara", "Élodie", "Zoë"]
TEXTS = ["Can do Tuesday", "I have a van", "Still needed?", "Merci beaucoup", "ok"]
SLUGS = ["food", "travel", "tools"]
ROLES = ["staff", "admin", "driver"]


@dataclass
class World:
    """What exists so far in the history being generated, to keep bodies valid."""

    origins: list[Origin]
    records: list[Made] = field(default_factory=list)
    centres: list[str] = field(default_factory=list)
    centre_of: dict[int, str] = field(default_factory=dict)
    members: list[str] = field(default_factory=list)
    posts: list[str] = field(default_factory=list)
    comments: dict[str, list[str]] = field(default_factory=dict)
    grants: list[str] = field(default_factory=list)


def step(draw, world: World) -> None:
    """Let one origin write one record that fits what has happened so far."""
    i = draw(st.integers(0, len(world.origins) - 1))
    origin = world.origins[i]
    # 0: the same millisecond (counter ties), so origins often share an hlc.
    origin.tick(draw(st.sampled_from([0, 0, 1, 7, 1000])))
    choose = lambda items: draw(st.sampled_from(items))  # noqa: E731
    someone = lambda: choose(world.members) if world.members else None  # noqa: E731

    # Repeats weight the draw towards the busy parts of a board: posts and helping.
    # (Hypothesis favours the first entries, so the common actions come first.)
    actions = []
    if world.posts and world.members:
        actions += ["help", "comment", "help", "thanks", "comment", "help", "withdraw"]
        actions += ["resolve", "reopen", "thanks", "hide", "unhide"]
    if any(world.comments.values()):
        actions += ["hide_comment", "unhide_comment"]
    if world.members:
        actions += ["post", "post", "verify", "unverify", "grant", "revoke", "trust"]
    if world.centres:
        actions += ["category", "place"]
    if i not in world.centre_of:
        actions.append("centre")
    if world.grants:
        actions.append("untrust")
    actions += ["join"] * (1 + 3 * (len(world.members) < 2)) + ["unknown"]
    action = choose(actions)

    def make(kind, body, subject=None, author=None) -> Made:
        rec = origin.make(kind, body, subject=subject, author=author)
        world.records.append(rec)
        return rec

    if action == "centre":
        rec = make("centre.created", {"name": f"Centre {i}", "timezone": "Europe/London"})
        world.centres.append(rec.id)
        world.centre_of[i] = rec.id
    elif action in ("category", "place"):
        # Usually the origin's own centre; sometimes another's, which must be ignored.
        subject = choose(world.centres)
        active = draw(st.booleans())
        if action == "category":
            slug = choose(SLUGS)
            make("category.set", {"slug": slug, "label": f"{slug} {i}", "active": active}, subject)
        else:
            make("place.set", {"name": choose(["Hall", "Café", "Park"]), "active": active}, subject)
    elif action == "join":
        world.members.append(make("member.joined", {"name": choose(NAMES)}).id)
    elif action in ("verify", "unverify"):
        kind = "member.verified" if action == "verify" else "member.unverified"
        make(kind, {}, someone(), someone())
    elif action == "grant":
        expires = choose([None, NOW_MS - 1, NOW_MS + DAY_MS])
        make("role.granted", {"role": choose(ROLES), "expires": expires}, someone(), someone())
    elif action == "revoke":
        make("role.revoked", {"role": choose(ROLES)}, someone(), someone())
    elif action == "post":
        body = {
            "type": choose(["need", "offer", "should"]),
            "title": choose(["Ladder wanted", "Lift to the clinic", "Café rota", "Spare pram"]),
            "details": choose(["", "Any day this week", "Paint and brushes"]),
            "category": choose(SLUGS),
            "place": choose(["Elm Road", "Hall", "Market Square"]),
            "needed_by": choose([None, "2026-02-01"]),
        }
        post = make("post.created", body, author=someone())
        world.posts.append(post.id)
        world.comments[post.id] = []
    elif action == "comment":
        post = choose(world.posts)
        rec = make("comment.added", {"text": choose(TEXTS)}, post, someone())
        world.comments[post].append(rec.id)
    elif action in ("hide_comment", "unhide_comment"):
        post = choose([p for p, cs in world.comments.items() if cs])
        kind = "comment.hidden" if action == "hide_comment" else "comment.unhidden"
        make(kind, {"comment": choose(world.comments[post]), "reason": "spam"}, post, someone())
    elif action == "help":
        mode = choose(["can_help", "on_it"])
        make("help.offered", {"mode": mode}, choose(world.posts), someone())
    elif action == "withdraw":
        make("help.withdrawn", {}, choose(world.posts), someone())
    elif action == "resolve":
        note = choose(["", "Done, thanks"])
        make("post.resolved", {"note": note}, choose(world.posts), someone())
    elif action == "reopen":
        make("post.reopened", {}, choose(world.posts), someone())
    elif action in ("hide", "unhide"):
        kind = "post.hidden" if action == "hide" else "post.unhidden"
        make(kind, {"reason": "off topic"}, choose(world.posts), someone())
    elif action == "thanks":
        body = {"helper": someone(), "message": choose(TEXTS)}
        make("thanks.given", body, choose(world.posts), someone())
    elif action == "trust":
        other = choose([o for o in world.origins if o is not origin])
        world.grants.append(make("trust.granted", {"origin": other.origin, "name": "peer"}).id)
    elif action == "untrust":
        make("trust.revoked", {"last_seq": draw(st.integers(0, 5))}, choose(world.grants))
    elif action == "unknown":
        make("ride.requested", {"seats": draw(st.integers(1, 4))})


@st.composite
def histories(draw) -> list[Made]:
    """Return the records of a random, causally plausible history of three origins."""
    world = World([Origin(name) for name in ORIGIN_NAMES])
    for _ in range(draw(st.integers(3, 45))):
        step(draw, world)
    return world.records


@st.composite
def deliveries(draw, count: int) -> list[list[int]]:
    """Return an arrival plan: record indexes in random order, in batches, with repeats."""
    order = draw(st.permutations(range(count)))
    cuts = sorted(draw(st.sets(st.integers(1, max(1, count - 1)), max_size=6)))
    batches = [list(order[a:b]) for a, b in zip([0, *cuts], [*cuts, count], strict=True)]
    batches = [b for b in batches if b]
    # Duplicates: some records sent again inside a later batch, some batches resent whole.
    for _ in range(draw(st.integers(0, 3))):
        target = draw(st.integers(0, len(batches) - 1))
        batches[target].append(draw(st.sampled_from(order)))
    for _ in range(draw(st.integers(0, 2))):
        batches.insert(draw(st.integers(0, len(batches))), list(draw(st.sampled_from(batches))))
    return batches


def receiving_box(root: Path, origins: list[str]) -> Box:
    """Open a fresh box with the receiver's fixed key, trusting the given origins."""
    data = root / "box"
    data.mkdir(mode=0o700)
    pem = RECEIVER_KEY.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    for name, content in ((KEY_FILE, pem), (SECRET_FILE, b"s" * 32)):
        fd = os.open(data / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(content)
    box = Box.open(data)
    # A throwaway database: skip the fsyncs that make real records durable, for speed.
    database.execute_sql("PRAGMA synchronous = OFF")
    box.log.now_ms = lambda: NOW_MS
    trust(box, *origins)
    return box


def receive(records: list[Made], batches: list[list[int]]) -> tuple[dict, tuple[int, ...]]:
    """Ingest records into a fresh box by the arrival plan; return its projections.

    Also returns the number of posts, members and comments it shows.
    """
    with tempfile.TemporaryDirectory() as tmp:
        box = receiving_box(Path(tmp), [Origin(name).origin for name in ORIGIN_NAMES])
        try:
            for batch in batches:
                result = box.log.ingest([records[i].line for i in batch])
                assert result.ok, result.rejected
            dump = snapshot()
            counts = (Post.select().count(), Member.select().count(), Comment.select().count())
        finally:
            database.close()
    return dump, counts


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_any_arrival_order_gives_the_same_projections(data):
    records = data.draw(histories(), label="history")
    n = len(records)
    in_order, counts = receive(records, [list(range(n))])
    kinds = [r.fields["kind"] for r in records]
    # The history really reached the projections (a fold that dropped all would pass).
    assert counts == (
        kinds.count("post.created"),
        kinds.count("member.joined"),
        kinds.count("comment.added"),
    )
    for number in range(2):
        plan = data.draw(deliveries(n), label=f"delivery {number}")
        dump, _ = receive(records, plan)
        assert dump == in_order


def test_an_origin_with_two_centre_records_still_converges():
    east = Origin("east")
    first = east.make("centre.created", {"name": "First", "timezone": "Europe/London"})
    second = east.make("centre.created", {"name": "Second", "timezone": "Europe/London"})
    food = {"slug": "food", "label": "Food", "active": True}
    tools = {"slug": "tools", "label": "Tools", "active": True}
    records = [
        first,
        second,
        east.make("category.set", food, subject=first.id),
        east.make("category.set", tools, subject=second.id),
    ]
    together, _ = receive(records, [[0, 1, 2, 3]])
    second_first, _ = receive(records, [[1, 3], [0, 2]])
    assert second_first == together
