"""Food bank pages through the real forms: the hub, posting needs and supplies, pledging,
claiming, closing, and the board's food filter."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from pagetools import ADMIN, START_MS, Page, actor, flash_of, member_id, post_ids, record_count

from appliance.models import Item, Post
from appliance.services import board, catalogue, food, kiosk, orgs

NEEDED_BY = "2027-03-24"  # a week after the web tests' clock (2027-03-17)


@pytest.fixture
def items(box) -> dict[str, str]:
    catalogue.add_starter_items(box, actor(box, ADMIN))
    return {i.name: i.id for i in Item.select()}


@pytest.fixture
def bank(box) -> str:
    return orgs.create_org(
        box,
        actor(box, ADMIN),
        {"name": "Millbrook Food Bank", "type": "foodbank", "place": "Church Hall"},
    )


@pytest.fixture
def shop(box) -> str:
    return orgs.create_org(
        box, actor(box, ADMIN), {"name": "Corner Shop", "type": "shop", "place": "1 High Street"}
    )


def make_organiser(box, browser, org_id: str, name: str):
    orgs.set_org_role(box, actor(box, ADMIN), org_id, member_id(name), "organiser")
    return browser


@pytest.fixture
def olive(box, new_browser, bank, shop):
    """An organiser of the food bank (the shop exists too, but is not hers)."""
    return make_organiser(box, new_browser("Olive"), bank, "Olive")


@pytest.fixture
def sid(box, new_browser, shop):
    return make_organiser(box, new_browser("Sid"), shop, "Sid")


@pytest.fixture
def need(box, olive, bank, items) -> str:
    """The bank's need: 10 tins of beans and 5 packs of pasta."""
    return food.create_need(
        box,
        actor(box, "Olive"),
        {"org": bank, "title": "Tins for the weekend", "details": "", "needed_by": NEEDED_BY},
        [(items["Baked beans"], "10"), (items["Pasta"], "5")],
    )


@pytest.fixture
def supply(box, sid, shop, items) -> str:
    return food.create_supply(
        box,
        actor(box, "Sid"),
        {"org": shop, "title": "Bread from today", "use_by": "2027-03-19"},
        [(items["Bread"], "20")],
    )


