"""Staff travel pages: authorising drivers, their lapsing, and the centre's travel lists."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pagetools import DAY_MS, START_MS, Page, actor, flash_of, member_id, record_count

from appliance.models import Driver
from appliance.records import FORMAT_VERSION, encode, public_key_text, record_id, sign
from appliance.services import drivers, travel_lists

# The web tests' clock: 2027-03-17 12:00 UTC, so today is 2027-03-17 in London.
DATES = {
    "seen-licence": "2027-01-10",
    "expires-licence": "2030-01-01",
    "seen-insurance": "2027-03-01",
    "expires-insurance": "2028-02-28",
    "seen-dbs": "2026-05-01",
    "expires-dbs": "2029-05-01",
}
CHECKS = {
    "licence": ("2027-01-10", "2030-01-01"),
    "insurance": ("2027-03-01", "2028-02-28"),
    "dbs": ("2026-05-01", "2029-05-01"),
}


class OtherCentre:
    """Another centre's box, reduced to the records it signs and sends."""

    def __init__(self, name: str):
        self.key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(name.encode()).digest())
        self.origin = public_key_text(self.key)
        self.seq, self.prev = 0, None

    def make(self, kind: str, body: dict, subject: str | None = None) -> bytes:
        """Sign this centre's next record; return its wire line."""
        self.seq += 1
        unsigned = {
            "v": FORMAT_VERSION,
            "origin": self.origin,
            "seq": self.seq,
            "prev": self.prev,
            "hlc": [START_MS - DAY_MS, self.seq],
            "author": None if kind == "centre.created" else "b" * 64,
            "kind": kind,
            "subject": subject,
            "scope": "federation",
            "body": body,
        }
        self.prev = record_id(unsigned)
        return encode(sign(unsigned, self.key))


def vouch_for(box, name: str, insurance_expires: str = "2028-02-28", **vehicle) -> str:
    """Record a driver's checks as the admin; return the member id."""
    who = member_id(name)
    checks = {**CHECKS, "insurance": ("2027-03-01", insurance_expires)}
    drivers.vouch(box, actor(box, "Admin"), who, checks, {"seats": "4", **vehicle})
    return who


def section(page: Page, heading_id: str):
    return page.one("section", aria_labelledby=heading_id)


def entries(page: Page, heading_id: str) -> list[str]:
    """Return the texts of the driver cards in a section of /staff/drivers."""
    return [li.text() for li in section(page, heading_id).find_all("li", class_="card")]


# --- who may use the pages ------------------------------------------------------------


PAGES = ["/staff/drivers", "/staff/drivers/{alice}", "/staff/travel"]


@pytest.mark.parametrize("url", PAGES)
def test_visitors_are_sent_to_log_in(browser, alice, url):
    url = url.format(alice=member_id("Alice"))
    response = browser.get(url, status=302).response
    assert response.headers["Location"] == f"/login?next={url}"


@pytest.mark.parametrize("url", PAGES)
def test_members_get_a_403_page(alice, bob, url):
    page = bob.get(url.format(alice=member_id("Alice")), status=403)
    assert page.one(role="alert").text() == "Only the centre's staff can do that."


@pytest.mark.parametrize("url", PAGES)
def test_staff_and_admin_see_the_pages_in_the_staff_menu(staff_client, admin_client, alice, url):
    for who in (staff_client, admin_client):
        page = who.get(url.format(alice=member_id("Alice")))
        menu = page.one("nav", aria_label="Staff pages")
        labels = [n.text() for n in menu.find_all() if n.tag in ("a", "strong")]
        assert labels[4:6] == ["Drivers", "Travel lists"]


def test_the_menu_links_to_both_pages(staff_client):
    menu = staff_client.get("/staff/members").one("nav", aria_label="Staff pages")
    assert menu.one("a", href="/staff/drivers").text() == "Drivers"
    assert menu.one("a", href="/staff/travel").text() == "Travel lists"
    here = staff_client.get("/staff/travel").one("nav", aria_label="Staff pages")
    assert here.one("strong", aria_current="page").text() == "Travel lists"


