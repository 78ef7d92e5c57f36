"""A member's data pages (see, download) and erasing an account, as the member and as staff.

The last tests erase a member with a distinctive name and contact who posted, commented,
pledged and signed up for a shift, then fetch every page the app has (read from its URL
map, so a new page is fetched too) as a visitor, a member and staff, and read the signed
log: the name and contact are nowhere.
"""

from __future__ import annotations

import html
import itertools
import json
from dataclasses import dataclass

import pytest
from pagetools import (
    ADMIN,
    PASSWORD,
    Browser,
    Page,
    actor,
    flash_of,
    member_id,
    new_post,
)
from pagetools import record_count as records

from appliance.models import Account, Item, LoginSession, Member, MemberPrivate
from appliance.services import catalogue, food, food_charts, orgs, shifts, travel_insight
from appliance.services.food_export_columns import DATASETS
from appliance.services.member_export import FORMAT

NAME = "Zebedee Quixwold"
CONTACT = "zq.private@example.org"
SHIFT = {
    "title": "Sorting",
    "date": "2027-03-20",
    "start": "09:30",
    "end": "12:00",
    "place": "",
    "people": "5",
    "bring": "",
}


@pytest.fixture
def zeb(new_browser) -> Browser:
    return new_browser(NAME, contact=CONTACT)


def erase_as_member(b: Browser, mode: str = "keep", password: str = PASSWORD):
    page = b.get("/account/erase")
    return b.submit(page, "/account/erase", data={"mode": mode, "password": password})


# --- seeing one's own data ----------------------------------------------------------------


def test_my_data_page_shows_what_the_box_holds(box, zeb, bob):
    post = new_post(zeb, title="Loan of a ladder", details="For the gutter")
    theirs = new_post(bob, title="Bob's shelf")
    zeb.submit(zeb.get(f"/posts/{theirs}"), f"/posts/{theirs}/comment", {"text": "I have a drill"})
    page = zeb.get("/account/data")
    text = page.text()
    for expected in (NAME, CONTACT, "Loan of a ladder", "I have a drill", "Bob's shelf"):
        assert expected in text
    assert f"/posts/{post}" in page.links()
    assert "/account/data.json" in page.links() and "/account/erase" in page.links()
    levels = [int(n.tag[1]) for n in page.one("main").iter() if n.tag in ("h1", "h2", "h3")]
    assert levels[0] == 1 and all(b - a <= 1 for a, b in itertools.pairwise(levels))


