"""Convergence: the same set of records gives the same projections, however it arrives.

Three made-up origins write a plausible causal history (centres, members, posts and
everything that happens to them, moderation, roles, trust, the food bank records:
organisations and their people, catalogue items, needs and supplies with item lines,
pledges, claims and withdrawals, shifts with more volunteers than places; and community
travel: the centres' travel lists, drivers vouched for and withdrawn by several centres,
rides one-off and recurring whose journeys and series several drivers at several boxes
take and hand back, paid bookings, journeys started, done and cancelled). Fresh boxes
ingest it in random orders, split into random batches, with duplicates, and must end up
with identical projections: every table in appliance.models.PROJECTIONS and the search
index. The worked cases at the end pin down the rules of sync/PROTOCOL.md section 4 by
which pledges made apart are counted and two drivers who took one journey apart agree.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from boxes import snapshot, trust
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st
from recordmaker import (
    BASE_MS,
    DAY_MS,
    Made,
    Origin,
    key_from_name,
    paid_body,
    post_body,
    ride_body,
    vouch_body,
)

from appliance.box import KEY_FILE, SECRET_FILE, Box
from appliance.db import database
from appliance.models import (
    AccessNeed,
    Comment,
    Driver,
    Item,
    Journey,
    Member,
    Org,
    OrgRole,
    Pledge,
    Post,
    PostLine,
    Provider,
    Ride,
    Shift,
    ShiftVolunteer,
)
from appliance.records import b64url

# Every receiving box has the same key and clock, so its own trust records (and so its
# TrustedOrigin rows) are identical too and the whole snapshot can be compared.
RECEIVER_KEY = key_from_name("receiver")
NOW_MS = BASE_MS + DAY_MS

ORIGIN_NAMES = ("east", "west", "south")
NAMES = ["Ann", "Bea", "Chidi", "Dara", "Élodie", "Zoë"]
TEXTS = ["Can do Tuesday", "I have a van", "Still needed?", "Merci beaucoup", "ok"]
SLUGS = ["food", "travel", "tools"]
ROLES = ["staff", "admin", "driver"]
ITEMS = [("Baked beans", "tins", "items"), ("Pasta", "dry", "packs"), ("Nappies", "baby", "packs")]
# Few journey dates, so takes, hand-backs and bookings often meet on one journey.
DATES = ["2026-01-13", "2026-01-20", "2026-01-27"]
RULES = [None, "FREQ=WEEKLY;BYDAY=TU", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;COUNT=4"]
NEEDS = ["wheelchair-stays", "assistance-dog", "hard-of-hearing"]


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
    orgs: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    # Food posts: id -> (type, the item ids on its lines).
    food: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    # Pledges and claims: (record id, post, kind, author).
    pledges: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    shifts: list[str] = field(default_factory=list)
    rides: list[str] = field(default_factory=list)
    proposals: list[str] = field(default_factory=list)
    appeals: list[tuple[str, str]] = field(default_factory=list)  # (appeal id, post)
    # Who has taken something of each ride: mostly they start and finish its journeys.
    takers: dict[str, list[str]] = field(default_factory=dict)


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
    # Half the steps are food bank records, weighted towards pledges and sign-ups;
    # organisations and items come first, as nothing else can refer to them before.
    food = []
    if world.food:
        food += ["pledge"] * 6 + ["withdraw_pledge"] * (2 if world.pledges else 0)
    if world.shifts:
        food += ["volunteer"] * 4 + ["unvolunteer", "cancel_shift"]
    if world.orgs and world.items:
        food += ["food_post"] * 2
    if world.orgs:
        food += ["shift", "org_role", "org_change"]
    if world.items:
        food.append("item_change")
    food += ["org", "item", "join"]
    # Community travel: rides need a rider, so members come first.
    travel = ["join"] if len(world.members) < 2 else ["ride", "vouch", "unvouch"]
    if world.rides:
        travel += ["take"] * 6 + ["hand_back"] * 3 + ["take_series", "hand_back_series"] * 2
        travel += ["start", "done"] * 2 + ["paid", "paid", "cancel", "addresses", "addresses"]
    if world.centres:
        travel.append("travel_list")
    # Governance and moderation (written with scope federation here: the fold does not
    # look at scope, and a receiving box only accepts local records of its own).
    governance = ["join"]
    if world.posts and world.members:
        governance += ["flag"] * 3 + ["clear_flags", "appeal", "ruled_hide", "unhide"]
        governance += ["stale_check", "still_needed", "staled", "revive"]
    if world.appeals:
        governance.append("decide_appeal")
    if world.centres:
        governance += ["conduct", "rule"]
    if world.members:
        governance += ["accept_conduct", "propose"]
    if world.proposals and world.members:
        governance += ["vote", "vote", "decide"]
    action = choose([actions, food, travel, governance][draw(st.integers(0, 3))])

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
        make("carpool.offered", {"seats": draw(st.integers(1, 4))})
    elif action in FOOD_ACTIONS:
        food_step(draw, world, action, make, choose, someone)
    elif action in GOVERNANCE_ACTIONS:
        governance_step(draw, world, action, make, choose, someone)
    else:
        travel_step(draw, world, action, make, choose, someone)


def food_step(draw, world: World, action: str, make, choose, someone) -> None:
    """Write one food bank record (organisations, items, food posts, pledges, shifts)."""
    if action == "org":
        body = {
            "name": choose(["Elm Food Bank", "Corner Shop"]),
            "type": choose(["foodbank", "shop"]),
        }
        world.orgs.append(make("org.created", {**body, "place": "Elm Road"}, None, someone()).id)
    elif action == "org_change":
        # Sometimes from an origin other than the organisation's: ignored by the fold.
        body = {"name": "Renamed", "type": "group", "place": "Hall", "active": draw(st.booleans())}
        make("org.changed", body, choose(world.orgs), someone())
    elif action == "org_role":
        # Members drawn from the history, or now and then one not yet joined.
        body = {"member": someone() or "0" * 64, "role": choose(["organiser", "member", None])}
        make("org.role.set", body, choose(world.orgs), someone())
    elif action == "item":
        name, category, unit = choose(ITEMS)
        world.items.append(
            make("item.created", {"name": name, "category": category, "unit": unit}).id
        )
    elif action == "item_change":
        body = {
            "name": "Beans",
            "category": "tins",
            "unit": choose(["items", "kg"]),
            "active": True,
        }
        make("item.changed", body, choose(world.items), someone())
    elif action == "food_post":
        type_ = choose(["need", "offer"])
        items = draw(st.lists(st.sampled_from(world.items), unique=True, max_size=3))
        # A need without items asks for volunteers; small quantities so pledges overflow.
        lines = {item: draw(st.integers(1, 6)) for item in items}
        use_by = choose([None, "2026-01-09"]) if type_ == "offer" else None
        body = post_body(type_, "Food", org=choose(world.orgs), items=lines, use_by=use_by)
        post = make("post.created", body, None, someone())
        world.posts.append(post.id)
        world.comments[post.id] = []
        world.food[post.id] = (type_, items)
    elif action == "pledge":
        post = choose(list(world.food))
        type_, items = world.food[post]
        # Mostly the kind that fits the post; now and then the other, which is ignored.
        fits = choose([True, True, True, False])
        kind = "pledge.made" if (type_ == "need") == fits else "claim.made"
        # Mostly an item on the post's lines; now and then another one, counted nothing.
        item = choose(items + items + world.items)
        qty = draw(st.integers(1, 5))
        if kind == "pledge.made":
            body = {"item": item, "qty": qty, "bring_on": choose([None, "2026-01-05"])}
        else:
            body = {"org": choose(world.orgs), "item": item, "qty": qty}
        author = someone()
        rec = make(kind, body, post, author)
        world.pledges.append((rec.id, post, kind, author))
    elif action == "withdraw_pledge":
        pledge, post, kind, author = choose(world.pledges)
        # Mostly its own author; now and then someone else, whose withdrawal is ignored.
        by = choose([author, author, someone()])
        if kind == "pledge.made":
            make("pledge.withdrawn", {"pledge": pledge}, post, by)
        else:
            make("claim.withdrawn", {"claim": pledge}, post, by)
    elif action == "shift":
        start = NOW_MS + draw(st.integers(0, 3)) * DAY_MS
        body = {
            "org": choose(world.orgs),
            "title": "Sorting",
            "start": start,
            "end": start + 3 * 3600 * 1000,
            "place": "Hall",
            "people": draw(st.integers(1, 2)),
            "bring": choose(["", "Gloves"]),
        }
        world.shifts.append(make("shift.created", body, None, someone()).id)
    elif action == "volunteer":
        make("shift.joined", {}, choose(world.shifts), someone())
    elif action == "unvolunteer":
        make("shift.left", {}, choose(world.shifts), someone())
    elif action == "cancel_shift":
        make("shift.cancelled", {"reason": choose(["", "Snow"])}, choose(world.shifts), someone())


FOOD_ACTIONS = {
    "org",
    "org_change",
    "org_role",
    "item",
    "item_change",
    "food_post",
    "pledge",
    "withdraw_pledge",
    "shift",
    "volunteer",
    "unvolunteer",
    "cancel_shift",
}


GOVERNANCE_ACTIONS = {
    "flag",
    "clear_flags",
    "appeal",
    "decide_appeal",
    "ruled_hide",
    "stale_check",
    "still_needed",
    "staled",
    "revive",
    "conduct",
    "rule",
    "accept_conduct",
    "propose",
    "vote",
    "decide",
}


def governance_step(draw, world: World, action: str, make, choose, someone) -> None:
    """Write one governance or moderation record (flags, appeals, stale, rules, votes)."""
    post = lambda: choose(world.posts)  # noqa: E731
    comment_of = lambda p: choose([None, *world.comments.get(p, [])])  # noqa: E731
    if action == "flag":
        p = post()
        body = {"comment": comment_of(p), "reason": choose(["spam", "offensive", "other"])}
        make("flag.raised", {**body, "note": choose(["", "rude"])}, p, someone())
    elif action == "clear_flags":
        p = post()
        make("flags.cleared", {"comment": comment_of(p), "reason": ""}, p, someone())
    elif action == "appeal":
        p = post()
        rec = make("appeal.made", {"comment": comment_of(p), "text": "Please look again"}, p)
        world.appeals.append((rec.id, p))
    elif action == "decide_appeal":
        appeal, p = choose(world.appeals)
        body = {"appeal": appeal, "outcome": choose(["upheld", "overturned"]), "reason": "ok"}
        make("appeal.decided", body, p, someone())
    elif action == "ruled_hide":
        body = {"reason": "flagged", "rule": choose(["flags", "conduct", "spam"])}
        make("post.hidden", body, post(), choose([None, someone()]))
    elif action in ("stale_check", "still_needed", "staled", "revive"):
        kind = {"stale_check": "post.stale_check", "still_needed": "post.still_needed"}.get(
            action, "post.staled" if action == "staled" else "post.revived"
        )
        make(kind, {}, post(), someone())
    elif action == "conduct":
        body = {"version": draw(st.integers(1, 3)), "text": choose(TEXTS), "note": ""}
        make("conduct.published", body, choose(world.centres))
    elif action == "rule":
        body = {"name": choose(["flags_to_hide", "stale_days"]), "value": draw(st.integers(1, 9))}
        make("rule.set", {**body, "proposal": None}, choose(world.centres))
    elif action == "accept_conduct":
        member = someone()
        make("conduct.accepted", {"version": draw(st.integers(1, 3))}, member, member)
    elif action == "propose":
        body = {
            "title": "Fewer flags",
            "reason": "",
            "change": "rule",
            "rule": "flags_to_hide",
            "value": 2,
            "closes": NOW_MS,
        }
        world.proposals.append(make("proposal.made", body, None, someone()).id)
    elif action == "vote":
        body = {"choice": choose(["agree", "abstain", "object"]), "reason": choose(["", "no"])}
        make("vote.cast", body, choose(world.proposals), someone())
    else:
        body = {"outcome": choose(["adopted", "rejected"]), "agree": 1, "abstain": 0, "object": 0}
        make("proposal.decided", body, choose(world.proposals))


def travel_step(draw, world: World, action: str, make, choose, someone) -> None:
    """Write one community travel record (lists, vouches, rides and their journeys)."""
    date = lambda: choose(DATES)  # noqa: E731
    ride = lambda: choose(world.rides)  # noqa: E731
    if action == "travel_list":
        # Usually the origin's own centre; sometimes another's, which must be ignored.
        kind = choose(["access_need.set", "driver_check.set", "provider.set"])
        slug = choose(["wheelchair-stays", "escort", "licence", "town-taxis"])
        label = "name" if kind == "provider.set" else "label"
        body = {"slug": slug, label: choose(["One", "Two"]), "active": draw(st.booleans())}
        if kind == "access_need.set":
            body["requires"] = choose([None, "wheelchair", "dogs"])
        make(kind, body, choose(world.centres), someone())
    elif action == "vouch":
        body = vouch_body(
            choose(["2026-01-10", "2027-01-01"]),
            draw(st.integers(1, 4)),
            wheelchair=draw(st.booleans()),
            dogs=draw(st.booleans()),
        )
        make("driver.vouched", body, someone(), someone())
    elif action == "unvouch":
        make("driver.withdrawn", {"reason": choose(["", "Moved away"])}, someone(), someone())
    elif action == "ride":
        needs = draw(st.lists(st.sampled_from(NEEDS), unique=True, max_size=2))
        body = ride_body(
            someone(),
            start=choose(["2026-01-13T09:30", "2026-01-13T23:30"]),
            tz=choose(["Europe/London", "Europe/London", "Nowhere/Unknown"]),
            rrule=choose(RULES),
            return_at=choose([None, "16:00"]),
            passengers=draw(st.integers(1, 3)),
            needs=needs,
            regular_driver=choose([None, someone()]),
        )
        world.rides.append(make("ride.requested", body, None, someone()).id)
    elif action == "addresses":
        # From any origin: only the ride's own origin's count.
        sealed = {o.origin: b64url(bytes([n]) * 60) for n, o in enumerate(world.origins)}
        make("ride.addresses", {"sealed": sealed}, ride(), someone())
    elif action in ("take", "hand_back", "take_series", "hand_back_series"):
        kind = "ride.taken" if action.startswith("take") else "ride.handed_back"
        # Now and then a record without an author, which takes or hands back nothing.
        author = choose([someone(), someone(), someone(), None])
        subject = ride()
        if author and kind == "ride.taken":
            world.takers.setdefault(subject, []).append(author)
        make(kind, {"date": None if action.endswith("series") else date()}, subject, author)
    elif action in ("start", "done"):
        subject = ride()
        author = choose([*world.takers.get(subject, []), someone()])
        if action == "start":
            make("ride.started", {"date": date()}, subject, author)
        else:
            body = {"date": date(), "miles": choose([None, 0, 12])}
            make("ride.done", body, subject, author)
    elif action == "paid":
        body = paid_body(date(), draw(st.integers(0, 5000)), choose(["town-taxis", "dial-a-ride"]))
        make("ride.paid", body, ride(), someone())
    elif action == "cancel":
        body = {"date": choose([None, *DATES]), "reason": choose(["", "In hospital"])}
        make("ride.cancelled", body, ride(), someone())


@st.composite
def histories(draw) -> list[Made]:
    """Return the records of a random, causally plausible history of three origins."""
    world = World([Origin(name) for name in ORIGIN_NAMES])
    for _ in range(draw(st.integers(3, 70))):
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


COUNTED = (Post, Member, Comment, Org, Item, Shift, PostLine, Ride, Journey)


@contextmanager
def received(records: list[Made], batches: list[list[int]]) -> Iterator[Box]:
    """Ingest records into a fresh box by the arrival plan; yield the box, then drop it."""
    with tempfile.TemporaryDirectory() as tmp:
        box = receiving_box(Path(tmp), [Origin(name).origin for name in ORIGIN_NAMES])
        try:
            for batch in batches:
                result = box.log.ingest([records[i].line for i in batch])
                assert result.ok, result.rejected
            yield box
        finally:
            database.close()


def receive(records: list[Made], batches: list[list[int]]) -> tuple[dict, tuple[int, ...]]:
    """Ingest records into a fresh box by the arrival plan; return its projections.

    Also returns the number of rows of each model in COUNTED.
    """
    with received(records, batches):
        return snapshot(), tuple(model.select().count() for model in COUNTED)


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
        kinds.count("org.created"),
        kinds.count("item.created"),
        kinds.count("shift.created"),
        sum(len(r.fields["body"].get("lines", ())) for r in records),
        kinds.count("ride.requested"),
        # A journey row for each date some record of the ride names.
        len(
            {
                (r.fields["subject"], r.fields["body"]["date"])
                for r in records
                if r.fields["kind"].startswith("ride.") and r.fields["body"].get("date")
            }
        ),
    )
    assert_totals_add_up(in_order)
    assert_journeys_make_sense(in_order)
    for number in range(2):
        plan = data.draw(deliveries(n), label=f"delivery {number}")
        dump, _ = receive(records, plan)
        assert dump == in_order


def assert_totals_add_up(dump: dict) -> None:
    """Check a snapshot's food totals: pledges never count past a line, and add up to it."""
    counted: dict[tuple[str, str], int] = {}
    for _id, post, _kind, _member, _org, item, qty, count, _bring, _ms in dump["pledge"]:
        assert 0 <= count <= qty
        counted[(post, item)] = counted.get((post, item), 0) + count
    for post, item, qty, covered in dump["post_line"]:
        assert covered == counted.pop((post, item), 0) <= qty
    assert not counted  # every counted pledge belongs to a line
    for row in dump["shift"]:
        people, coming, waiting = row[7], row[13], row[14]
        assert coming == min(people, coming + waiting)


