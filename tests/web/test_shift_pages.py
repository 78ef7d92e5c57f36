"""Shift pages: planning through the form, signing up and withdrawing, what organisers
see, cancelling, and the iCalendar feeds (parsed back and checked against RFC 5545)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from icalendar import Calendar
from pagetools import ADMIN, Browser, Page, actor, flash_of, member_id, record_count

from appliance.models import Shift
from appliance.services import calendar_feeds, orgs, shifts

# The box's clock: Wednesday 2027-03-17 12:00 UTC (noon in London, GMT until 28 March).
SHIFT = {
    "title": "Sorting the Saturday delivery",
    "date": "2027-03-20",
    "start": "09:30",
    "end": "12:00",
    "place": "",
    "people": "2",
    "bring": "Gloves; a packed lunch, if you like",
}


def make_org(box, name="Millbrook Food Bank", place="Church Hall, Mill Lane") -> str:
    return orgs.create_org(
        box, actor(box, ADMIN), {"name": name, "type": "foodbank", "place": place}
    )


@pytest.fixture
def org(box) -> str:
    return make_org(box)


@pytest.fixture
def organiser(new_browser, box, org) -> Browser:
    """Olu, an organiser of Millbrook Food Bank, signed in."""
    b = new_browser("Olu")
    orgs.set_org_role(box, actor(box, ADMIN), org, member_id("Olu"), "organiser")
    return b


def plan(browser: Browser, org: str, status: int = 302, **change) -> str | Page:
    """Plan a shift through the form; return its id (or the page, when refused)."""
    page = browser.get("/food/shifts/new")
    response = browser.submit(page, data={**SHIFT, "org": org, **change})
    assert response.status_code == status, response.get_data(as_text=True)[:3000]
    if status != 302:
        return Page(response)
    match = re.fullmatch(
        r"/food/shifts/([0-9a-f]{64})", urlsplit(response.headers["Location"]).path
    )
    assert match, response.headers["Location"]
    return match.group(1)


def press(browser: Browser, shift_id: str, button: str, status: int = 302, **data):
    """Press a button on the shift's page; return the response."""
    page = browser.get(f"/food/shifts/{shift_id}")
    response = browser.submit(page, containing=button, data=data)
    assert response.status_code == status, response.get_data(as_text=True)[:3000]
    return response


# --- planning ------------------------------------------------------------------------------


def test_an_organiser_plans_a_shift_and_it_is_listed_by_day(organiser, browser, org, box):
    page = organiser.get("/food/shifts")
    assert page.one("a", href="/food/shifts/new").text() == "Plan a shift"
    shift_id = plan(organiser, org)
    page = organiser.get(f"/food/shifts/{shift_id}")
    assert page.one("h1").text() == "Sorting the Saturday delivery"
    text = page.text()
    assert "Sat 20 Mar, 09:30–12:00" in text
    assert "Church Hall, Mill Lane" in text  # the organisation's place by default
    assert "Gloves; a packed lunch, if you like" in text
    assert "2 places left" in text

    listing = browser.get("/food/shifts")
    [day] = listing.find_all("h3")
    assert day.text() == "Sat 20 Mar"
    [card] = listing.find_all("li", class_="card")
    assert card.one("a").attrs["href"] == f"/food/shifts/{shift_id}"
    assert "Places left: 2 of 2" in card.text()
    assert listing.find("input", id="calendar-url") is None  # a visitor has no own feed
    assert listing.find("a", href="/food/shifts/new") is None