def test_an_unknown_member_has_no_driver_page(staff_client):
    page = staff_client.get(f"/staff/drivers/{'f' * 64}", status=404)
    assert page.one(role="alert").text() == "There is no such member."


ACTIONS = [
    ("/staff/drivers/{alice}", {**DATES, "seats": "4"}),
    ("/staff/drivers/{alice}/withdraw", {"reason": "Forged"}),
    ("/staff/travel/needs", {"need-label": "Forged need", "need-requires": ""}),
    ("/staff/travel/checks", {"check-label": "Forged check"}),
    ("/staff/travel/providers", {"provider-name": "Forged Taxis"}),
]


@pytest.mark.parametrize("path, data", ACTIONS)
def test_members_cannot_do_staff_actions(box, alice, bob, path, data):
    vouch_for(box, "Alice")
    before = record_count(box)
    response = bob.post(path.format(alice=member_id("Alice")), data, via="/")
    assert response.status_code == 403
    assert "Only the centre's staff can do that." in Page(response).one(role="alert").text()
    assert record_count(box) == before


@pytest.mark.parametrize("path, data", ACTIONS)
def test_visitors_cannot_do_staff_actions(box, browser, alice, path, data):
    vouch_for(box, "Alice")
    before = record_count(box)
    response = browser.post(path.format(alice=member_id("Alice")), data)
    assert response.status_code == 401
    assert record_count(box) == before


# --- authorising a driver -------------------------------------------------------------


def test_staff_find_a_member_and_record_their_checks(staff_client, box, alice):
    page = staff_client.get("/staff/drivers")
    assert section(page, "valid-h").one("p", class_="empty").text() == (
        "None yet: find a member below to record their checks."
    )
    assert page.find("section", aria_labelledby="attention-h") is None
    page = staff_client.get("/staff/drivers?q=ali")
    link = page.one("ul", class_="found").one("a")
    assert link.text() == "Alice"
    alice_id = member_id("Alice")
    assert link.attrs["href"] == f"/staff/drivers/{alice_id}"

    page = staff_client.get(link.attrs["href"])
    assert page.one("h1").text() == "Driver: Alice"
    assert page.one("p", class_="status-line").text() == "No: no centre has recorded their checks."
    legends = [f.one("legend").text() for f in page.find_all("fieldset", class_="checks")]
    assert legends == ["Driving licence seen", "Insurance seen", "Criminal records check (DBS)"]
    assert page.field("seen-dbs").attrs["type"] == "date"
    assert page.find("section", aria_labelledby="withdraw-h") is None
    before = record_count(box)

    response = staff_client.submit(
        page, containing="Save checks and vehicle", data={**DATES, "seats": "4", "wheelchair": "1"}
    )

    page = staff_client.follow(response)
    assert page.url == f"/staff/drivers/{alice_id}"
    assert flash_of(page) == (
        "Checks recorded: this driver can see and take rides their vehicle can serve."
    )
    assert record_count(box) == before + 1
    assert page.one("p", class_="status-line").text() == "Yes, valid to 28 February 2028."
    card = page.one("li", id="vouch-1")
    assert card.one("h3").text() == "Checked here"
    assert "Insurance seen: seen 1 March 2027, runs out 28 February 2028" in card.text()
    # The form now holds the current checks, ready to renew one.
    assert page.field("expires-insurance").value() == "2028-02-28"
    assert page.field("seats").value() == "4"
    assert "checked" in page.field("wheelchair").attrs
    assert "checked" not in page.field("dogs").attrs
    assert drivers.authorisation(box, alice_id)["vehicle"] == {
        "seats": 4,
        "wheelchair": True,
        "folded_chair": False,
        "dogs": False,
    }

    listing = staff_client.get("/staff/drivers")
    [text] = entries(listing, "valid-h")
    assert text == (
        "Alice Valid to 28 February 2028 Checked here, valid to 28 February 2028 "
        "4 passenger seats · Wheelchair accessible (the rider stays in the chair)"
    )