def assert_journeys_make_sense(dump: dict) -> None:
    """Check a snapshot's journeys: one holder each, who never also lost it."""
    states = {"open", "driver_found", "on_the_way", "done", "paid", "cancelled"}
    for _ride, _date, driver, state, provider, _name, cost, _ref, miles, lost, _ms in dump[
        "journey"
    ]:
        assert state in states
        assert driver not in json.loads(lost)
        assert (provider is not None) == (cost is not None) == (state == "paid")
        assert state != "paid" or driver is None
        assert state not in ("driver_found", "on_the_way", "done") or driver is not None
        assert miles is None or state == "done"


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


# --- the food bank rules of sync/PROTOCOL.md section 4, worked through -----------------


@dataclass
class Apart:
    """Two boxes, east and west, each with a member, and east's food bank with an item."""

    east: Origin = field(default_factory=lambda: Origin("east"))
    west: Origin = field(default_factory=lambda: Origin("west"))
    records: list[Made] = field(default_factory=list)

    def make(self, origin: Origin, kind: str, body: dict, subject=None, author=None) -> Made:
        rec = origin.make(kind, body, subject=subject, author=author)
        self.records.append(rec)
        return rec

    def __post_init__(self):
        self.ann = self.make(self.east, "member.joined", {"name": "Ann"}).id
        self.bo = self.make(self.west, "member.joined", {"name": "Bo"}).id
        bank = {"name": "Elm Food Bank", "type": "foodbank", "place": "Elm Road"}
        self.bank = self.make(self.east, "org.created", bank).id
        beans = {"name": "Baked beans", "category": "tins", "unit": "items"}
        self.beans = self.make(self.east, "item.created", beans).id

    def at(self, origin: Origin, ms: int) -> Origin:
        """Set an origin's clock to BASE_MS + ms for its next record; return it."""
        origin.hlc = [BASE_MS + ms, -1]
        return origin