def test_the_form_lists_only_organisations_the_organiser_runs(organiser, box, org):
    other = make_org(box, "Eastside Pantry", "East Street")
    make_org(box, "Not Mine", "Far Road")
    orgs.set_org_role(box, actor(box, ADMIN), other, member_id("Olu"), "organiser")
    page = organiser.get(f"/food/shifts/new?org={other}")
    options = page.field("org").find_all("option")
    assert [o.text() for o in options] == ["Eastside Pantry", "Millbrook Food Bank"]
    assert page.field("org").value() == other
    shift_id = plan(organiser, other, place="Back door")
    assert (Shift.get_by_id(shift_id).org, Shift.get_by_id(shift_id).place) == (other, "Back door")


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"title": ""}, "title", "Please say in a few words what the shift is for."),
        ({"date": "2027-03-16"}, "date", "That time has already passed."),
        ({"date": "20/03/2027"}, "date", "Please give the date as YYYY-MM-DD."),
        ({"start": "half nine"}, "start", "Please give the start time as HH:MM"),
        ({"end": "09:00"}, "end", "The end time must be after the start time"),
        ({"people": "0"}, "people", "a number from 1 to 500"),
        ({"people": "600"}, "people", "a number from 1 to 500"),
        ({"bring": "x" * 501}, "bring", "under 500 characters"),
    ],
)
def test_bad_shift_input_is_shown_beside_the_field_and_kept(
    organiser, org, box, change, field, message
):
    before = record_count(box)
    page = plan(organiser, org, status=400, **change)
    assert message in page.error_for(field)
    assert page.field("title").value() == change.get("title", SHIFT["title"])
    control = page.field(field)
    assert f"e-{field}" in control.attrs["aria-describedby"].split()
    assert record_count(box) == before


def test_only_organisers_reach_the_form(alice, browser, box, org):
    assert alice.get("/food/shifts/new", status=403)
    before = record_count(box)
    response = alice.post("/food/shifts/new", {**SHIFT, "org": org}, via="/food/shifts")
    assert response.status_code == 403
    response = browser.client.get("/food/shifts/new")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert record_count(box) == before


# --- signing up -------------------------------------------------------------------------


def test_sign_up_withdraw_and_a_full_shift(organiser, alice, bob, new_browser, org, box):
    shift_id = plan(organiser, org)
    page = alice.follow(press(alice, shift_id, "Sign up"))
    assert "You are signed up" in flash_of(page)
    assert "You have a place on this shift" in page.text()
    assert "1 place left" in page.text()
    page = alice.get("/food/shifts")
    [mine] = page.one("section", aria_labelledby="mine-h").find_all("li", class_="card")
    assert "Sat 20 Mar, 09:30–12:00" in mine.text()
    assert "You are coming" in mine.text()

    bob.follow(press(bob, shift_id, "Sign up"))
    carol = new_browser("Carol")
    page = carol.get(f"/food/shifts/{shift_id}")
    assert "This shift is full" in page.text()
    assert not [b for b in page.one("main").find_all("button") if b.text() == "Sign up"]
    before = record_count(box)
    token_page = f"/food/shifts/{shift_id}"
    response = carol.post(f"/food/shifts/{shift_id}/join", via=token_page)
    assert response.status_code == 409
    assert (
        "this shift is full: all 2 places are taken" in Page(response).one(class_="problem").text()
    )
    response = alice.post(f"/food/shifts/{shift_id}/join", via=token_page)
    assert response.status_code == 409
    assert "already signed up" in Page(response).text()
    assert record_count(box) == before

    page = alice.follow(press(alice, shift_id, "Withdraw"))
    assert "no longer signed up" in flash_of(page)
    carol.follow(press(carol, shift_id, "Sign up"))
    assert Shift.get_by_id(shift_id).coming == 2


def test_a_visitor_is_asked_to_log_in_and_cannot_sign_up(organiser, browser, org, box):
    shift_id = plan(organiser, org)
    page = browser.get(f"/food/shifts/{shift_id}")
    assert "to volunteer" in page.text()
    assert page.one("main").find("form", method="post") is None
    assert browser.client.get("/food/shifts/" + "0" * 64).status_code == 404


def test_organisers_see_who_is_coming_and_the_waiting_list(organiser, alice, bob, org, box):
    shift_id = plan(organiser, org, people="1")
    press(alice, shift_id, "Sign up")
    # Bob took the place on another box while apart; the fold puts him on the waiting list.
    box.log.append("shift.joined", {}, subject=shift_id, author=member_id("Bob"))
    page = organiser.get(f"/food/shifts/{shift_id}")
    coming = page.one("section", aria_labelledby="coming-h")
    [confirmed, waiting] = coming.find_all("ol")
    assert [li.text() for li in confirmed.find_all("li")] == ["Alice"]
    assert [li.text() for li in waiting.find_all("li")] == ["Bob"]
    page = bob.get(f"/food/shifts/{shift_id}")
    assert "You are on the waiting list: number 1" in page.text()
    assert page.find("section", aria_labelledby="coming-h") is None
    assert "Alice" not in page.html
    assert "You are on the waiting list" in bob.get("/food/shifts").text()
    feed = bob.client.get(
        f"/food/calendar/{member_id('Bob')}/"
        f"{calendar_feeds.calendar_token(box, member_id('Bob'))}.ics"
    ).get_data()
    [event] = Calendar.from_ical(feed).walk("VEVENT")
    assert str(event["status"]) == "TENTATIVE"
    assert "You are number 1 on the waiting list." in str(event["description"])
    assert b"Alice" not in feed