def test_vouch_form_problems_sit_beside_their_fields(staff_client, box, alice):
    alice_id = member_id("Alice")
    page = staff_client.get(f"/staff/drivers/{alice_id}")
    before = record_count(box)
    bad = {
        **DATES,
        "seen-licence": "2027-03-18",  # tomorrow
        "seen-insurance": "2027-03-01",
        "expires-insurance": "2027-02-01",
        "seen-dbs": "",
        "expires-dbs": "",
        "seats": "0",
        "dogs": "1",
    }
    response = staff_client.submit(page, containing="Save checks and vehicle", data=bad)
    assert response.status_code == 400
    page = Page(response)
    assert page.error_for("seen-licence") == "That date is in the future: give the day you saw it."
    assert page.error_for("expires-licence") is None
    assert page.error_for("expires-insurance") == "The expiry date is before the date it was seen."
    assert page.error_for("seen-dbs") == "Please give the date you saw this."
    assert page.error_for("expires-dbs") == "Please give the date this runs out."
    assert page.error_for("seats") == "Please give the passenger seats, a number from 1 to 8."
    assert page.field("seen-dbs").attrs["aria-describedby"] == "e-seen-dbs"
    assert page.field("seats").attrs["aria-invalid"] == "true"
    # What was typed is kept, tick boxes included.
    assert page.field("seen-licence").value() == "2027-03-18"
    assert page.field("expires-licence").value() == "2030-01-01"
    assert "checked" in page.field("dogs").attrs
    assert "checked" not in page.field("wheelchair").attrs
    assert record_count(box) == before
    assert Driver.select().count() == 0

    response = staff_client.submit(
        page, containing="Save checks and vehicle", data=DATES | {"seats": "2"}
    )
    assert response.status_code == 302
    assert drivers.authorisation(box, alice_id)["vehicle"]["dogs"] is True


def test_a_check_the_centre_does_not_ask_for_is_a_problem_at_the_top(staff_client, box, alice):
    alice_id = member_id("Alice")
    before = record_count(box)
    response = staff_client.post(
        f"/staff/drivers/{alice_id}",
        {**DATES, "seen-eyesight": "2027-01-01", "expires-eyesight": "2028-01-01", "seats": "3"},
        via="/me",
    )
    assert response.status_code == 400
    page = Page(response)
    assert page.one(role="alert").text() == "Only the checks this centre asks for can be recorded."
    assert record_count(box) == before


def test_a_new_check_on_the_list_appears_on_the_vouch_form(staff_client, box, alice):
    travel_lists.set_driver_check(box, actor(box, "Admin"), {"label": "Eyesight test"})
    travel_lists.set_driver_check(box, actor(box, "Admin"), {"slug": "dbs", "active": "0"})
    page = staff_client.get(f"/staff/drivers/{member_id('Alice')}")
    legends = [f.one("legend").text() for f in page.find_all("fieldset", class_="checks")]
    assert legends == ["Driving licence seen", "Insurance seen", "Eyesight test"]
    assert page.controls("seen-dbs") == []


# --- lapsing, lapsed and other centres ------------------------------------------------


