"""The kiosk's routes (the page, its polled state with ETags, the QR code) and assisted
posting: staff only, CSRF on, the visitor's contact seen by this centre's staff alone."""

from __future__ import annotations

import json
import re
import socket
from urllib.parse import urlsplit

import pytest
from pagetools import ADMIN, DAY_MS, Browser, Page, actor, flash_of, new_post, record_count

from appliance.services import board, catalogue, kiosk, moderation, orgs, setup

LAN_IP = "192.168.1.20"
KIOSK_HOST = "http://localhost:8080"  # the port the kiosk browser uses; cookies ignore it
BOARD_URL = f"http://{LAN_IP}:8080/"
NAME_URL = f"http://{socket.gethostname().split('.')[0]}.local:8080/"
CONTACT = "07700 900123 (mornings)"
ASSISTED_FORM = {
    "type": "need",
    "title": "Help carrying shopping upstairs",
    "place": "Riverside estate",
    "category": "household",
    "details": "Third floor, no lift.",
    "needed_by": "",
    "visitor_name": "Mrs Okoye",
    "visitor_contact": CONTACT,
}


@pytest.fixture(autouse=True)
def _lan(monkeypatch):
    """The box's LAN address, as the kernel would report it (no socket is opened)."""
    monkeypatch.setattr(kiosk, "lan_ip", lambda: LAN_IP)


def kiosk_get(b: Browser, url: str = "/kiosk", status: int = 200, **kw) -> Page:
    return b.get(url, status=status, base_url=KIOSK_HOST, **kw)


def state_of(page: Page):
    return page.one("main", id="k-live").one("div", class_="k-state")


# --- the page -----------------------------------------------------------------------------


def food_need(box, title: str, qty: int) -> str:
    """A food bank's need for baked beans, as an organiser of the bank posts it."""
    admin = actor(box, ADMIN)
    bank = orgs.create_org(
        box, admin, {"name": "Hilltop Food Bank", "type": "foodbank", "place": "Hill Road"}
    )
    beans = catalogue.add_item(
        box, admin, {"name": "Baked beans", "category": "tins", "unit": "items"}
    )
    body = {
        "type": "need",
        "title": title,
        "details": "",
        "category": "food",
        "place": "Hill Road",
        "needed_by": None,
        "org": bank,
        "lines": [{"item": beans, "qty": qty}],
    }
    return box.log.append("post.created", body, author=admin.id).id


def test_the_kiosk_shows_every_part_of_the_screen(browser, alice, box, clock):
    food_need(box, "Tins for the food bank", 25)
    clock.advance(1000)
    new_post(alice, title="Not a food bank's need", category="food")
    clock.advance(1000)
    new_post(alice, type="should", title="Somebody should fix the gate", category="local-fix")
    page = kiosk_get(browser)
    state = state_of(page)
    headings = [h.text() for h in state.find_all("h2")]
    assert headings == [
        "On the board now",
        "Open the board on your phone",
        "Food bank needs",
        "Somebody should…",
        "Thank you!",
    ]
    slides = state.one("ol", class_="k-rotation").find_all("li")
    assert [li.one("h3").text() for li in slides] == [
        "Somebody should fix the gate",
        "Not a food bank's need",
        "Tins for the food bank",
    ]
    assert slides[0].one("span", class_="k-why").text() == "Posted today"
    food = state.one("section", class_="k-food")
    assert food.one("p", class_="k-appeal").text() == "Most needed: 25 × Baked beans"
    assert food.one("ul").text() == (
        "Tins for the food bank Hilltop Food Bank · Still needed: 25 × Baked beans"
    )
    assert "Somebody should fix the gate" in state.one("section", class_="k-should").text()
    # No JavaScript needed to read it: everything is in the HTML; no meta refresh.
    assert page.find("meta", http_equiv="refresh") is None
    assert page.one("script").attrs["src"] == "/static/kiosk.js"


def test_the_qr_code_and_the_address_under_it(browser):
    qr = state_of(kiosk_get(browser)).one("section", class_="k-qr")
    img = qr.one("img")
    assert urlsplit(img.attrs["src"]).path == "/kiosk/qr.svg"
    assert img.attrs["alt"] == f"QR code for {BOARD_URL}"
    assert qr.one("p", class_="k-url").text() == BOARD_URL
    assert qr.one("p", class_="k-alt").text() == f"or {NAME_URL}"


