"""A member's export: everything the box holds about them, to them or staff only.

The appliance tests' clock starts at 2026-01-01 12:00 UTC.
"""

from __future__ import annotations

import json

import pytest
from boxes import member, record_count

from appliance.errors import NotAllowed, NotFound, NotSignedIn
from appliance.models import Item, MemberPrivate
from appliance.services import (
    accounts,
    board,
    catalogue,
    conduct,
    driving,
    food,
    member_export,
    moderation,
    orgs,
    proposals,
    rides,
    shifts,
)

RIDE = {
    "from_address": "7 Quiet Close",
    "to_address": "Eye Clinic, Station Road",
    "from_area": "Millbrook",
    "to_area": "City Hospital",
    "date": "2026-01-06",
    "time": "09:30",
    "time_is": "pickup",
    "window": "15",
    "repeat": "none",
    "return_at": "12:00",
    "passengers": "1",
    "notes": "Ring twice",
}
POST = {"type": "need", "details": "", "category": "household", "place": "Mill Lane"}
VAN = {"seats": 6, "wheelchair": True, "folded_chair": True, "dogs": True}


def post(box, who, title: str) -> str:
    return board.create_post(box, who, {**POST, "title": title})


@pytest.fixture
def world(box, alice, bob, staff):
    """Alice did one of everything; Bob, with his own contact, did things around her."""
    MemberPrivate.create(member=alice.id, contact="alice@example.org")
    MemberPrivate.create(member=bob.id, contact="bob-secret@example.org")
    version = conduct.publish_conduct(box, staff, "Be kind to each other.")
    for who in (alice, bob, staff):
        conduct.accept_conduct(box, who, version)
    mine = post(box, alice, "Ladder wanted")
    bobs = post(box, bob, "Shelf to fix")
    comment = board.add_comment(box, alice, bobs, "I have a drill")
    board.add_comment(box, bob, mine, "Bob's private remark")
    board.offer_help(box, alice, bobs, "can_help")
    board.offer_help(box, bob, mine, "on_it")
    thanked = board.thank(box, bob, bobs, alice.id, "Thanks, Alice")
    thanks = board.thank(box, alice, mine, bob.id, "Cheers Bob")
    catalogue.add_starter_items(box, staff)
    beans = Item.get(Item.name == "Baked beans").id
    bank = orgs.create_org(box, staff, {"name": "Bank", "type": "foodbank", "place": "Hall"})
    orgs.set_org_role(box, staff, bank, staff.id, "organiser")
    orgs.set_org_role(box, staff, bank, alice.id, "member")
    need = food.create_need(
        box, staff, {"org": bank, "title": "Tins", "needed_by": "2026-01-10"}, [(beans, "10")]
    )
    pledge = food.pledge(box, alice, need, beans, "2")
    shift = shifts.create_shift(
        box,
        staff,
        {
            "org": bank,
            "title": "Sorting",
            "date": "2026-01-03",
            "start": "09:30",
            "end": "12:00",
            "place": "",
            "people": "5",
            "bring": "",
        },
    )
    shifts.join(box, alice, shift)
    ride = rides.request_ride(box, alice, RIDE)
    check = {"check": "licence", "label": "Driving licence seen", "seen": "2025-06-01"}
    for driver in (alice, bob):
        body = {"checks": [{**check, "expires": "2027-06-30"}], "vehicle": VAN}
        box.log.append("driver.vouched", body, subject=driver.id, author=staff.id)
    driving.take(box, bob, ride, "2026-01-06")
    flag = moderation.flag(box, alice, bobs, None, "spam", "Looks like an advert")
    moderation.set_post_hidden(box, staff, mine, True, "Please keep it local")
    appeal = moderation.appeal(box, alice, mine, None, "It is local")
    proposal = proposals.propose(
        box, bob, "Fewer flags", "Hide sooner", "rule", rule="flags_to_hide", value=2
    )
    proposals.vote(box, alice, proposal, "object", "Too easy to abuse")
    accounts.start_session(box, alice.id)
    return locals()