def test_cancel_with_a_reason(organiser, alice, org, box):
    shift_id = plan(organiser, org)
    press(alice, shift_id, "Sign up")
    assert alice.get(f"/food/shifts/{shift_id}").find("section", aria_labelledby="manage-h") is None
    before = record_count(box)
    response = alice.post(f"/food/shifts/{shift_id}/cancel", {"reason": "x"}, via="/food/shifts")
    assert response.status_code == 403
    page = Page(press(organiser, shift_id, "Cancel the shift", status=400, reason=" "))
    assert page.error_for("reason") == "Please say why, so the volunteers know."
    assert record_count(box) == before
    page = organiser.follow(
        press(organiser, shift_id, "Cancel the shift", reason="The delivery moved to Monday.")
    )
    assert "The shift is cancelled" in flash_of(page)
    assert "This shift is cancelled" in page.text()
    assert "The delivery moved to Monday." in alice.get(f"/food/shifts/{shift_id}").text()
    assert "Cancelled" in alice.get("/food/shifts").text()


def shift_links(page: Page) -> list[str]:
    return [a.attrs["href"] for a in page.find_all("a") if "/food/shifts/" in a.attrs["href"]]


def test_the_list_filters_by_organisation(organiser, browser, org, box):
    other = make_org(box, "Eastside Pantry", "East Street")
    orgs.set_org_role(box, actor(box, ADMIN), other, member_id("Olu"), "organiser")
    mill = plan(organiser, org)
    east = plan(organiser, other, title="Eastside stock take")
    assert f"/food/shifts/{east}" not in shift_links(browser.get(f"/food/shifts?org={org}"))
    assert f"/food/shifts/{mill}" in shift_links(browser.get(f"/food/shifts?org={org}"))
    page = browser.get(f"/food/shifts?org={other}")
    assert page.field("org").value() == other
    page = browser.get("/food/shifts?org=" + "a" * 64, status=404)
    assert "There is no such organisation." in page.one(class_="problem").text()


# --- iCalendar ------------------------------------------------------------------------------


def rfc5545_lines(body: bytes) -> list[str]:
    """Check the basics of RFC 5545 on raw bytes; return the unfolded content lines."""
    assert body.endswith(b"\r\n")
    physical = body[:-2].split(b"\r\n")
    for line in physical:
        assert b"\n" not in line and b"\r" not in line, line
        assert len(line) <= 75, (len(line), line)
        line.decode("utf-8")  # a fold never cuts a character in two
    logical: list[bytes] = []
    for line in physical:
        if line[:1] in (b" ", b"\t"):
            logical[-1] += line[1:]
        else:
            logical.append(line)
    lines = [line.decode("utf-8") for line in logical]
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert "VERSION:2.0" in lines
    assert any(line.startswith("PRODID:") for line in lines)
    return lines


def vevents(lines: list[str]) -> list[list[str]]:
    """Split content lines into VEVENTs, checking each has its required properties once."""
    events, current = [], None
    for line in lines:
        if line == "BEGIN:VEVENT":
            assert current is None
            current = []
        elif line == "END:VEVENT":
            events.append(current)
            current = None
        elif current is not None:
            current.append(line)
    assert current is None
    for event in events:
        names = [re.split(r"[:;]", line, maxsplit=1)[0] for line in event]
        for required in ("DTSTART", "DTEND", "UID", "DTSTAMP"):
            assert names.count(required) == 1, (required, event)
    return events