def test_lapsing_and_lapsed_drivers_are_at_the_top(staff_client, box, clock, alice, bob):
    vouch_for(box, "Alice")
    bob_id = vouch_for(box, "Bob", insurance_expires="2027-04-01")  # in 15 days
    page = staff_client.get("/staff/drivers")
    attention = section(page, "attention-h")
    assert "problem" in attention.classes
    assert entries(page, "attention-h") == [
        "Bob Valid to 1 April 2027: lapses in 15 days. Checked here, valid to 1 April 2027 "
        "4 passenger seats"
    ]
    assert [t.split(" Valid")[0] for t in entries(page, "valid-h")] == ["Alice"]
    bob_page = staff_client.get(f"/staff/drivers/{bob_id}")
    assert bob_page.one("p", class_="status-line").text() == (
        "Yes, valid to 1 April 2027. That is within 15 days: ask them to bring the renewed "
        "documents."
    )

    clock.advance(16 * DAY_MS)  # 2027-04-02: Bob's insurance ran out yesterday
    page = staff_client.get("/staff/drivers")
    assert entries(page, "attention-h")[0].startswith(
        "Bob Lapsed on 1 April 2027: may not drive until checks are renewed."
    )
    bob_page = staff_client.get(f"/staff/drivers/{bob_id}")
    assert bob_page.one("p", class_="status-line").text() == (
        "No: their checks have run out. Record the renewed checks below and they can drive again."
    )
    assert bob_page.one("li", id="vouch-1").find("p").text() == "Lapsed on 1 April 2027"


def test_a_driver_checked_at_another_centre_says_where(staff_client, box, alice):
    east = OtherCentre("east")
    box.log.append("trust.granted", {"origin": east.origin, "name": "East"})
    alice_id = member_id("Alice")
    vehicle = {"seats": 2, "wheelchair": False, "folded_chair": True, "dogs": False}
    checks = [{"check": "dbs", "label": "DBS", "seen": "2027-01-01", "expires": "2027-12-31"}]
    lines = [
        east.make("centre.created", {"name": "East Centre", "timezone": "Europe/London"}),
        east.make("driver.vouched", {"checks": checks, "vehicle": vehicle}, subject=alice_id),
    ]
    assert box.log.ingest(lines).ok
    page = staff_client.get("/staff/drivers")
    assert entries(page, "valid-h") == [
        "Alice Valid to 31 December 2027 Checked at East Centre, valid to 31 December 2027 "
        "2 passenger seats · Boot space for a folded wheelchair"
    ]
    page = staff_client.get(f"/staff/drivers/{alice_id}")
    assert page.one("li", id="vouch-1").one("h3").text() == "Checked at East Centre"
    assert page.one("h2", id="vouch-h").text() == "Record this centre's checks"
    # This centre has no vouch of its own to withdraw.
    assert page.find("section", aria_labelledby="withdraw-h") is None


# --- withdrawing ------------------------------------------------------------------------


def test_staff_withdraw_a_drivers_authorisation_with_a_reason(staff_client, box, alice):
    alice_id = vouch_for(box, "Alice")
    page = staff_client.get(f"/staff/drivers/{alice_id}")
    assert page.one("h2", id="vouch-h").text() == "Renew or change this centre's checks"
    before = record_count(box)
    response = staff_client.submit(page, containing="Withdraw authorisation", data={"reason": " "})
    assert response.status_code == 400
    page = Page(response)
    assert page.error_for("reason") == "Please say why, in a few words (500 characters at most)."
    # The vouch form still shows the current checks.
    assert page.field("expires-insurance").value() == "2028-02-28"
    assert record_count(box) == before

    response = staff_client.submit(
        page, containing="Withdraw authorisation", data={"reason": "Stopped volunteering"}
    )
    page = staff_client.follow(response)
    assert (
        flash_of(page) == "Authorisation withdrawn: this centre no longer vouches for this driver."
    )
    assert page.one("p", class_="status-line").text() == "No: no centre has recorded their checks."
    assert record_count(box) == before + 1
    assert not drivers.is_authorised(box, actor(box, "Alice"))


def test_withdrawing_twice_is_a_problem_not_a_crash(staff_client, box, alice):
    alice_id = vouch_for(box, "Alice")
    drivers.withdraw(box, actor(box, "Admin"), alice_id, "Moved away")
    before = record_count(box)
    response = staff_client.post(f"/staff/drivers/{alice_id}/withdraw", {"reason": "x"}, via="/me")
    assert response.status_code == 409
    assert Page(response).one(role="alert").text() == (
        "Alice is not a driver checked by this centre."
    )
    assert record_count(box) == before