def every_order(records: list[Made]) -> list[list[list[int]]]:
    """Arrival plans: in order, reversed, one by one reversed, odd ones then even ones."""
    n = len(records)
    forwards, backwards = list(range(n)), list(range(n - 1, -1, -1))
    odd_then_even = [[i for i in backwards if i % 2], [i for i in forwards if not i % 2]]
    return [[forwards], [backwards], [[i] for i in backwards], odd_then_even]


def food_state(post_id: str) -> dict:
    """Return what a box shows of a food post: status, covered, lines and pledge counts."""
    post = Post.get_by_id(post_id)
    return {
        "status": post.status,
        "covered": post.covered,
        "resolved_ms": post.resolved_ms,
        "resolved_by": post.resolved_by,
        "lines": sorted(PostLine.select(PostLine.item, PostLine.qty, PostLine.covered).tuples()),
        "counted": {p.id: (p.qty, p.counted) for p in Pledge.select()},
    }


def agreed(records: list[Made], look) -> object:
    """Return what `look()` shows after every arrival plan; assert they all agree."""
    seen = []
    for plan in every_order(records):
        with received(records, plan):
            seen.append(look())
    assert all(s == seen[0] for s in seen), seen
    return seen[0]


def test_pledges_made_apart_count_in_the_agreed_order_up_to_the_need():
    w = Apart()
    need = w.make(
        w.east, "post.created", post_body(org=w.bank, items={w.beans: 25}), author=w.ann
    ).id
    # Apart: Ann pledges 20 at east, then Bo 15 at west a second later (40 > 25 asked).
    first = w.make(
        w.at(w.east, 1000),
        "pledge.made",
        {"item": w.beans, "qty": 20, "bring_on": None},
        need,
        w.ann,
    )
    second = w.make(
        w.at(w.west, 2000),
        "pledge.made",
        {"item": w.beans, "qty": 15, "bring_on": "2026-01-03"},
        need,
        w.bo,
    )
    # Each box alone counts its own pledge in full and keeps the need open.
    with received(w.records[:-1], [list(range(len(w.records) - 1))]):
        assert food_state(need)["counted"] == {first.id: (20, 20)}
        assert food_state(need)["status"] == "open"

    state = agreed(w.records, lambda: food_state(need))
    assert state == {
        "status": "resolved",
        "covered": True,
        "resolved_ms": BASE_MS + 2000,  # the covering pledge's time
        "resolved_by": None,  # closed by itself, not by a person
        "lines": [(w.beans, 25, 25)],
        "counted": {first.id: (20, 20), second.id: (15, 5)},
    }

    # Bo trying to withdraw Ann's pledge changes nothing; Ann withdrawing it reopens.
    w.make(w.at(w.west, 3000), "pledge.withdrawn", {"pledge": first.id}, need, w.bo)
    assert agreed(w.records, lambda: food_state(need))["counted"][second.id] == (15, 5)
    w.make(w.at(w.east, 4000), "pledge.withdrawn", {"pledge": first.id}, need, w.ann)
    state = agreed(w.records, lambda: food_state(need))
    assert (state["status"], state["covered"], state["resolved_ms"]) == ("open", False, None)
    assert state["lines"] == [(w.beans, 25, 15)]
    assert state["counted"] == {second.id: (15, 15)}  # a withdrawn pledge has no row