def test_the_download_is_versioned_json_of_the_same_data(box, zeb):
    post = new_post(zeb, title="Loan of a ladder")
    response = zeb.client.get("/account/data.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    data = json.loads(response.get_data(as_text=True))
    assert data["format"] == FORMAT
    assert data["profile"]["name"] == NAME and data["profile"]["contact"] == CONTACT
    assert [p["id"] for p in data["posts"]] == [post]
    assert post in data["records_authored"]
    assert data["sessions"]["count"] == 1


def test_visitors_are_sent_to_log_in(browser):
    for url in ("/account/data", "/account/data.json", "/account/erase"):
        response = browser.client.get(url)
        assert response.status_code == 302, url
        assert "/login?next=" in response.headers["Location"]


# --- staff, for a member at the desk ------------------------------------------------------


def test_staff_open_a_members_data_and_download_it(box, zeb, staff_client):
    zeb_id = member_id(NAME)
    page = staff_client.get(f"/staff/members/{zeb_id}/data")
    assert NAME in page.text() and CONTACT in page.text()
    assert f"/staff/members/{zeb_id}/data.json" in page.links()
    data = staff_client.client.get(f"/staff/members/{zeb_id}/data.json").get_json()
    assert data["profile"]["id"] == zeb_id and data["profile"]["contact"] == CONTACT


def test_members_cannot_open_someone_elses_data(box, zeb, bob):
    zeb_id = member_id(NAME)
    for url in (f"/staff/members/{zeb_id}/data", f"/staff/members/{zeb_id}/data.json"):
        response = bob.client.get(url)
        assert response.status_code == 403, url
        assert CONTACT not in response.get_data(as_text=True)


def test_an_unknown_member_is_not_found(staff_client):
    assert staff_client.client.get(f"/staff/members/{'0' * 64}/data").status_code == 404


# --- erasing one's own account --------------------------------------------------------------


def test_the_erase_page_says_what_goes_and_what_stays(box, zeb, bob):
    post = new_post(zeb, title="Loan of a ladder")
    bob.submit(bob.get(f"/posts/{post}"), f"/posts/{post}/comment", {"text": "Still free?"})
    page = zeb.get("/account/erase")
    text = page.text()
    assert "What goes" in text and "What stays" in text
    assert "1 post (other people wrote 1 comment on them)" in text
    assert page.field("password").attrs["type"] == "password"
    modes = {n.attrs["value"] for n in page.controls("mode")}
    assert modes == {"keep", "remove"}


def test_a_wrong_password_erases_nothing(box, zeb):
    before = records(box)
    response = erase_as_member(zeb, password="not my password")
    assert response.status_code == 400
    page = Page(response)
    assert page.error_for("password") == "That is not your password. Nothing was erased."
    assert records(box) == before
    assert zeb.client.get("/me").status_code == 200
    assert not Member.get(Member.name == NAME).erased


def test_a_bad_mode_is_refused_beside_the_choice(box, zeb):
    before = records(box)
    response = erase_as_member(zeb, mode="everything")
    assert response.status_code == 400
    assert "Please choose" in Page(response).error_for("mode")
    assert records(box) == before
    assert MemberPrivate.get_or_none(MemberPrivate.member == member_id(NAME)) is not None


def test_erasing_ends_the_session_and_says_goodbye(box, zeb):
    zeb_id = member_id(NAME)
    response = erase_as_member(zeb)
    assert response.status_code == 302
    page = zeb.follow(response)
    assert page.url == "/account/goodbye"
    assert "Your account is erased" in page.one("h1").text()
    assert zeb.client.get("/me").status_code == 302  # logged out
    assert Member.get_by_id(zeb_id).erased
    for model in (Account, LoginSession, MemberPrivate):
        assert model.get_or_none(model.member == zeb_id) is None
    assert zeb.login(NAME).status_code == 400  # the account is gone


def test_the_last_admin_gets_no_erase_form(admin_client):
    page = admin_client.get("/account/erase")
    assert "last admin" in page.one(role="alert").text()
    assert not page.one("main").find_all("form", method="post")
    assert not Member.get(Member.name == ADMIN).erased


# --- staff erasing for a member who asks -------------------------------------------------


def test_staff_must_tick_the_box(box, zeb, staff_client):
    zeb_id = member_id(NAME)
    before = records(box)
    page = staff_client.get(f"/staff/members/{zeb_id}/data")
    response = staff_client.submit(page, f"/staff/members/{zeb_id}/erase", {"mode": "keep"})
    assert response.status_code == 400
    assert "Tick the box" in Page(response).error_for("confirm")
    assert records(box) == before and not Member.get_by_id(zeb_id).erased


def test_staff_erase_an_account_for_a_member_who_asks(box, zeb, staff_client):
    zeb_id = member_id(NAME)
    page = staff_client.get(f"/staff/members/{zeb_id}/data")
    response = staff_client.submit(
        page, f"/staff/members/{zeb_id}/erase", {"mode": "keep", "confirm": "yes"}
    )
    page = staff_client.follow(response)
    assert "The account is erased" in flash_of(page)
    assert Member.get_by_id(zeb_id).erased
    assert zeb.client.get("/me").status_code == 302  # their sessions went too
    again = staff_client.get(f"/staff/members/{zeb_id}/data")
    assert "already erased" in again.text() and not again.one("main").find_all(
        "form", method="post"
    )


def test_a_member_cannot_erase_someone_else(box, zeb, bob):
    zeb_id = member_id(NAME)
    before = records(box)
    token = bob.token("/me")
    response = bob.client.post(
        f"/staff/members/{zeb_id}/erase",
        data={"csrf_token": token, "mode": "keep", "confirm": "yes"},
    )
    assert response.status_code == 403
    assert records(box) == before and not Member.get_by_id(zeb_id).erased


# --- after erasure, the name and contact are nowhere ------------------------------------------


@dataclass
class World:
    zeb_id: str
    post: str
    bobs_post: str
    need: str
    org: str
    shift: str


@pytest.fixture
def world(box, zeb, bob) -> World:
    admin = actor(box, ADMIN)
    post = new_post(zeb, title="Loan of a ladder", details="Aluminium, 3 metres")
    bobs_post = new_post(bob, title="Bob's shelf")
    zeb.submit(zeb.get(f"/posts/{bobs_post}"), f"/posts/{bobs_post}/comment", {"text": "Yes!"})
    catalogue.add_starter_items(box, admin)
    org = orgs.create_org(box, admin, {"name": "Bank", "type": "foodbank", "place": "Hall"})
    orgs.set_org_role(box, admin, org, admin.id, "organiser")
    beans = Item.get(Item.name == "Baked beans").id
    need = food.create_need(
        box, admin, {"org": org, "title": "Tins", "needed_by": "2027-03-24"}, [(beans, "10")]
    )
    zeb_actor = actor(box, NAME)
    food.pledge(box, zeb_actor, need, beans, "2")
    shift = shifts.create_shift(box, admin, {**SHIFT, "org": org})
    shifts.join(box, zeb_actor, shift)
    return World(member_id(NAME), post, bobs_post, need, org, shift)


def every_url(app, w: World) -> list[str]:
    fillers = {
        "post_id": [w.post, w.bobs_post, w.need],
        "org_id": [w.org],
        "shift_id": [w.shift],
        "member_id": [w.zeb_id],
        "dataset": sorted(DATASETS),
    }
    charts = {
        "food_insight.chart_svg": [f"/food/trends/{c}.svg" for c in food_charts.chart_names()],
        "travel_insight.chart_svg": [
            f"/travel/insight/{c}.svg" for c in travel_insight.chart_names()
        ],
    }
    urls = ["/kiosk/state?since=0", "/?status=all", "/api/v1/posts?status=all"]
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        if rule.endpoint in charts:
            urls += charts[rule.endpoint]
            continue
        names = sorted(rule.arguments)
        if any(n not in fillers for n in names):
            continue  # feeds with tokens, proposals, rides: none are this member's
        for values in itertools.product(*(fillers[n] for n in names)):
            urls.append(rule.build(dict(zip(names, values, strict=True)))[1])
    return urls


def leaks(app, w: World, browsers: dict[str, Browser], secrets: tuple[str, ...]) -> list:
    found = []
    for who, b in browsers.items():
        for url in every_url(app, w):
            response = b.client.get(url)
            assert response.status_code < 500, (who, url, response.status_code)
            text = html.unescape(response.get_data(as_text=True))
            found += [(who, url, s) for s in secrets if s in text]
    return found


def log_lines_holding(box, secrets: tuple[str, ...]) -> list[str]:
    return [
        line.decode()[:200] for line in box.log.export() if any(s.encode() in line for s in secrets)
    ]


@pytest.mark.parametrize("mode", ["keep", "remove"])
def test_after_erasure_no_page_no_export_and_no_record_holds_the_name_or_contact(
    app, box, world, zeb, bob, admin_client, browser, mode
):
    browsers = {"visitor": browser, "member": bob, "staff": admin_client}
    secrets = (NAME, CONTACT, "Zebedee", "Quixwold")
    # Before: the name is on pages (so the search below would find it) and in the log.
    assert leaks(app, world, {"staff": admin_client}, (NAME,))
    assert log_lines_holding(box, (NAME,))

    response = erase_as_member(zeb, mode=mode)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]

    assert leaks(app, world, browsers, secrets) == []
    assert log_lines_holding(box, secrets) == []
    staff_view = admin_client.client.get(f"/staff/members/{world.zeb_id}/data.json").get_json()
    assert staff_view["profile"]["name"] == "A former member"
    assert staff_view["profile"]["contact"] is None
    kept = admin_client.client.get(f"/posts/{world.post}")
    if mode == "keep":
        assert "Loan of a ladder" in kept.get_data(as_text=True)
        assert "A former member" in kept.get_data(as_text=True)
    else:
        assert kept.status_code == 404
        assert log_lines_holding(box, ("Loan of a ladder",)) == []
    assert admin_client.client.get(f"/posts/{world.bobs_post}").status_code == 200