def test_the_wifi_chosen_at_setup_is_shown_beside_the_code(browser, box):
    hint = state_of(kiosk_get(browser)).one("section", class_="k-qr").one("p", class_="k-hint")
    assert hint.text() == "Join the centre's wifi, then scan the code with your camera."
    poster = {"wifi": {"name": "Millbrook Guest", "password": "tea-and-toast"}}
    (box.data_dir / setup.POSTER_FILE).write_text(json.dumps(poster))
    hint = state_of(kiosk_get(browser)).one("section", class_="k-qr").one("p", class_="k-hint")
    assert hint.text() == (
        "Join the wifi Millbrook Guest (password: tea-and-toast), "
        "then scan the code with your camera."
    )


def test_the_public_url_setting_replaces_the_lan_address(browser, box):
    box.settings["public_url"] = "http://board.millbrook.example/"
    qr = state_of(kiosk_get(browser)).one("section", class_="k-qr")
    assert qr.one("p", class_="k-url").text() == "http://board.millbrook.example/"
    assert qr.find("p", class_="k-alt") is None
    svg = browser.get("/kiosk/qr.svg").response.get_data(as_text=True)
    assert "<title>QR code for http://board.millbrook.example/</title>" in svg


def test_the_kiosk_shows_the_public_board_even_to_staff(staff_client, alice, box):
    hidden = new_post(alice, title="Hidden from the hall")
    new_post(alice, title="Fine to show")
    moderation.set_post_hidden(box, actor(box, ADMIN), hidden, True, "Personal details")
    assert "Hidden from the hall" in staff_client.get("/").text()  # staff see it there
    page = kiosk_get(staff_client)
    assert "Fine to show" in page.text()
    assert "Hidden from the hall" not in page.text()
    assert "Alice" not in state_of(page).text()  # no names beside needs in a hall


def test_the_kiosk_shows_sync_freshness_per_centre(browser, box):
    from appliance.services import peers

    origin = "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg"
    peers.remember(box, origin, "Centre B")
    box.log.append("trust.granted", {"origin": origin, "name": "Centre B"})
    assert state_of(kiosk_get(browser)).one("p", class_="k-fresh").text() == (
        "Not yet synced with Centre B"
    )
    peers.note_sync(box, origin, 1, 1, None)
    fresh = state_of(kiosk_get(browser)).one("p", class_="k-fresh")
    assert fresh.text().startswith("Last synced with Centre B")
    assert fresh.one("time").attrs["datetime"].startswith("2027-03-17T12:00")


def test_the_staff_button_is_for_staff_only(browser, alice, staff_client):
    for who in (browser, alice):
        assert kiosk_get(who).find("a", href="/staff/assisted/new?back=kiosk") is None
    link = kiosk_get(staff_client).one("a", href="/staff/assisted/new?back=kiosk")
    assert link.text() == "Post for a visitor"


def test_staff_pages_lead_to_the_kiosk_and_to_posts_made_for_visitors(staff_client):
    links = staff_client.get("/staff/members").links()
    assert "/kiosk" in links and "/staff/assisted" in links


# --- the polled state -----------------------------------------------------------------------