def test_a_pledge_at_the_same_moment_is_ordered_by_origin():
    w = Apart()
    need = w.make(
        w.east, "post.created", post_body(org=w.bank, items={w.beans: 10}), author=w.ann
    ).id
    body = {"item": w.beans, "qty": 8, "bring_on": None}
    ann = w.make(w.at(w.east, 1000), "pledge.made", body, need, w.ann)
    bo = w.make(w.at(w.west, 1000), "pledge.made", body, need, w.bo)
    # Same hlc: the origin strings decide who came first, the same way on every box.
    early, late = sorted([(w.east.origin, ann.id), (w.west.origin, bo.id)])
    assert agreed(w.records, lambda: food_state(need))["counted"] == {
        early[1]: (8, 8),
        late[1]: (8, 2),
    }


def test_claims_on_a_supply_count_like_pledges_and_a_reopen_cannot_open_it():
    w = Apart()
    pantry = {"name": "West Pantry", "type": "foodbank", "place": "Mill Lane"}
    west_bank = w.make(w.west, "org.created", pantry).id
    supply = w.make(
        w.east,
        "post.created",
        post_body("offer", org=w.bank, items={w.beans: 40}, use_by="2026-02-01"),
        author=w.ann,
    ).id
    claim = {"org": west_bank, "item": w.beans, "qty": 30}
    big = w.make(w.at(w.west, 1000), "claim.made", claim, supply, w.bo)
    rest = w.make(w.at(w.east, 1500), "claim.made", {**claim, "org": w.bank}, supply, w.ann)
    # A pledge on a supply is not a claim: ignored.
    w.make(
        w.at(w.east, 1600),
        "pledge.made",
        {"item": w.beans, "qty": 5, "bring_on": None},
        supply,
        w.ann,
    )
    w.make(w.at(w.east, 5000), "post.reopened", {}, supply, w.ann)
    state = agreed(w.records, lambda: food_state(supply))
    assert state["counted"] == {big.id: (30, 30), rest.id: (30, 10)}
    assert state["lines"] == [(w.beans, 40, 40)]
    # Every line is claimed, so it stays closed (at the covering claim's time).
    assert (state["status"], state["resolved_ms"]) == ("resolved", BASE_MS + 1500)
    claims = agreed(w.records, lambda: sorted(Pledge.select(Pledge.kind, Pledge.org).tuples()))
    assert claims == sorted([("claim", west_bank), ("claim", w.bank)])