# --- the travel lists ---------------------------------------------------------------------


def list_labels(page: Page, list_name: str) -> list[str]:
    """Return the names in the rename boxes of one list on /staff/travel."""
    listed = page.one("ul", class_=f"list-{list_name}")
    return [
        i.attrs["value"]
        for i in listed.find_all("input")
        if i.attrs.get("id", "").startswith(f"{list_name}-name-")
    ]


def test_the_lists_page_shows_the_defaults(staff_client):
    page = staff_client.get("/staff/travel")
    assert list_labels(page, "needs") == [
        "Wheelchair user, stays in the chair",
        "Wheelchair user, can move to a seat",
        "Assistance dog",
        "Hard of hearing",
        "Visually impaired",
        "Needs help to the door",
        "Escort travelling",
    ]
    requires = page.one("select", id="needs-req-wheelchair-stays")
    assert requires.value() == "wheelchair"
    assert page.one("select", id="needs-req-escort").value() == ""
    assert list_labels(page, "checks") == [
        "Driving licence seen",
        "Insurance seen",
        "Criminal records check (DBS)",
    ]
    assert section(page, "providers-h").one("p", class_="empty").text() == "None yet."


def test_staff_add_an_access_need_and_see_problems_beside_the_field(staff_client, box):
    page = staff_client.get("/staff/travel")
    before = record_count(box)
    response = staff_client.submit(
        page,
        containing="Add access need",
        data={"need-label": "Oxygen cylinder", "need-requires": "wheelchair"},
    )
    page = staff_client.follow(response)
    assert flash_of(page) == "Added to the list."
    assert list_labels(page, "needs")[-1] == "Oxygen cylinder"
    assert page.one("select", id="needs-req-oxygen-cylinder").value() == "wheelchair"
    assert record_count(box) == before + 1

    response = staff_client.submit(
        page, containing="Add access need", data={"need-label": "oxygen CYLINDER"}
    )
    assert response.status_code == 400
    page = Page(response)
    assert page.error_for("need-label") == "The list already has an access need of that name."
    assert page.field("need-label").value() == "oxygen CYLINDER"
    assert page.field("need-label").attrs["aria-describedby"] == "e-need-label"
    assert record_count(box) == before + 1


def test_staff_rename_retire_and_bring_back_a_need(staff_client, box):
    page = staff_client.get("/staff/travel")
    row = page.one("li", id="needs-escort")
    response = staff_client.submit(
        page, form=row.find_all("form")[0], data={"label": "Carer travelling"}
    )
    page = staff_client.follow(response)
    assert flash_of(page) == "Saved."
    assert list_labels(page, "needs")[-1] == "Carer travelling"

    # A rename's problem is shown in that row, with what was typed.
    row = page.one("li", id="needs-escort")
    response = staff_client.submit(
        page, form=row.find_all("form")[0], data={"label": "Assistance dog"}
    )
    assert response.status_code == 400
    page = Page(response)
    row = page.one("li", id="needs-escort")
    assert row.one(class_="error").text() == "The list already has an access need of that name."
    box_ = row.one("input", id="needs-name-escort")
    assert box_.value() == "Assistance dog"
    assert box_.attrs["aria-describedby"] == "e-needs-escort"
    assert page.field("need-label").value() == ""  # the add form stays empty

    row = page.one("li", id="needs-escort")
    retire = row.find_all("form")[1]
    assert retire.one("button").attrs["aria-label"] == "Retire Carer travelling"
    page = staff_client.follow(staff_client.submit(page, form=retire))
    assert flash_of(page) == "Retired."
    assert "(retired)" in page.one("li", id="needs-escort").text()
    assert "escort" not in [n["slug"] for n in travel_lists.access_needs(box)]
    back = page.one("li", id="needs-escort").find_all("form")[1]
    page = staff_client.follow(staff_client.submit(page, form=back))
    assert flash_of(page) == "Back on the list."
    assert travel_lists.need_map(box)["escort"] == {
        "slug": "escort",
        "label": "Carer travelling",
        "requires": None,
        "active": True,
    }