def test_an_unchanged_board_costs_a_304(browser, alice, box):
    page = kiosk_get(browser)
    etag = page.one("main", id="k-live").attrs["data-etag"]
    first = browser.client.get("/kiosk/state", base_url=KIOSK_HOST)
    assert first.status_code == 200
    assert first.headers["ETag"] == etag
    assert first.headers["Cache-Control"] == "no-cache"
    assert Page(first).one("div", class_="k-state").text() == state_of(page).text()

    again = browser.client.get("/kiosk/state", base_url=KIOSK_HOST, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""

    new_post(alice, title="Something new")
    changed = browser.client.get(
        "/kiosk/state", base_url=KIOSK_HOST, headers={"If-None-Match": etag}
    )
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert "Something new" in Page(changed).text()


def test_the_state_changes_when_the_address_does(browser, box):
    etag = browser.client.get("/kiosk/state", base_url=KIOSK_HOST).headers["ETag"]
    box.settings["public_url"] = "http://10.0.0.9:8080/"
    moved = browser.client.get("/kiosk/state", base_url=KIOSK_HOST, headers={"If-None-Match": etag})
    assert moved.status_code == 200
    assert Page(moved).one("p", class_="k-url").text() == "http://10.0.0.9:8080/"


def test_the_qr_code_is_served_as_svg_with_an_etag(browser):
    response = browser.client.get("/kiosk/qr.svg", base_url=KIOSK_HOST)
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    svg = response.get_data(as_text=True)
    assert svg.startswith("<svg ")
    assert f"<title>QR code for {BOARD_URL}</title>" in svg
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    again = browser.client.get(
        "/kiosk/qr.svg", base_url=KIOSK_HOST, headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 304


def test_phones_get_the_port_the_kiosk_used(browser):
    page = browser.get("/kiosk", base_url="http://127.0.0.1:5000")
    assert state_of(page).one("p", class_="k-url").text() == f"http://{LAN_IP}:5000/"
    page = browser.get("/kiosk", base_url="http://localhost")
    assert state_of(page).one("p", class_="k-url").text() == f"http://{LAN_IP}/"


# --- assisted posting ------------------------------------------------------------------------


def assisted_post(b: Browser, **change) -> str:
    """Post for a visitor through the staff form at the desk; return the new post's id."""
    page = b.get("/staff/assisted/new")
    response = b.submit(page, data={**ASSISTED_FORM, **change})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    # Back to the staff list, at the new post's card.
    location = urlsplit(response.headers["Location"])
    match = re.fullmatch(r"post-([0-9a-f]{64})", location.fragment)
    assert location.path == "/staff/assisted" and match, response.headers["Location"]
    return match.group(1)


def visitor_line(b: Browser, post_id: str) -> str | None:
    """The visitor's details on a post's card in the staff list, or None."""
    card = b.get("/staff/assisted").one("li", id=f"post-{post_id}")
    node = card.find("p", class_="visitor-contact")
    return node.text() if node else None


def test_the_assisted_form_is_for_staff_only(browser, alice, staff_client, box):
    response = browser.get("/staff/assisted/new", status=302).response
    assert response.headers["Location"] == "/login?next=/staff/assisted/new"
    page = alice.get("/staff/assisted/new", status=403)
    assert page.one(role="alert").text() == "Only the centre's staff can do that."
    alice.get("/staff/assisted", status=403)

    before = record_count(box)
    response = alice.post("/staff/assisted/new", ASSISTED_FORM, via="/me")
    assert response.status_code == 403
    assert record_count(box) == before


def test_the_assisted_form_reuses_the_posting_fields(staff_client):
    page = staff_client.get("/staff/assisted/new")
    posting = staff_client.get("/new/form")
    for name in ("type", "title", "place", "category", "details", "needed_by"):
        assert page.controls(name), name
        assert posting.controls(name), name
    for name in ("visitor_name", "visitor_contact"):
        assert page.field(name)
        assert not posting.controls(name)


def test_a_forged_assisted_post_is_refused(staff_client, box):
    before = record_count(box)
    for forged in ({}, {"csrf_token": "forged"}):
        response = staff_client.client.post("/staff/assisted/new", data={**ASSISTED_FORM, **forged})
        assert response.status_code == 400
        assert "did not come from this board" in Page(response).one(role="alert").text()
    assert record_count(box) == before


def test_staff_post_for_a_visitor_and_everyone_sees_it_was_assisted(
    staff_client, alice, browser, box
):
    page = staff_client.get("/staff/assisted/new")
    response = staff_client.submit(page, data=ASSISTED_FORM)
    listing = staff_client.follow(response)
    assert flash_of(listing) == "Posted for the visitor."
    post_id = urlsplit(response.headers["Location"]).fragment.removeprefix("post-")
    assert visitor_line(staff_client, post_id) == f"Visitor: Mrs Okoye · {CONTACT}"

    # The post page may be on the hall's screen: it never names the visitor, even to staff.
    for who in (staff_client, alice, browser):
        other = who.get(f"/posts/{post_id}")
        assert other.one("p", class_="assisted").text() == (
            "Posted with help from staff at Test Centre"
        )
        assert other.find(class_="visitor-contact") is None
        assert CONTACT not in other.html and "Okoye" not in other.html
    assert "Help carrying shopping upstairs" in browser.get("/").text()


def test_staff_at_the_kiosk_go_back_to_the_kiosk_and_it_shows_no_visitor(staff_client, box):
    page = kiosk_get(staff_client, "/staff/assisted/new?back=kiosk")
    response = staff_client.submit(page, data=ASSISTED_FORM)
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/kiosk"
    kiosk_page = staff_client.follow(response)
    assert flash_of(kiosk_page) == "Posted for the visitor."
    assert "Okoye" not in kiosk_page.html and CONTACT not in kiosk_page.html
    # The details are on the staff list, for staff; the flash was shown once.
    (card,) = staff_client.get("/staff/assisted").find_all("li", class_="card")
    assert card.one("p", class_="visitor-contact").text() == f"Visitor: Mrs Okoye · {CONTACT}"
    assert flash_of(kiosk_get(staff_client)) == ""
    # Only the kiosk is a place to go back to: anything else is the staff list.
    page = staff_client.get("/staff/assisted/new?back=https://example.com/")
    response = staff_client.submit(page, data={**ASSISTED_FORM, "title": "Another one"})
    assert urlsplit(response.headers["Location"]).path == "/staff/assisted"


def test_the_contact_is_in_no_api_answer_and_no_record(staff_client, box):
    post_id = assisted_post(staff_client)
    for url in ("/api/v1/posts", f"/api/v1/posts/{post_id}", "/api/v1/thanks"):
        body = staff_client.get(url).response.get_data(as_text=True)
        assert "Okoye" not in body and "07700" not in body, url
    exported = b"\n".join(box.log.export()).decode()
    assert "Okoye" not in exported and "07700" not in exported
    [record] = [r for r in map(json.loads, box.log.export()) if r["kind"] == "post.created"]
    assert record["body"]["assisted"] is True
    assert record["author"] == actor(box, "Sam Staff").id
    kiosk_text = kiosk_get(staff_client).text()
    assert "Okoye" not in kiosk_text and "07700" not in kiosk_text


def test_assisted_form_errors_sit_beside_their_fields(staff_client, box):
    before = record_count(box)
    page = staff_client.get("/staff/assisted/new")
    response = staff_client.submit(
        page, data={**ASSISTED_FORM, "title": "", "visitor_contact": "x" * 201}
    )
    assert response.status_code == 400
    page = Page(response)
    assert page.error_for("title") == "Please say in a few words what this is about."
    assert page.error_for("visitor_contact") == (
        "Please keep contact details under 200 characters."
    )
    assert page.error_for("place") is None
    assert page.field("place").value() == ASSISTED_FORM["place"]  # what was typed is kept
    assert record_count(box) == before


def test_staff_list_posts_made_for_visitors_and_can_delete_the_details(
    staff_client, alice, box, clock
):
    post_id = assisted_post(staff_client)
    listing = staff_client.get("/staff/assisted")
    card = listing.one("ul", class_="assisted-posts").one("li")
    assert card.one("a").attrs["href"] == f"/posts/{post_id}"
    assert card.one("p", class_="visitor-contact").text() == f"Visitor: Mrs Okoye · {CONTACT}"

    # Deleting needs the page's CSRF token, and only staff may do it.
    url = f"/staff/assisted/{post_id}/forget"
    assert staff_client.client.post(url).status_code == 400
    assert alice.post(url, via="/me").status_code == 403
    assert "Okoye" in staff_client.get("/staff/assisted").html

    response = staff_client.submit(listing, action=url)
    page = staff_client.follow(response)
    assert page.url == "/staff/assisted"
    assert flash_of(page) == "The visitor's name and contact are deleted."
    assert page.find(class_="visitor-contact") is None and "Okoye" not in page.html
    assert page.one("li", id=f"post-{post_id}").one("p", class_="hint").text() == (
        "No contact details kept."
    )
    post = staff_client.get(f"/posts/{post_id}")
    assert post.one("p", class_="assisted").text() == "Posted with help from staff at Test Centre"


def test_the_details_go_a_month_after_the_post_is_resolved(staff_client, box, clock):
    post_id = assisted_post(staff_client)
    board.resolve(box, actor(box, "Sam Staff"), post_id, "A neighbour helped")
    clock.advance(29 * DAY_MS)
    assert visitor_line(staff_client, post_id) == f"Visitor: Mrs Okoye · {CONTACT}"
    clock.advance(2 * DAY_MS)
    assert staff_client.login("Sam Staff").status_code == 302  # the login lasts 30 days
    assert staff_client.get(f"/posts/{post_id}").one("p", class_="assisted")
    assert "Okoye" not in staff_client.get("/staff/assisted").html


# --- nothing from elsewhere, nothing inline -------------------------------------------------


def test_kiosk_pages_need_nothing_inline_and_nothing_from_elsewhere(staff_client, alice):
    post_id = assisted_post(staff_client)
    pages = [
        (staff_client, "/kiosk"),
        (alice, "/kiosk"),
        (alice, "/kiosk/state"),
        (staff_client, "/staff/assisted"),
        (staff_client, "/staff/assisted/new"),
        (staff_client, f"/posts/{post_id}"),
    ]
    for who, url in pages:
        page = kiosk_get(who, url)
        policy = page.response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy, url
        for node in page.doc.iter():
            assert "style" not in node.attrs, (url, node)
            assert not any(a.startswith("on") for a in node.attrs), (url, node)
            assert node.tag != "style", url
            if node.tag == "script":
                assert node.attrs["src"].startswith("/static/"), (url, node)
            for attr in ("src", "href", "action"):
                value = node.attrs.get(attr, "")
                assert not re.match(r"^\s*(?:[a-z][a-z0-9+.-]*:|//)", value, re.I), (url, node)
    for asset in ("/static/kiosk.css", "/static/kiosk.js"):
        with alice.client.get(asset) as response:
            assert response.status_code == 200
            text = response.get_data(as_text=True)
        assert not re.search(r"https?://", text), asset
        assert "@import" not in text and "url(" not in text, asset
