"""Portable verification: another centre's vouches shown here, and this centre's staff
accepting them or not."""

from __future__ import annotations

import json

import pytest
from boxes import START_MS, record_count, trust
from recordmaker import DAY_MS, Origin

from appliance.errors import Conflict, InvalidInput, NotAllowed, NotFound, NotSignedIn
from appliance.models import StoredRecord
from appliance.services import members, vouches


@pytest.fixture
def east(box):
    """A trusted neighbouring centre, East Centre, whose clock starts an hour ago."""
    origin = Origin("east", start_ms=START_MS - 3600_000)
    trust(box, origin.origin)
    centre = origin.make("centre.created", {"name": "East Centre", "timezone": "Europe/London"})
    assert box.log.ingest([centre.line]).ok
    return origin


def vouch(box, origin: Origin, member_id: str, kind: str, body: dict | None = None):
    made = origin.make(kind, body or {}, subject=member_id)
    assert box.log.ingest([made.line]).ok
    return made


def test_vouches_from_elsewhere_name_the_centre_and_the_date(box, east, alice, staff):
    members.set_verified(box, staff, alice.id, True)  # this centre's own: not "elsewhere"
    verified = vouch(box, east, alice.id, "member.verified")
    east.tick(60_000)
    vouch(box, east, alice.id, "role.granted", {"role": "driver", "expires": None})

    assert vouches.vouches_elsewhere(box, alice.id) == [
        {
            "origin": east.origin,
            "centre": "East Centre",
            "what": "verified",
            "date": verified.fields["hlc"][0],
            "accepted": None,
        },
        {
            "origin": east.origin,
            "centre": "East Centre",
            "what": "driver",
            "date": verified.fields["hlc"][0] + 60_000,
            "accepted": None,
        },
    ]


def test_withdrawn_and_expired_vouches_are_not_shown(box, east, alice):
    vouch(box, east, alice.id, "member.verified")
    vouch(box, east, alice.id, "role.granted", {"role": "driver", "expires": None})
    vouch(box, east, alice.id, "role.granted", {"role": "cook", "expires": START_MS - DAY_MS})
    vouch(box, east, alice.id, "member.unverified")
    vouch(box, east, alice.id, "role.revoked", {"role": "driver"})
    assert vouches.vouches_elsewhere(box, alice.id) == []


def test_a_centre_whose_own_record_has_not_arrived_goes_by_its_pairing_name(box, alice):
    west = Origin("west", start_ms=START_MS - 3600_000)
    trust(box, west.origin)  # named "peer <key>" when paired
    vouch(box, west, alice.id, "member.verified")
    [found] = vouches.vouches_elsewhere(box, alice.id)
    assert found["centre"] == f"peer {west.origin[:6]}"
    assert found["origin"] == west.origin


def test_staff_accept_a_vouch_and_it_counts_here(box, east, alice, staff):
    vouch(box, east, alice.id, "member.verified")
    assert not vouches.verified_here(box, alice.id)
    before = record_count()

    vouches.review_vouch(box, staff, alice.id, east.origin, True)

    assert record_count() == before + 1
    row = StoredRecord.select().order_by(StoredRecord.seq.desc()).first()
    record = json.loads(bytes(row.raw))
    assert record["kind"] == "vouch.reviewed" and record["scope"] == "local"
    assert record["subject"] == alice.id and record["author"] == staff.id
    assert record["body"] == {"origin": east.origin, "accepted": True}
    assert vouches.verified_here(box, alice.id)
    assert vouches.vouches_elsewhere(box, alice.id)[0]["accepted"] is True
    view = vouches.staff_view(box, staff, alice.id)
    assert view["member"] == {"id": alice.id, "name": "Alice", "verified_here": True}

    vouches.review_vouch(box, staff, alice.id, east.origin, False)
    assert not vouches.verified_here(box, alice.id)
    assert vouches.vouches_elsewhere(box, alice.id)[0]["accepted"] is False


def test_an_accepted_vouch_stops_counting_when_its_centre_withdraws_it(box, east, alice, staff):
    vouch(box, east, alice.id, "member.verified")
    vouches.review_vouch(box, staff, alice.id, east.origin, True)
    vouch(box, east, alice.id, "member.unverified")
    assert not vouches.verified_here(box, alice.id)


def test_this_centres_own_verification_counts_without_review(box, alice, bob, staff):
    members.set_verified(box, staff, alice.id, True)
    assert vouches.verified_here(box, alice.id)
    assert not vouches.verified_here(box, bob.id)
    assert not vouches.verified_here(box, "0" * 64)


def test_a_role_vouch_alone_can_be_reviewed_but_verifies_nobody(box, east, alice, staff):
    vouch(box, east, alice.id, "role.granted", {"role": "driver", "expires": None})
    vouches.review_vouch(box, staff, alice.id, east.origin, True)
    assert not vouches.verified_here(box, alice.id)
    assert vouches.vouches_elsewhere(box, alice.id)[0]["accepted"] is True


def test_bad_reviews_are_refused_and_change_nothing(box, east, alice, bob, staff):
    vouch(box, east, alice.id, "member.verified")
    stranger = Origin("stranger").origin
    before = record_count()
    with pytest.raises(NotAllowed):
        vouches.review_vouch(box, alice, alice.id, east.origin, True)  # not staff
    with pytest.raises(NotSignedIn):
        vouches.review_vouch(box, None, alice.id, east.origin, True)
    with pytest.raises(NotFound, match="no such member"):
        vouches.review_vouch(box, staff, "0" * 64, east.origin, True)
    with pytest.raises(NotFound, match="has not vouched"):
        vouches.review_vouch(box, staff, bob.id, east.origin, True)  # East never vouched Bob
    with pytest.raises(NotFound, match="has not vouched"):
        vouches.review_vouch(box, staff, alice.id, stranger, True)
    with pytest.raises(NotFound, match="has not vouched"):
        vouches.review_vouch(box, staff, alice.id, box.origin, True)  # this centre itself
    with pytest.raises(NotFound, match="has not vouched"):
        vouches.review_vouch(box, staff, alice.id, "not a key", True)
    with pytest.raises(InvalidInput):
        vouches.review_vouch(box, staff, alice.id, east.origin, "yes")
    with pytest.raises(NotAllowed):
        vouches.staff_view(box, alice, alice.id)
    assert record_count() == before

    vouches.review_vouch(box, staff, alice.id, east.origin, False)
    with pytest.raises(Conflict, match="already declined"):
        vouches.review_vouch(box, staff, alice.id, east.origin, False)
    vouches.review_vouch(box, staff, alice.id, east.origin, True)
    with pytest.raises(Conflict, match="already accepted"):
        vouches.review_vouch(box, staff, alice.id, east.origin, True)
    assert record_count() == before + 2


def test_unknown_members_have_no_vouches(box):
    with pytest.raises(NotFound):
        vouches.vouches_elsewhere(box, "0" * 64)