def test_the_organisation_feed_is_rfc_5545_without_volunteer_names(
    organiser, alice, browser, org, box
):
    long_bring = "Gloves, boots and a flask of tea for the café crew " * 6
    first = plan(organiser, org, bring=long_bring.strip())
    summer = plan(organiser, org, title="Spring clean", date="2027-04-03")
    gone = plan(organiser, org, title="Van run", date="2027-03-21", place="Depot")
    press(alice, first, "Sign up")
    press(organiser, gone, "Cancel the shift", reason="No van")
    listing = browser.get("/food/shifts")
    link = listing.one("a", href=f"/food/orgs/{org}/shifts.ics")
    assert link.text() == "Shifts of Millbrook Food Bank"

    response = browser.client.get(f"/food/orgs/{org}/shifts.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert (
        response.headers["Content-Disposition"]
        == 'attachment; filename="millbrook-food-bank-shifts.ics"'
    )
    body = response.get_data()
    lines = rfc5545_lines(body)
    assert len(vevents(lines)) == 3
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT1H" in lines and "X-PUBLISHED-TTL:PT1H" in lines
    assert any(len(line.encode()) > 75 for line in lines), "the long DESCRIPTION is folded"
    assert b"Alice" not in body

    cal = Calendar.from_ical(body)
    events = {str(e["uid"]): e for e in cal.walk("VEVENT")}
    assert set(events) == {f"{first}@kith", f"{summer}@kith", f"{gone}@kith"}
    e = events[f"{first}@kith"]
    assert str(e["summary"]) == "Sorting the Saturday delivery"
    assert str(e["location"]) == "Church Hall, Mill Lane"
    assert e.decoded("dtstart").isoformat() == "2027-03-20T09:30:00+00:00"
    assert e.decoded("dtend").isoformat() == "2027-03-20T12:00:00+00:00"
    assert long_bring.strip() in str(e["description"])
    assert "Places left: 1 of 2" in str(e["description"])
    assert str(e["status"]) == "CONFIRMED"
    assert str(e["url"]) == f"http://localhost/food/shifts/{first}"
    # British summer time: 09:30 in London is 08:30 UTC.
    assert events[f"{summer}@kith"].decoded("dtstart").isoformat() == "2027-04-03T08:30:00+00:00"
    cancelled = events[f"{gone}@kith"]
    assert str(cancelled["status"]) == "CANCELLED"
    assert "No van" in str(cancelled["description"])
    assert int(cancelled["sequence"]) == 1
    # The same shift keeps its UID from one fetch to the next.
    again = Calendar.from_ical(browser.client.get(f"/food/orgs/{org}/shifts.ics").get_data())
    assert {str(e["uid"]) for e in again.walk("VEVENT")} == set(events)
    assert browser.client.get("/food/orgs/" + "b" * 64 + "/shifts.ics").status_code == 404


def test_a_volunteers_feed_lists_only_their_shifts_and_needs_the_right_token(
    organiser, alice, bob, new_browser, org, box
):
    mine = plan(organiser, org)
    other = plan(organiser, org, title="Van run", date="2027-03-21")
    press(alice, mine, "Sign up")
    press(bob, other, "Sign up")
    page = alice.get("/food/shifts")
    url = page.one("input", id="calendar-url").value()
    assert url.startswith("http://localhost/food/calendar/")
    path = urlsplit(url).path
    assert page.one("a", href=path).text() == "Download your shifts for your calendar"
    alice_id = member_id("Alice")
    assert path == f"/food/calendar/{alice_id}/{calendar_feeds.calendar_token(box, alice_id)}.ics"

    # A calendar app fetches it without any login.
    app = new_browser()
    response = app.client.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert 'filename="my-shifts.ics"' in response.headers["Content-Disposition"]
    body = response.get_data()
    [event] = vevents(rfc5545_lines(body))
    [parsed] = Calendar.from_ical(body).walk("VEVENT")
    assert str(parsed["uid"]) == f"{mine}@kith"
    assert "You have a place on this shift." in str(parsed["description"])
    assert b"Van run" not in body

    token = path.rsplit("/", 1)[1].removesuffix(".ics")
    wrong = ("0" if token[0] != "0" else "1") + token[1:]
    assert app.client.get(f"/food/calendar/{alice_id}/{wrong}.ics").status_code == 404
    assert app.client.get(f"/food/calendar/{alice_id}/short.ics").status_code == 404
    bob_id = member_id("Bob")
    assert app.client.get(f"/food/calendar/{bob_id}/{token}.ics").status_code == 404

    # After withdrawing, the shift leaves the feed.
    shifts.leave(box, actor(box, "Alice"), mine)
    assert vevents(rfc5545_lines(app.client.get(path).get_data())) == []