def test_shift_volunteers_beyond_the_places_wait_in_join_order():
    w = Apart()
    cy = w.make(w.west, "member.joined", {"name": "Cy"}).id
    start = NOW_MS + DAY_MS
    body = {
        "org": w.bank,
        "title": "Sorting",
        "start": start,
        "end": start + 7_200_000,
        "place": "Hall",
        "people": 2,
        "bring": "",
    }
    shift = w.make(w.east, "shift.created", body, author=w.ann).id

    def volunteers():
        row = Shift.get_by_id(shift)
        rows = ShiftVolunteer.select().where(ShiftVolunteer.shift == shift)
        order = sorted(rows, key=lambda v: v.since_ms)
        return row.coming, row.waiting, row.cancelled, [(v.member, v.confirmed) for v in order]

    # While apart, Bo and Cy (west) and Ann (east) take the two places.
    w.make(w.at(w.west, 1000), "shift.joined", {}, shift, w.bo)
    w.make(w.at(w.east, 2000), "shift.joined", {}, shift, w.ann)
    w.make(w.at(w.west, 3000), "shift.joined", {}, shift, cy)
    w.make(w.at(w.west, 3500), "shift.joined", {}, shift, w.bo)  # again: keeps the place
    assert agreed(w.records, volunteers) == (
        2,
        1,
        False,
        [(w.bo, True), (w.ann, True), (cy, False)],
    )
    # Bo leaves: Cy moves up. Bo joins again: to the back of the queue.
    w.make(w.at(w.west, 4000), "shift.left", {}, shift, w.bo)
    w.make(w.at(w.west, 5000), "shift.joined", {}, shift, w.bo)
    w.make(w.at(w.east, 6000), "shift.cancelled", {"reason": "Snow"}, shift, w.ann)
    assert agreed(w.records, volunteers) == (
        2,
        1,
        True,
        [(w.ann, True), (cy, True), (w.bo, False)],
    )


