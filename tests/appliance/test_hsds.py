"""Open Referral HSDS 3 output (appliance/services/hsds.py): every organisation and service
valid against the published schemas, shifts as schedules in the centre's zone, stable
ids, paging, unknown ids, and nothing personal."""

from __future__ import annotations

import json
import uuid
from functools import cache
from pathlib import Path

import pytest
from boxes import member, record_count, trust
from jsonschema import Draft202012Validator, FormatChecker
from recordmaker import Origin

from appliance.errors import InvalidInput, NotFound
from appliance.services import hsds, orgs, shifts

SCHEMAS = Path(__file__).resolve().parent.parent / "standards" / "hsds-3"
VOLUNTEER = "Veronika Quintessa-Volunteer"
ORGANISER = "Olu Organiser-Ramsbottom"


@cache
def validator(name: str) -> Draft202012Validator:
    """Return a validator of a published HSDS 3 schema, checking formats (uuid, uri...)."""
    schema = json.loads((SCHEMAS / name).read_text())
    return Draft202012Validator(schema, format_checker=FormatChecker())


def assert_valid(name: str, instance: dict) -> None:
    errors = sorted(validator(name).iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def link(name: str, **values) -> str:
    return "http://kith.test/" + "/".join([name, *values.values()])


def plan(box, who, org, date, start, end, title="Sorting the delivery", people="3") -> str:
    data = {
        "org": org,
        "title": title,
        "date": date,
        "start": start,
        "end": end,
        "place": "",
        "people": people,
        "bring": "Gloves",
    }
    return shifts.create_shift(box, who, data)


@pytest.fixture
def world(box, staff):
    """The centre with a food bank (shifts in winter, summer, one cancelled), a shop, a
    retired group and another centre's pantry."""
    bank = orgs.create_org(
        box, staff, {"name": "Millbrook Food Bank", "type": "foodbank", "place": "Church Hall"}
    )
    shop = orgs.create_org(box, staff, {"name": "Corner Shop", "type": "shop", "place": "High St"})
    gone = orgs.create_org(box, staff, {"name": "Old Group", "type": "group", "place": "Hut"})
    orgs.change_org(box, staff, gone, {"name": "Old Group", "type": "group", "place": "Hut"}, False)
    organiser = member(box, ORGANISER)
    orgs.set_org_role(box, staff, bank, organiser.id, "organiser")
    winter = plan(box, organiser, bank, "2026-01-03", "09:30", "12:00")
    summer = plan(box, organiser, bank, "2026-06-06", "10:00", "13:00", title="Summer sort")
    night = plan(box, organiser, bank, "2026-01-09", "22:00", "02:00", title="Night delivery")
    called_off = plan(box, organiser, bank, "2026-01-10", "09:00", "10:00", title="Called off")
    shifts.cancel_shift(box, organiser, called_off, "Van broke down")
    volunteer = member(box, VOLUNTEER)
    shifts.join(box, volunteer, winter)
    other = Origin("riverside-centre")
    trust(box, other)
    made = other.make(
        "org.created",
        {"name": "Riverside Pantry", "type": "foodbank", "place": "Riverside Road"},
        author="b" * 64,
    )
    assert box.log.ingest([made.line]).ok
    return {
        "bank": bank,
        "shop": shop,
        "gone": gone,
        "foreign": made.id,
        "shifts": {"winter": winter, "summer": summer, "night": night, "off": called_off},
    }


def test_every_organisation_is_valid_hsds_with_stable_ids(box, world):
    found = hsds.organizations(box, link=link)
    assert [o["name"] for o in found] == ["Test Centre", "Corner Shop", "Millbrook Food Bank"]
    for org in found:
        assert_valid("organization.json", org)
        assert_valid("organization_list.json", org)
        for service in org["services"]:
            assert service["organization_id"] == org["id"]
    assert found[2]["id"] == hsds.hsds_id("organization", world["bank"])
    assert uuid.UUID(found[2]["id"]).version == 5
    assert hsds.organizations(box, link=link) == found  # the same ids on every fetch
    for org in hsds.organizations(box):  # outside the web: URNs, still valid URIs
        assert_valid("organization.json", org)
    bank = found[2]
    assert bank["website"] == f"http://kith.test/org_page/{world['bank']}"
    assert bank["locations"][0]["name"] == "Church Hall"
    assert not any(k in bank["locations"][0] for k in ("latitude", "longitude", "addresses"))
    assert bank["description"] == "Food bank at Church Hall."


def test_the_centre_offers_the_board_and_travel_without_any_ride(box, world):
    centre = hsds.organizations(box, link=link)[0]
    names = [s["name"] for s in centre["services"]]
    assert names == ["Community notice board", "Community travel"]
    travel = centre["services"][1]
    assert travel["schedules"] == [] and travel["url"] == "http://kith.test/rides"
    assert centre["id"] == hsds.hsds_id("organization", box.centre.id)


def test_shifts_to_come_are_schedules_in_the_centres_zone(box, world):
    bank = hsds.organization(box, hsds.hsds_id("organization", world["bank"]), link=link)
    posts, volunteering = bank["services"]
    assert posts["name"] == "Millbrook Food Bank: food bank" and posts["schedules"] == []
    winter, night, summer = volunteering["schedules"]  # soonest first; cancelled left out
    assert winter == {
        "id": hsds.hsds_id("schedule", world["shifts"]["winter"]),
        "service_id": volunteering["id"],
        "valid_from": "2026-01-03",
        "valid_to": "2026-01-03",
        "dtstart": "2026-01-03",
        "timezone": 0,
        "freq": "WEEKLY",
        "count": 1,
        "byday": "SA",
        "opens_at": "09:30+00:00",
        "closes_at": "12:00+00:00",
        "description": "Sorting the delivery. Places left: 2 of 3. What to bring: Gloves",
        "attending_type": "In person at Church Hall",
        "schedule_link": f"http://kith.test/shift_page/{world['shifts']['winter']}",
    }
    # British Summer Time: an hour ahead of UTC, said both ways.
    assert (summer["opens_at"], summer["closes_at"], summer["timezone"]) == (
        "10:00+01:00",
        "13:00+01:00",
        1,
    )
    # A night shift ends the next day.
    assert (night["valid_from"], night["valid_to"], night["byday"]) == (
        "2026-01-09",
        "2026-01-10",
        "FR",
    )
    for service in hsds.services(box, link=link):
        assert_valid("service.json", service)
        assert_valid("service_list.json", service)


def test_a_shift_that_is_over_leaves_and_with_none_left_volunteering_goes(box, world, clock):
    clock.ms += 400 * 86_400_000  # every shift over
    bank = hsds.organization(box, hsds.hsds_id("organization", world["bank"]), link=link)
    assert [s["name"] for s in bank["services"]] == ["Millbrook Food Bank: food bank"]
    shop = hsds.organization(box, hsds.hsds_id("organization", world["shop"]), link=link)
    assert [s["name"] for s in shop["services"]] == ["Corner Shop: surplus food"]


def test_no_person_appears_anywhere(box, world):
    text = json.dumps([hsds.organizations(box, link=link), hsds.services(box, link=link)])
    for name in (VOLUNTEER, ORGANISER, "Sam Staff", "Van broke down", "Called off"):
        assert name not in text


def test_unknown_retired_and_other_centres_ids_are_not_found(box, world):
    before = record_count()
    for wrong in (
        str(uuid.uuid4()),
        "not-a-uuid",
        "",
        hsds.hsds_id("organization", world["gone"]),
        hsds.hsds_id("organization", world["foreign"]),
        world["bank"],  # the record id itself is not the HSDS id
    ):
        with pytest.raises(NotFound):
            hsds.organization(box, wrong, link=link)
        with pytest.raises(NotFound):
            hsds.service(box, wrong, link=link)
    assert record_count() == before


def test_services_are_found_by_id(box, world):
    for service in hsds.services(box, link=link):
        assert hsds.service(box, service["id"], link=link) == service


def test_paging_follows_the_hsds_api_list_shape(box, world):
    items = hsds.services(box, link=link)  # board, travel, shop, bank, bank volunteering
    assert len(items) == 5
    first = hsds.paged(items, 1, 2)
    assert {k: v for k, v in first.items() if k != "contents"} == {
        "total_items": 5,
        "total_pages": 3,
        "page_number": 1,
        "size": 2,
        "first_page": True,
        "last_page": False,
        "empty": False,
    }
    last = hsds.paged(items, 3, 2)
    assert (last["size"], last["last_page"], last["first_page"]) == (1, True, False)
    assert [s["id"] for s in first["contents"] + hsds.paged(items, 2, 2)["contents"]] + [
        last["contents"][0]["id"]
    ] == [s["id"] for s in items]
    beyond = hsds.paged(items, 9, 2)
    assert (beyond["empty"], beyond["contents"], beyond["last_page"]) == (True, [], True)


def test_paging_values_are_read_and_bad_ones_named():
    assert hsds.read_paging({}) == (1, 20)
    assert hsds.read_paging({"page": " 2 ", "per_page": "100"}) == (2, 100)
    for args, fields in (
        ({"page": "0"}, {"page"}),
        ({"page": "-1"}, {"page"}),
        ({"page": "two"}, {"page"}),
        ({"page": "1.5"}, {"page"}),
        ({"per_page": "0"}, {"per_page"}),
        ({"per_page": "101"}, {"per_page"}),
        ({"per_page": "99999999999"}, {"per_page"}),
        ({"page": "x", "per_page": "1e3"}, {"page", "per_page"}),
    ):
        with pytest.raises(InvalidInput) as caught:
            hsds.read_paging(args)
        assert set(caught.value.fields) == fields