def test_staff_add_checks_and_providers(staff_client, box):
    page = staff_client.get("/staff/travel")
    page = staff_client.follow(
        staff_client.submit(page, containing="Add check", data={"check-label": "First aid"})
    )
    assert list_labels(page, "checks")[-1] == "First aid"
    response = staff_client.submit(page, containing="Add provider", data={"provider-name": ""})
    assert response.status_code == 400
    page = Page(response)
    assert page.error_for("provider-name") == (
        "Please give the provider's name (100 characters at most)."
    )
    assert page.error_for("check-label") is None
    page = staff_client.follow(
        staff_client.submit(page, containing="Add provider", data={"provider-name": "Vale Taxis"})
    )
    assert list_labels(page, "providers") == ["Vale Taxis"]
    assert [p["slug"] for p in travel_lists.providers(box)] == ["vale-taxis"]
    row = page.one("li", id="providers-vale-taxis")
    page = staff_client.follow(
        staff_client.submit(page, form=row.find_all("form")[0], data={"name": "Vale Cars"})
    )
    assert list_labels(page, "providers") == ["Vale Cars"]


# --- every control labelled, every id once ----------------------------------------------


def test_pages_label_every_control_and_use_each_id_once(staff_client, box, alice, bob):
    alice_id = vouch_for(box, "Alice")
    vouch_for(box, "Bob", insurance_expires="2027-04-01")
    travel_lists.set_provider(box, actor(box, "Admin"), {"name": "Vale Taxis"})
    refused = staff_client.submit(
        staff_client.get(f"/staff/drivers/{alice_id}"),
        containing="Save checks and vehicle",
        data={"seen-dbs": "", "seats": "0"},
    )
    lists = staff_client.get("/staff/travel")
    renamed = staff_client.submit(
        lists,
        form=lists.one("li", id="needs-escort").find_all("form")[0],
        data={"label": "", "requires": "jetpack"},
    )
    pages = [
        staff_client.get("/staff/drivers?q=a"),
        staff_client.get(f"/staff/drivers/{alice_id}"),
        Page(refused),
        staff_client.get("/staff/travel"),
        Page(renamed),
    ]
    for page in pages:
        ids = [n.attrs["id"] for n in page.find_all() if "id" in n.attrs]
        assert len(ids) == len(set(ids)), page
        labelled = {n.attrs["for"] for n in page.find_all("label")}
        for control in page.find_all():
            if control.tag in ("input", "select", "textarea"):
                if control.attrs.get("type") in ("hidden", "submit"):
                    continue
                assert control.attrs.get("id") in labelled, (page, control)
            described = control.attrs.get("aria-describedby", "").split()
            assert all(page.find(id=i) is not None for i in described), (page, control)
        headings = [int(n.tag[1]) for n in page.find_all() if n.tag in ("h1", "h2", "h3")]
        assert headings[0] == 1
        assert all(b - a <= 1 for a, b in zip(headings, headings[1:], strict=False)), page
    row = Page(renamed).one("li", id="needs-escort")
    assert [e.text() for e in row.find_all(class_="error")] == [
        "Please name the access need (60 characters at most)."
    ]


def test_the_last_day_is_named_as_such(staff_client, box, alice):
    alice_id = vouch_for(box, "Alice", insurance_expires="2027-03-17")  # today
    page = staff_client.get("/staff/drivers")
    assert entries(page, "attention-h")[0].startswith(
        "Alice Valid to 17 March 2027: today is the last day."
    )
    page = staff_client.get(f"/staff/drivers/{alice_id}")
    assert page.one("p", class_="status-line").text() == (
        "Yes, valid to 17 March 2027. Today is the last day: ask them to bring the renewed "
        "documents."
    )