def test_a_member_gets_everything_the_box_holds_about_them(box, alice, world):
    data = member_export.export_member(box, alice, alice.id)
    w = world
    assert data["format"] == "kith-member-export/1" and data["box"] == box.origin
    profile = data["profile"]
    assert profile["name"] == "Alice" and profile["contact"] == "alice@example.org"
    assert profile["joined"] == "2026-01-01T12:00:00Z" and profile["verified"] is False
    assert [p["id"] for p in data["posts"]] == [w["mine"]]
    assert data["posts"][0]["hidden"] is True
    assert [(c["id"], c["post_title"]) for c in data["comments"]] == [
        (w["comment"], "Shelf to fix")
    ]
    assert [(h["post"], h["mode"]) for h in data["help_offered"]] == [(w["bobs"], "can_help")]
    assert [t["id"] for t in data["thanks"]["given"]] == [w["thanks"]]
    assert [t["id"] for t in data["thanks"]["received"]] == [w["thanked"]]
    assert [(p["id"], p["kind"], p["qty"]) for p in data["pledges"]] == [(w["pledge"], "pledge", 2)]
    assert [(s["shift"], s["title"]) for s in data["shifts"]] == [(w["shift"], "Sorting")]
    assert data["org_roles"] == [{"org": w["bank"], "name": "Bank", "role": "member"}]
    (ride,) = data["rides"]
    assert ride["id"] == w["ride"] and ride["from_area"] == "Millbrook"
    assert ride["addresses"] == {
        "from_address": "7 Quiet Close",
        "to_address": "Eye Clinic, Station Road",
        "notes": "Ring twice",
    }
    assert [(j["date"], j["state"]) for j in ride["journeys"]] == [("2026-01-06", "driver_found")]
    (vouch,) = data["driving"]["vouches"]
    assert vouch["valid_to"] == "2027-06-30" and vouch["vehicle"]["seats"] == 6
    assert data["driving"]["journeys"] == []  # Bob drives her ride, not she
    assert [(f["id"], f["reason"]) for f in data["flags"]] == [(w["flag"], "spam")]
    assert [(v["proposal"], v["choice"], v["reason"]) for v in data["votes"]] == [
        (w["proposal"], "object", "Too easy to abuse")
    ]
    assert [(a["id"], a["text"]) for a in data["appeals"]] == [(w["appeal"], "It is local")]
    assert data["conduct_accepted"] == [{"version": 1, "at": "2026-01-01T12:00:00Z"}]
    assert data["sessions"]["count"] == 1
    assert data["sessions"]["logins"][0]["ends"] == "2026-01-31T12:00:00Z"
    authored = set(data["records_authored"])
    for own in ("mine", "comment", "thanks", "pledge", "ride", "flag", "appeal"):
        assert w[own] in authored, own
    assert not authored & {w["bobs"], w["thanked"], w["proposal"]}


def test_the_export_holds_no_one_elses_personal_details(box, alice, world):
    text = json.dumps(member_export.export_member(box, alice, alice.id))
    for other in ("bob-secret@example.org", "Bob's private remark", "Hide sooner"):
        assert other not in text


def test_a_driver_sees_the_journeys_they_drive(box, bob, world):
    data = member_export.export_member(box, bob, bob.id)
    assert data["driving"]["journeys"] == [
        {"ride": world["ride"], "date": "2026-01-06", "state": "driver_found", "miles": None}
    ]
    assert data["rides"] == []  # not his ride: no areas, no addresses
    assert "7 Quiet Close" not in json.dumps(data)


def test_staff_can_export_a_member_for_them(box, alice, staff, world):
    assert member_export.export_member(box, staff, alice.id) == member_export.export_member(
        box, alice, alice.id
    )


def test_nobody_else_can_and_nothing_changes(box, alice, bob, staff, world):
    before = record_count()
    with pytest.raises(NotAllowed):
        member_export.export_member(box, bob, alice.id)
    with pytest.raises(NotSignedIn):
        member_export.export_member(box, None, alice.id)
    with pytest.raises(NotFound):
        member_export.export_member(box, staff, "0" * 64)
    # Who may ask is checked first, so a member cannot learn whether an id exists.
    with pytest.raises(NotAllowed):
        member_export.export_member(box, bob, "0" * 64)
    assert record_count() == before


def test_a_new_member_has_an_empty_export(box):
    carol = member(box, "Carol")
    data = member_export.export_member(box, carol, carol.id)
    assert data["profile"]["contact"] is None and data["profile"]["roles"] == []
    empty = ("posts", "comments", "help_offered", "pledges", "shifts", "rides", "flags", "votes")
    assert all(data[k] == [] for k in empty)
    assert data["records_authored"] == [] and data["sessions"] == {"count": 0, "logins": []}