def posted_id(response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    match = re.fullmatch(r"/posts/([0-9a-f]{64})", urlsplit(response.headers["Location"]).path)
    assert match, response.headers["Location"]
    return match.group(1)


def food_rows(page: Page) -> list[list[str]]:
    table = page.one("section", id="food").one("table")
    return [[c.text() for c in tr.children if hasattr(c, "tag")] for tr in table.find_all("tr")]


def labelled(page: Page, control) -> bool:
    return page.find("label", for_=control.attrs["id"]) is not None


# --- the hub and organisation pages -------------------------------------------------------


def test_the_hub_shows_organisations_needs_and_supplies(browser, need, supply):
    page = browser.get("/food")
    assert page.one("h1").text() == "Food banks"
    assert "/food" in [a.attrs["href"] for a in page.one("header").find_all("a")]
    cards = {c.one("h3").text(): c for c in page.find_all("section", class_="org-card")}
    assert set(cards) == {"Millbrook Food Bank", "Corner Shop"}
    bank = cards["Millbrook Food Bank"].text()
    assert "Tins for the weekend" in bank
    assert "15 of 15 still needed: Baked beans 10 items, Pasta 5 packs" in bank
    assert "No open needs." in cards["Corner Shop"].text()
    assert "Bread from today" in page.text() and "20 of 20 left" in page.text()
    links = page.links()
    for path in ("/food/balance", "/food/trends", "/food/shifts", "/food/appeal", "/food/export"):
        assert path in links
    assert "/?food=needs" in links
    # A visitor is not offered the forms.
    assert "/food/needs/new" not in links


def test_an_organiser_gets_the_posting_links(olive, bank):
    assert "/food/needs/new" in olive.get("/food").links()
    page = olive.get(f"/food/orgs/{bank}")
    assert page.one("h1").text() == "Millbrook Food Bank"
    assert f"/food/needs/new?org={bank}" in page.links()


def test_an_org_page_lists_its_open_needs(browser, need, bank):
    page = browser.get(f"/food/orgs/{bank}")
    assert f"/posts/{need}" in page.links()
    assert "You organise" not in page.text()
    browser.get("/food/orgs/" + "0" * 64, status=404)


# --- posting a need or a supply ------------------------------------------------------------


def test_the_need_form_offers_only_my_organisations_and_the_catalogue(olive, items):
    page = olive.get("/food/needs/new")
    orgs_offered = [o.text() for o in page.field("org").find_all("option")]
    assert orgs_offered == ["Millbrook Food Bank"]
    rows = page.find_all("div", class_="item-row")
    assert len(rows) == 6
    select = page.field("item-0")
    groups = [g.attrs["label"] for g in select.find_all("optgroup")]
    assert groups[:3] == ["Tins and jars", "Dry food (pasta, rice, cereal)", "Fresh food"]
    assert "Rice (kg)" in [o.text() for o in select.find_all("option")]
    main = page.one("main")
    for control in main.find_all("input") + main.find_all("select") + main.find_all("textarea"):
        if control.attrs.get("type") != "hidden":
            assert labelled(page, control), control
    assert page.one("h1").text() == "Post a need for your organisation"


def test_visitors_are_sent_to_log_in_and_members_told_why(box, browser, alice, bank):
    response = browser.client.get("/food/needs/new")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"
    page = alice.get("/food/supplies/new", status=403)
    assert "Only organisers" in page.text()
    before = record_count(box)
    response = alice.post("/food/needs/new", {"org": bank, "title": "Tins"})
    assert response.status_code == 403
    assert record_count(box) == before


def test_posting_for_someone_elses_organisation_is_refused(box, sid, bank, items):
    page = sid.get("/food/needs/new")
    before = record_count(box)
    response = sid.submit(
        page,
        data={"org": bank, "title": "Tins", "item-0": items["Rice"], "qty-0": "2"},
        containing="Post the need",
    )
    assert response.status_code == 403
    page = Page(response)
    assert (
        page.one(class_="problem").text() == "Only an organiser of Millbrook Food Bank can do that."
    )
    assert page.field("title").value() == "Tins"
    assert record_count(box) == before


def test_an_organiser_posts_a_need(box, olive, bank, items):
    page = olive.get("/food/needs/new")
    response = olive.submit(
        page,
        data={
            "title": "Tins for the weekend",
            "details": "Leave them at the side door.",
            "needed_by": NEEDED_BY,
            "item-0": items["Baked beans"],
            "qty-0": "30",
            "item-2": items["Toothpaste"],
            "qty-2": "12",
        },
        containing="Post the need",
    )
    post_id = posted_id(response)
    post = Post.get_by_id(post_id)
    assert (post.org, post.place, post.category, post.needed_by) == (
        bank,
        "Church Hall",
        "food",
        NEEDED_BY,
    )
    page = olive.follow(response)
    assert "Your need is on the board" in flash_of(page)
    assert food_rows(page)[1:] == [
        ["Baked beans (items)", "30", "0", "30"],
        ["Toothpaste (items)", "12", "0", "12"],
    ]
    assert "42 of 42 still needed" in page.one("section", id="food").text()


def test_a_volunteer_task_is_posted_without_items(box, olive, bank):
    page = olive.get("/food/needs/new")
    response = olive.submit(
        page,
        data={"title": "Sorting on Saturday", "task": "1", "needed_by": NEEDED_BY},
        containing="Post the need",
    )
    page = olive.follow(response)
    assert "call for volunteers" in page.one("section", id="food").text()
    assert page.find("table") is None


def test_form_errors_sit_next_to_their_fields(box, olive, items):
    before = record_count(box)
    page = olive.get("/food/needs/new")
    response = olive.submit(
        page,
        data={"title": "", "needed_by": "2020-01-01", "item-0": items["Rice"], "qty-0": "-3"},
        containing="Post the need",
    )
    assert response.status_code == 400
    page = Page(response)
    assert page.error_for("title") == "Please say in a few words what this is about."
    assert page.error_for("needed_by") == "That date has already passed."
    assert page.error_for("item-0") == "The quantity must be at least 1."
    assert "e-title" in page.field("title").attrs["aria-describedby"].split()
    assert "e-lines" in page.field("qty-0").attrs["aria-describedby"].split()
    # What was typed is kept.
    assert page.field("item-0").value() == items["Rice"]
    assert page.field("qty-0").value() == "-3"
    assert record_count(box) == before


def test_a_need_without_a_date_is_refused_beside_the_field(box, olive, items):
    page = olive.get("/food/needs/new")
    label = page.find("label", for_="f-needed_by").text()
    assert "(optional)" not in label and "required" in page.field("needed_by").attrs
    before = record_count(box)
    response = olive.submit(
        page,
        data={"title": "Tins", "item-0": items["Rice"], "qty-0": "3"},
        containing="Post the need",
    )
    assert response.status_code == 400
    page = Page(response)
    assert page.error_for("needed_by") == "Please give the date you need it by."
    assert "e-needed_by" in page.field("needed_by").attrs["aria-describedby"].split()
    assert page.field("title").value() == "Tins"
    assert record_count(box) == before


def test_a_title_too_long_once_stored_is_said_beside_the_field(box, olive, items):
    """U+0958 is stored as two code points: 100 of them fit the box, not the record."""
    page = olive.get("/food/needs/new")
    before = record_count(box)
    response = olive.submit(
        page,
        data={
            "title": "\u0958" * 100,
            "needed_by": NEEDED_BY,
            "item-0": items["Rice"],
            "qty-0": "3",
        },
        containing="Post the need",
    )
    assert response.status_code == 400
    assert Page(response).error_for("title") == "Please keep the title under 120 characters."
    assert record_count(box) == before


def test_more_item_rows_keep_what_was_typed(box, olive, items):
    before = record_count(box)
    page = olive.get("/food/needs/new")
    response = olive.submit(
        page,
        data={"title": "Big list", "item-0": items["Rice"], "qty-0": "4"},
        button="more",
        containing="Post the need",
    )
    assert response.status_code == 200
    page = Page(response)
    assert len(page.find_all("div", class_="item-row")) == 12
    assert (page.field("title").value(), page.field("item-0").value()) == (
        "Big list",
        items["Rice"],
    )
    assert page.find(class_="error") is None
    assert record_count(box) == before
    assert len(olive.get("/food/needs/new?rows=30").find_all("div", class_="item-row")) == 30


def test_a_shop_offers_a_supply(box, sid, shop, items):
    page = sid.get(f"/food/supplies/new?org={shop}")
    assert page.field("org").value() == shop
    assert not page.controls("task") and not page.controls("needed_by")
    response = sid.submit(
        page,
        data={"title": "Bread", "use_by": "2027-03-16", "item-0": items["Bread"], "qty-0": "9"},
        containing="Offer it",
    )
    assert response.status_code == 400
    assert Page(response).error_for("use_by") == "That date has already passed."
    page = Page(response)
    response = sid.submit(page, data={"use_by": "2027-03-18"}, containing="Offer it")
    post = Post.get_by_id(posted_id(response))
    assert (post.type, post.org, post.use_by) == ("offer", shop, "2027-03-18")


# --- pledging and claiming -----------------------------------------------------------------


def test_a_member_pledges_and_the_need_shows_what_is_missing(
    box, need, alice, bob, browser, olive, items
):
    page = alice.get(f"/posts/{need}")
    form = page.form(f"/food/posts/{need}/pledge", containing="Pledge")
    options = [o.text() for o in form.one("select", name="item").find_all("option")]
    assert options == ["Baked beans: 10 items still needed", "Pasta: 5 packs still needed"]
    response = alice.submit(
        page,
        data={"item": items["Baked beans"], "qty": "4", "bring_on": "2027-03-20"},
        containing="Pledge",
    )
    page = alice.follow(response)
    assert flash_of(page) == "Thank you! Your pledge is on the need."
    assert food_rows(page)[1] == ["Baked beans (items)", "10", "4", "6"]
    pledges = page.one("ul", class_="pledges").text()
    assert pledges.startswith("Alice: 4 items Baked beans, bringing them on Sat 20 Mar")
    # The organiser sees who; another member sees "a neighbour".
    assert "Alice: 4 items" in olive.get(f"/posts/{need}").one("ul", class_="pledges").text()
    for other in (bob, browser):  # another member, a visitor
        pledges = other.get(f"/posts/{need}").one("ul", class_="pledges").text()
        assert pledges.startswith("A neighbour: 4 items Baked beans")
    # The board's card says how much is still needed.
    cards = {c.one("h2").text(): c.text() for c in alice.get("/").find_all("li", class_="card")}
    assert "11 of 15 still needed" in cards["Tins for the weekend"]


def test_a_pledge_beyond_what_is_missing_shows_the_number(box, need, alice, bob, items):
    food.pledge(box, actor(box, "Alice"), need, items["Baked beans"], "7")
    before = record_count(box)
    page = bob.get(f"/posts/{need}")
    response = bob.submit(
        page, data={"item": items["Baked beans"], "qty": "5"}, containing="Pledge"
    )
    assert response.status_code == 400
    page = Page(response)
    message = "Only 3 items of Baked beans are still needed: please pledge 3 or fewer."
    assert page.error_for("qty") == message
    assert "e-qty" in page.field("qty").attrs["aria-describedby"].split()
    assert page.field("qty").value() == "5"
    response = bob.submit(page, data={"qty": "0", "bring_on": "2027-04-01"}, containing="Pledge")
    page = Page(response)
    assert page.error_for("qty") == "The quantity must be at least 1."
    assert page.error_for("bring_on") == "That is after the date the need is for."
    assert record_count(box) == before


def test_a_retired_organisations_need_says_so_and_takes_no_pledge(
    box, need, bank, alice, browser, items
):
    page = alice.get(f"/posts/{need}")  # the pledge form, while the bank is active
    data = {"name": "Millbrook Food Bank", "type": "foodbank", "place": "Church Hall"}
    orgs.change_org(box, actor(box, ADMIN), bank, data, active=False)
    message = "Millbrook Food Bank is no longer active here, so its needs take no new pledges."
    for who in (alice, browser):
        section = who.get(f"/posts/{need}").one("section", id="food")
        assert section.one(class_="problem").text() == message
        assert section.find("form") is None and "Log in" not in section.text()
    before = record_count(box)
    response = alice.submit(page, data={"item": items["Pasta"], "qty": "2"}, containing="Pledge")
    assert response.status_code == 409
    assert message in Page(response).one("div", class_="problem").text()
    assert record_count(box) == before
    assert "Tins for the weekend" not in browser.get("/food").text()


def test_visitors_see_no_pledge_form_and_cannot_pledge(box, browser, need, items):
    page = browser.get(f"/posts/{need}")
    section = page.one("section", id="food")
    assert section.find("form") is None
    assert "/login?next=/posts/" + need in [a.attrs["href"] for a in section.find_all("a")]
    before = record_count(box)
    response = browser.post(f"/food/posts/{need}/pledge", {"item": items["Pasta"], "qty": "1"})
    assert response.status_code == 401
    assert record_count(box) == before


def test_covering_a_need_closes_it_and_withdrawing_reopens(box, need, alice, bob, items):
    food.pledge(box, actor(box, "Alice"), need, items["Pasta"], "5")
    page = bob.get(f"/posts/{need}")
    bob.submit(page, data={"item": items["Baked beans"], "qty": "10"}, containing="Pledge")
    page = bob.get(f"/posts/{need}")
    assert page.one("article").one("span", class_="status").text() == "Resolved"
    assert "Covered by pledges: this need is closed." in page.one("section", id="food").text()
    assert page.find("form", action=f"/food/posts/{need}/pledge") is None
    # Pledging to the closed need anyway is refused on the post's page.
    response = alice.post(f"/food/posts/{need}/pledge", {"item": items["Pasta"], "qty": "1"})
    assert response.status_code == 409
    assert "pledged already" in Page(response).one(class_="problem").text()
    # Bob withdraws; Alice may not withdraw Bob's pledge.
    pledge_form = page.form(containing="Withdraw my pledge")
    response = alice.post(pledge_form.attrs["action"], {})
    assert response.status_code == 403
    response = bob.submit(page, form=pledge_form)
    page = bob.follow(response)
    assert flash_of(page) == "Your pledge is withdrawn."
    assert page.one("article").one("span", class_="status").text() == "Open"
    assert food_rows(page)[1] == ["Baked beans (items)", "10", "0", "10"]


def test_an_organiser_claims_from_a_supply(box, supply, olive, sid, alice, bank, items):
    assert alice.get(f"/posts/{supply}").find("form", action=f"/food/posts/{supply}/claim") is None
    assert sid.get(f"/posts/{supply}").find("form", action=f"/food/posts/{supply}/claim") is None
    page = olive.get(f"/posts/{supply}")
    response = olive.submit(page, data={"qty": "25"}, containing="Claim")
    assert response.status_code == 400
    assert Page(response).error_for("qty") == (
        "Only 20 items of Bread are left: please claim 20 or fewer."
    )
    response = olive.submit(page, data={"qty": "20"}, containing="Claim")
    page = olive.follow(response)
    assert "Everything has been claimed" in page.one("section", id="food").text()
    assert "Millbrook Food Bank (Olive): 20 items Bread" in page.one("ul", class_="pledges").text()
    response = olive.submit(page, containing="Withdraw this claim")
    assert olive.follow(response).one("article").one("span", class_="status").text() == "Open"


# --- closing and the board -----------------------------------------------------------------


def test_only_organisers_and_staff_close_a_food_need(box, need, olive, alice, staff_client):
    page = alice.get(f"/posts/{need}")
    assert page.find("form", action=f"/posts/{need}/resolve") is None
    before = record_count(box)
    response = alice.post(f"/posts/{need}/resolve", {"note": ""})
    assert response.status_code == 403
    assert "Only an organiser of Millbrook Food Bank" in Page(response).text()
    assert record_count(box) == before
    page = olive.get(f"/posts/{need}")
    response = olive.submit(page, data={"note": "Enough"}, containing="Mark as resolved")
    assert olive.follow(response).one("article").one("span", class_="status").text() == "Resolved"
    page = staff_client.get(f"/posts/{need}")
    response = staff_client.submit(page, containing="Reopen")
    assert Post.get_by_id(need).status == "open"


def test_the_board_filters_food_needs_and_supplies(box, browser, need, supply, alice):
    board.create_post(
        box,
        actor(box, "Alice"),
        {"type": "need", "title": "Lift", "details": "", "category": "travel", "place": "Here"},
    )
    assert post_ids(browser.get("/?food=needs")) == [need]
    assert post_ids(browser.get("/?food=supplies")) == [supply]
    page = browser.get("/?food=supplies")
    assert page.one("select", name="food").value() == "supplies"
    page = browser.get("/?food=biscuits", status=400)
    assert page.error_for("food") == "Food posts must be needs or supplies."
    assert len(post_ids(page)) == 3  # the bad filter is left out
    cards = {c.one("h2").text(): c.text() for c in browser.get("/").find_all("li", class_="card")}
    assert "20 of 20 left" in cards["Bread from today"]
    assert "Millbrook Food Bank" in cards["Tins for the weekend"]
    api = browser.client.get("/api/v1/posts?food=needs").get_json()
    assert [(p["id"], p["org"]["name"], p["quantities"]["missing"]) for p in api["posts"]] == [
        (need, "Millbrook Food Bank", 15)
    ]
    assert browser.client.get("/api/v1/posts?food=x").status_code == 400
    detail = browser.client.get(f"/api/v1/posts/{need}").get_json()
    assert [line["name"] for line in detail["food"]["lines"]] == ["Baked beans", "Pasta"]


# --- a need whose organisation has not reached this box ------------------------------------


@pytest.fixture
def orphan(box, monkeypatch, need, supply, items) -> str:
    """Another centre's need for an organisation whose record never arrived here."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "appliance"))
    from recordmaker import Origin, post_body

    monkeypatch.setattr(kiosk, "lan_ip", lambda: "192.168.1.20")
    east = Origin("east-centre", start_ms=START_MS)
    box.log.append("trust.granted", {"origin": east.origin, "name": "East Centre"})
    body = post_body("need", "Beans, please", org="d" * 64, items={items["Baked beans"]: 12})
    made = east.make("post.created", {**body, "needed_by": NEEDED_BY}, author="e" * 64)
    assert box.log.ingest([made.line]).ok
    return made.id


def test_every_food_page_answers_with_a_need_of_an_unknown_organisation(
    browser, alice, orphan, bank
):
    page = browser.get("/food")
    card = next(c for c in page.find_all("section", class_="org-card") if "Beans" in c.text())
    assert card.one("h3").text() == "An organisation"
    assert "/food/orgs/" + "d" * 64 not in page.links()
    post = alice.get(f"/posts/{orphan}")
    assert "details have not reached this centre yet" in post.one("section", id="food").text()
    assert post.form(f"/food/posts/{orphan}/pledge", containing="Pledge")
    for url in (
        f"/food/orgs/{bank}",
        "/?food=needs",
        "/food/shifts",
        "/food/balance",
        "/food/trends",
        "/food/trends/demand.svg",
        "/food/appeal",
        "/food/appeal/poster",
        "/food/export",
        "/food/export/needs.csv",
        "/food/export/needs.json",
        "/food/export/pledges.csv",
        "/kiosk",
        "/kiosk/state",
        f"/api/v1/posts/{orphan}",
    ):
        assert browser.client.get(url).status_code == 200, url