def test_only_the_organisations_and_items_own_box_changes_them():
    w = Apart()
    renamed = {"name": "Taken over", "type": "shop", "place": "Elsewhere", "active": False}
    w.make(w.at(w.west, 1000), "org.changed", renamed, w.bank, w.bo)
    w.make(w.at(w.west, 1100), "org.role.set", {"member": w.bo, "role": "organiser"}, w.bank, w.bo)
    w.make(w.at(w.east, 500), "org.role.set", {"member": w.ann, "role": "organiser"}, w.bank, w.ann)
    w.make(w.at(w.east, 2000), "org.role.set", {"member": w.bo, "role": "member"}, w.bank, w.ann)
    beans = {"name": "Beans", "category": "other", "unit": "kg", "active": False}
    w.make(w.at(w.west, 3000), "item.changed", beans, w.beans, w.bo)
    w.make(w.at(w.east, 2500), "item.changed", {**beans, "active": True}, w.beans, w.ann)

    def look():
        org = Org.get_by_id(w.bank)
        item = Item.get_by_id(w.beans)
        people = sorted(OrgRole.select(OrgRole.member, OrgRole.role).tuples())
        return (org.name, org.active), people, (item.name, item.unit, item.match_key)

    assert agreed(w.records, look) == (
        ("Elm Food Bank", True),
        sorted([(w.ann, "organiser"), (w.bo, "member")]),
        ("Beans", "kg", "beans|kg"),
    )
    # East takes Bo off again: the last record of the organisation's own box wins.
    w.make(w.at(w.east, 9000), "org.role.set", {"member": w.bo, "role": None}, w.bank, w.ann)
    assert agreed(w.records, look)[1] == [(w.ann, "organiser")]


# --- the ride rules of sync/PROTOCOL.md section 4, worked through ----------------------

DAY = "2026-01-13"


@dataclass
class Riding:
    """Two boxes apart: Ann's ride at east; Dee (east) and Eli (west) drive."""

    east: Origin = field(default_factory=lambda: Origin("east"))
    west: Origin = field(default_factory=lambda: Origin("west"))
    records: list[Made] = field(default_factory=list)

    def make(self, origin: Origin, kind: str, body: dict, subject=None, author=None) -> Made:
        rec = origin.make(kind, body, subject=subject, author=author)
        self.records.append(rec)
        return rec

    def __post_init__(self):
        self.ann = self.make(self.east, "member.joined", {"name": "Ann"}).id
        self.dee = self.make(self.east, "member.joined", {"name": "Dee"}).id
        self.eli = self.make(self.west, "member.joined", {"name": "Eli"}).id
        rule = "FREQ=WEEKLY;BYDAY=TU;COUNT=3"
        body = ride_body(self.ann, rrule=rule)
        self.ride = self.make(self.east, "ride.requested", body, author=self.ann).id

    def at(self, origin: Origin, ms: int) -> Origin:
        """Set an origin's clock to BASE_MS + ms for its next record; return it."""
        origin.hlc = [BASE_MS + ms, -1]
        return origin

    def act(self, origin: Origin, ms: int, kind: str, body: dict, author: str) -> Made:
        """Write a record about the ride at a time (BASE_MS + ms)."""
        return self.make(self.at(origin, ms), kind, body, self.ride, author)


def journeys() -> dict[str, tuple]:
    """Return a box's journeys by date: (driver, state, lost, provider, cost, miles)."""
    return {
        j.date: (j.driver, j.state, json.loads(j.lost), j.provider, j.cost, j.miles)
        for j in Journey.select()
    }


def series() -> tuple:
    ride = Ride.get()
    return ride.series_driver, json.loads(ride.series_lost), ride.cancelled


def test_two_drivers_who_took_one_journey_apart_agree_on_the_first():
    w = Riding()
    dee = w.act(w.east, 1000, "ride.taken", {"date": DAY}, w.dee)
    eli = w.act(w.west, 2000, "ride.taken", {"date": DAY}, w.eli)
    # Apart, each box gives the journey to its own driver.
    for alone in ([r for r in w.records if r is not eli], [r for r in w.records if r is not dee]):
        with received(alone, [list(range(len(alone)))]):
            (driver, state, lost, *_rest) = journeys()[DAY]
            assert (state, lost) == ("driver_found", [])
            assert driver == (w.dee if dee in alone else w.eli)
    # Together, every box: Dee came first, Eli lost it and is told.
    assert agreed(w.records, journeys) == {DAY: (w.dee, "driver_found", [w.eli], None, None, None)}
    # Dee hands it back: Eli has it and nobody lost it.
    w.act(w.east, 3000, "ride.handed_back", {"date": DAY}, w.dee)
    assert agreed(w.records, journeys)[DAY][:3] == (w.eli, "driver_found", [])
    # Dee takes it again: to the back, behind Eli.
    w.act(w.east, 4000, "ride.taken", {"date": DAY}, w.dee)
    assert agreed(w.records, journeys)[DAY][:3] == (w.eli, "driver_found", [w.dee])


def test_at_the_same_moment_the_origin_decides():
    w = Riding()
    dee = w.act(w.east, 1000, "ride.taken", {"date": DAY}, w.dee)
    eli = w.act(w.west, 1000, "ride.taken", {"date": DAY}, w.eli)
    (_, first), (_, second) = sorted([(w.east.origin, dee), (w.west.origin, eli)])
    driver, _state, lost, *_rest = agreed(w.records, journeys)[DAY]
    assert (driver, lost) == (first.fields["author"], [second.fields["author"]])


def test_the_series_driver_has_every_date_they_did_not_hand_back():
    w = Riding()
    w.act(w.east, 1000, "ride.taken", {"date": DAY}, w.dee)
    w.act(w.west, 2000, "ride.taken", {"date": None}, w.eli)
    w.act(w.east, 2500, "ride.taken", {"date": None}, w.dee)  # second for the series
    w.act(w.west, 3000, "ride.handed_back", {"date": "2026-01-20"}, w.eli)
    w.act(w.east, 3500, "ride.taken", {"date": "2026-01-20"}, w.dee)
    assert agreed(w.records, series) == (w.eli, [w.dee], False)
    # Taken later, the series still comes first: Dee lost the date she took first.
    assert agreed(w.records, journeys) == {
        DAY: (w.eli, "driver_found", [w.dee], None, None, None),
        "2026-01-20": (w.dee, "driver_found", [], None, None, None),
    }
    # Eli hands the series back: Dee, second for the series, has it now.
    w.act(w.west, 4000, "ride.handed_back", {"date": None}, w.eli)
    assert agreed(w.records, series) == (w.dee, [], False)
    assert agreed(w.records, journeys)[DAY][:3] == (w.dee, "driver_found", [])


def test_only_the_first_paid_booking_counts_and_a_driver_before_it_wins():
    w = Riding()
    cy = w.make(w.west, "member.joined", {"name": "Cy"}).id
    w.act(w.east, 1000, "ride.paid", paid_body(DAY, 2400), w.ann)
    w.act(w.west, 1500, "ride.paid", paid_body(DAY, 9900, "dial-a-ride"), cy)
    assert agreed(w.records, journeys) == {DAY: (None, "paid", [], "town-taxis", 2400, None)}
    # A driver who takes it after the booking lost it to the booking.
    w.act(w.west, 2000, "ride.taken", {"date": DAY}, w.eli)
    assert agreed(w.records, journeys)[DAY] == (None, "paid", [w.eli], "town-taxis", 2400, None)
    # On another date a driver took it first: the booking is unused.
    later = "2026-01-20"
    w.act(w.east, 3000, "ride.taken", {"date": later}, w.dee)
    w.act(w.west, 3500, "ride.paid", paid_body(later), cy)
    assert agreed(w.records, journeys)[later] == (w.dee, "driver_found", [], None, None, None)
    # ... until the driver hands it back.
    w.act(w.east, 4000, "ride.handed_back", {"date": later}, w.dee)
    assert agreed(w.records, journeys)[later][:2] == (None, "paid")


def test_only_the_journeys_driver_starts_and_finishes_it_and_cancelling_is_final():
    w = Riding()
    later = "2026-01-20"
    w.act(w.east, 1000, "ride.taken", {"date": None}, w.dee)
    w.act(w.west, 1500, "ride.started", {"date": DAY}, w.eli)  # not Eli's journey
    assert agreed(w.records, journeys)[DAY][:2] == (w.dee, "driver_found")
    w.act(w.east, 2000, "ride.started", {"date": DAY}, w.dee)
    assert agreed(w.records, journeys)[DAY][:2] == (w.dee, "on_the_way")
    w.act(w.east, 3000, "ride.done", {"date": DAY, "miles": 14}, w.dee)
    assert agreed(w.records, journeys)[DAY] == (w.dee, "done", [], None, None, 14)
    # Cancelling the whole request leaves a journey done by its driver done.
    w.act(w.east, 4000, "ride.cancelled", {"date": None, "reason": "Moved"}, w.ann)
    assert agreed(w.records, journeys)[DAY][1] == "done"
    assert agreed(w.records, series) == (w.dee, [], True)
    # A date cancelled is cancelled whatever comes after it.
    w.act(w.east, 5000, "ride.cancelled", {"date": later, "reason": ""}, w.ann)
    w.act(w.east, 6000, "ride.taken", {"date": later}, w.dee)
    assert agreed(w.records, journeys)[later][:2] == (w.dee, "cancelled")


def test_only_the_rides_own_box_gives_its_addresses():
    w = Riding()
    own = {w.east.origin: b64url(b"from east" * 5)}
    w.act(w.east, 1000, "ride.addresses", {"sealed": own}, w.ann)
    w.act(w.west, 2000, "ride.addresses", {"sealed": {w.west.origin: "AAAA"}}, w.eli)
    assert json.loads(agreed(w.records, lambda: Ride.get().sealed)) == own


def test_each_centre_keeps_its_own_vouch_for_a_driver():
    w = Riding()
    w.make(w.at(w.east, 1000), "driver.vouched", vouch_body("2026-06-30"), w.eli, w.ann)
    w.make(w.at(w.west, 2000), "driver.vouched", vouch_body("2026-03-31", 2), w.eli, w.eli)
    # West withdraws: only its own vouch goes. East's later vouch replaces its first.
    w.make(w.at(w.west, 3000), "driver.withdrawn", {"reason": ""}, w.eli, w.eli)
    w.make(w.at(w.east, 2500), "driver.vouched", vouch_body("2026-09-30", 6), w.eli, w.ann)

    def drivers():
        rows = Driver.select().order_by(Driver.origin)
        return [(d.member, d.origin, d.seats, d.valid_to) for d in rows]

    assert agreed(w.records, drivers) == [(w.eli, w.east.origin, 6, "2026-09-30")]


def test_travel_lists_come_only_from_the_centres_own_box():
    w = Riding()
    centre = w.make(w.east, "centre.created", {"name": "East", "timezone": "Europe/London"}).id
    need = {"slug": "escort", "label": "Escort", "requires": None, "active": True}
    w.make(w.at(w.east, 1000), "access_need.set", need, centre, w.ann)
    w.make(w.at(w.west, 2000), "access_need.set", {**need, "label": "Taken"}, centre, w.eli)
    w.make(w.at(w.east, 3000), "access_need.set", {**need, "requires": "dogs"}, centre, w.ann)
    provider = {"slug": "town-taxis", "name": "Town Taxis", "active": True}
    w.make(w.at(w.west, 4000), "provider.set", provider, centre, w.eli)

    def lists():
        needs = [(n.origin, n.slug, n.label, n.requires) for n in AccessNeed.select()]
        return needs, Provider.select().count()

    assert agreed(w.records, lists) == ([(w.east.origin, "escort", "Escort", "dogs")], 0)


def test_a_journey_done_stays_with_its_driver_when_the_series_is_handed_back():
    w = Riding()
    w.act(w.east, 1000, "ride.taken", {"date": None}, w.dee)
    w.act(w.east, 2000, "ride.done", {"date": DAY, "miles": 7}, w.dee)
    w.act(w.east, 3000, "ride.handed_back", {"date": None}, w.dee)
    # The journey happened: it stays done and hers (and her miles count).
    assert agreed(w.records, journeys)[DAY] == (w.dee, "done", [], None, None, 7)
    assert agreed(w.records, series) == (None, [], False)
    # A driver who says "done" for a journey they never held changes nothing.
    w.act(w.west, 4000, "ride.done", {"date": "2026-01-20", "miles": 3}, w.eli)
    assert agreed(w.records, journeys)["2026-01-20"][:2] == (None, "open")
