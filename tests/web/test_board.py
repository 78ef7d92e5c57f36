"""The board page, a post's page and every action on a post, through the real forms."""

from __future__ import annotations

import datetime

import pytest
from pagetools import (
    ADMIN,
    DAY_MS,
    PASSWORD,
    POST_DEFAULTS,
    START,
    START_MS,
    Browser,
    Page,
    actor,
    flash_of,
    make_box,
    member_id,
    new_post,
    post_ids,
    record_count,
)
from werkzeug.test import TestResponse

from appliance.services import accounts, board
from web import create_app

UNKNOWN_POST = "0" * 64


def ms(moment: datetime.datetime) -> int:
    return int(moment.timestamp() * 1000)


def seed_post(box, author: str, **fields) -> str:
    data = {
        "type": "need",
        "title": "A post",
        "place": "Somewhere",
        "category": "other",
        "details": "",
        "needed_by": "",
        **fields,
    }
    return board.create_post(box, actor(box, author), data)


def status_of(page: Page) -> str:
    return page.one("article").one("span", class_="status").text()


def problem_of(page: Page) -> str:
    return page.one(role="alert").text()


def assert_refused(response: TestResponse, status: int, problem: str) -> Page:
    """Assert the response is a refusal: this status, and this problem in the alert."""
    assert response.status_code == status
    page = Page(response)
    assert problem_of(page) == problem
    return page


# --- the list and its filters -----------------------------------------------------------


@pytest.fixture
def spread(box, clock):
    """Four posts over five weeks, in every status; the clock ends at START (Wednesday)."""
    clock.ms = ms(START - datetime.timedelta(days=35))  # Wed 10 Feb
    accounts.sign_up(box, "Alice", PASSWORD)
    accounts.sign_up(box, "Bob", PASSWORD)
    a = seed_post(
        box,
        "Alice",
        type="need",
        title="Lift to the hospital",
        place="Mill Lane",
        category="travel",
        details="Outpatients at ten.",
    )
    clock.ms = ms(START - datetime.timedelta(days=15))  # Tue 2 Mar
    b = seed_post(
        box,
        "Bob",
        type="offer",
        title="Spare sofa bed",
        place="Church Hall",
        category="household",
    )
    board.offer_help(box, actor(box, "Alice"), b, "on_it")
    board.resolve(box, actor(box, "Bob"), b, "Collected")
    clock.ms = ms(START - datetime.timedelta(days=2, hours=3))  # Mon 15 Mar, 09:00
    c = seed_post(
        box,
        "Alice",
        type="should",
        title="Pothole outside the school",
        place="mill lane",
        category="local-fix",
    )
    board.offer_help(box, actor(box, "Bob"), c, "on_it")
    clock.ms = START_MS
    d = seed_post(
        box,
        "Bob",
        type="need",
        title="Tins for the food bank",
        place="Station Road",
        category="food",
    )
    return {"A": a, "B": b, "C": c, "D": d}


def test_board_lists_open_posts_first_then_on_it_then_resolved(browser, spread):
    page = browser.get("/")
    ids = post_ids(page)
    assert ids == [spread[k] for k in ("D", "A", "C", "B")]
    statuses = [card.one("span", class_="status").text() for card in page.find_all(class_="card")]
    assert statuses == ["Open", "Open", "Someone's on it", "Resolved"]
    assert page.one("p", class_="count").text() == "4 posts"


@pytest.mark.parametrize(
    "query, expected",
    [
        ("type=offer", ["B"]),
        ("type=need", ["D", "A"]),
        ("category=food", ["D"]),
        ("category=local-fix", ["C"]),
        ("place=MILL+LANE", ["A", "C"]),
        ("status=open", ["D", "A"]),
        ("status=on_it", ["C"]),
        ("status=resolved", ["B"]),
        ("when=today", ["D"]),
        ("when=week", ["D", "C"]),
        ("when=month", ["D", "C", "B"]),
        ("from=2027-03-01&to=2027-03-14", ["B"]),
        ("from=2027-03-15", ["D", "C"]),
        ("to=2027-02-28", ["A"]),
        ("q=hospital", ["A"]),
        ("q=hosp", ["A"]),
        ("q=pothole+school", ["C"]),
        ("q=church", ["B"]),
        ("q=outpatients", ["A"]),
        ("q=nothing-like-this", []),
        ("type=need&place=Mill+Lane", ["A"]),
        ("type=need&status=open&when=week", ["D"]),
    ],
)
def test_every_filter_works_from_the_url(browser, spread, query, expected):
    page = browser.get(f"/?{query}")
    assert post_ids(page) == [spread[k] for k in expected]
    assert page.one("p", class_="count").text().startswith(f"{len(expected)} post")
    # Filtered URLs are shareable: the API answers the same query the same way.
    api = browser.client.get(f"/api/v1/posts?{query}").get_json()
    assert [p["id"] for p in api["posts"]] == [spread[k] for k in expected]


def test_the_filter_form_shows_the_filters_of_the_url(browser, spread):
    page = browser.get(
        "/?q=food&type=need&category=food&place=Station+Road&status=open&when=month"
        "&from=2027-03-01&to=2027-03-31"
    )
    form = page.one("form", role="search")
    assert form.one("input", name="q").value() == "food"
    assert form.one("select", name="type").value() == "need"
    assert form.one("select", name="category").value() == "food"
    assert form.one("input", name="place").value() == "Station Road"
    assert form.one("select", name="status").value() == "open"
    assert form.one("select", name="when").value() == "month"
    assert form.one("input", name="from").value() == "2027-03-01"
    assert form.one("input", name="to").value() == "2027-03-31"
    assert form.one("a", href="/").text() == "Clear filters"
    assert post_ids(page) == [spread["D"]]


def test_pagination_links_keep_the_filters(tmp_path, clock):
    small = make_box(tmp_path / "small", clock, {"page_size": 2})
    accounts.sign_up(small, "Alice", PASSWORD)
    needs = []
    for n in range(5):
        clock.advance(60_000)
        needs.append(seed_post(small, "Alice", title=f"Need number {n}", type="need"))
        seed_post(small, "Alice", title=f"Offer number {n}", type="offer")
    browser = Browser(create_app(small, {"TESTING": True}).test_client())

    seen = []
    page = browser.get("/?type=need&place=Somewhere")
    assert page.one("p", class_="count").text() == "5 posts · page 1 of 3"
    assert page.find("a", rel="prev") is None
    for number in (2, 3):
        seen += post_ids(page)
        next_link = page.one("a", rel="next").attrs["href"]
        assert next_link == f"/?type=need&place=Somewhere&page={number}"
        page = browser.get(next_link)
        assert f"page {number} of 3" in page.one("nav", class_="pages").text()
    seen += post_ids(page)
    assert page.find("a", rel="next") is None
    assert page.one("a", rel="prev").attrs["href"] == "/?type=need&place=Somewhere&page=2"
    assert seen == list(reversed(needs)), "newest first, each need once, no offers"
    # Page 2's link back to page 1 is the plain filtered URL.
    page2 = browser.get("/?type=need&place=Somewhere&page=2")
    assert page2.one("a", rel="prev").attrs["href"] == "/?type=need&place=Somewhere"


@pytest.mark.parametrize(
    "query, message",
    [
        ("status=bogus", "Status must be open, on_it, resolved or stale."),
        ("type=wish", "Unknown kind of post."),
        ("when=yesterday", "Time must be today, week or month."),
        ("from=2027-02-30", "Please give the date as YYYY-MM-DD."),
        ("to=next+week", "Please give the date as YYYY-MM-DD."),
        ("page=0", "Page must be a positive number."),
        ("page=two", "Page must be a positive number."),
        ("q=" + "x" * 201, "Please search with fewer words."),
    ],
)
def test_a_bad_filter_is_a_400_that_says_what_is_wrong(browser, spread, query, message):
    page = browser.get(f"/?{query}", status=400)
    form = page.one("form", role="search")
    alert = form.one(role="alert")
    assert "Some filters were not understood" in alert.text()
    # Beside its control (or, for the page number, which has none, in the alert).
    assert message in [p.text() for p in form.find_all("p", class_="error")] + [
        p.text() for p in alert.find_all("p")
    ]


def test_a_bad_filter_keeps_the_other_filters_and_shows_the_error_beside_its_field(browser, spread):
    page = browser.get("/?q=hospital&status=bogus", status=400)
    form = page.one("form", role="search")
    assert form.one("input", name="q").value() == "hospital"
    status_box = form.one("select", name="status").closest("div", class_="field")
    assert "Status must be open, on_it, resolved or stale." in status_box.text()


# --- a post's page ------------------------------------------------------------------------


@pytest.fixture
def alices_post(alice) -> str:
    return new_post(alice, title="Help carrying a wardrobe", category="household")


def test_post_page_shows_details_comments_helpers_and_the_verified_badge(
    admin_client, alice, bob, browser
):
    post_id = new_post(
        admin_client,
        title="Volunteers for the Saturday café",
        type="need",
        place="Main hall",
        category="volunteering",
        details="Two hours of washing up.\n\nAprons provided.",
        needed_by="2027-03-19",
    )
    alice.submit(
        alice.get(f"/posts/{post_id}"), data={"text": "What time?"}, containing="Post comment"
    )
    bob.submit(bob.get(f"/posts/{post_id}"), containing="I'm on it")

    page = browser.get(f"/posts/{post_id}")

    article = page.one("article")
    assert article.one("h1").text() == "Volunteers for the Saturday café"
    assert [p.text() for p in article.one("div", class_="details").find_all("p")] == [
        "Two hours of washing up.",
        "Aprons provided.",
    ]
    meta = article.find_all("p", class_="meta")[1].text()
    assert "Posted by Admin ✓ verified" in meta
    assert "Main hall" in meta and "Volunteering" in meta
    assert "needed by Fri 19 Mar" in meta
    assert status_of(page) == "Someone's on it"
    assert article.one("span", class_="badge").text() == "✓ verified"

    comments = page.one("section", id="comments").find_all("li", class_="comment")
    assert len(comments) == 1
    assert comments[0].one("div").text() == "What time?"
    assert comments[0].one("span", class_="person").text() == "Alice", "Alice is not verified"

    helpers = page.one("section", class_="helpers").find_all("li")
    assert [h.text() for h in helpers] == ["Bob: on it"]
    # A visitor is asked to log in to help, and gets no action forms.
    assert page.one("main").find_all("form", method="post") == []
    assert "to help with this." in page.one("section", class_="helpers").text()


def test_unknown_post_is_a_404_page(browser):
    page = browser.get(f"/posts/{UNKNOWN_POST}", status=404)
    assert problem_of(page) == "That post does not exist or has been removed."


def test_comment_through_the_form(alices_post, bob, box):
    before = record_count(box)
    page = bob.get(f"/posts/{alices_post}")

    response = bob.submit(page, data={"text": "Is it flat-packed?"}, containing="Post comment")

    assert response.status_code == 302
    assert response.headers["Location"] == f"/posts/{alices_post}#comments"
    page = bob.follow(response)
    assert flash_of(page) == "Your comment is posted."
    comment = page.one("li", class_="comment")
    assert comment.one("div").text() == "Is it flat-packed?"
    assert "Bob" in comment.one("p", class_="meta").text()
    assert record_count(box) == before + 1
    assert "1 comment" in bob.get("/").one("li", class_="card").text()


@pytest.mark.parametrize(
    "text, message",
    [
        ("   ", "Please write a comment first."),
        ("x" * 2001, "Please keep comments under 2000 characters."),
    ],
)
def test_a_bad_comment_is_refused_beside_the_field_and_kept(alices_post, bob, box, text, message):
    before = record_count(box)
    page = bob.get(f"/posts/{alices_post}")

    response = bob.submit(page, data={"text": text}, containing="Post comment")

    assert response.status_code == 400
    again = Page(response)
    assert again.error_for("text") == message
    assert again.field("text").value() == text
    assert again.field("text").attrs["aria-invalid"] == "true"
    assert record_count(box) == before


def test_i_can_help_then_im_on_it_then_withdraw(alices_post, bob, alice, box):
    before = record_count(box)
    page = bob.get(f"/posts/{alices_post}")
    assert page.one("section", class_="helpers").text().count("Nobody yet.") == 1

    page = bob.follow(bob.submit(page, containing="I can help"))
    assert flash_of(page) == "Thank you! The poster can see you can help."
    assert [li.text() for li in page.one("section", class_="helpers").find_all("li")] == [
        "Bob: can help"
    ]
    assert status_of(page) == "Open"
    buttons = [b.text() for b in page.one("section", class_="helpers").find_all("button")]
    assert buttons == ["I'm on it", "I can't help after all"]

    page = bob.follow(bob.submit(page, containing="I'm on it"))
    assert flash_of(page) == "Thank you! The poster can see you are on it."
    assert status_of(page) == "Someone's on it"
    assert [li.text() for li in page.one("section", class_="helpers").find_all("li")] == [
        "Bob: on it"
    ]
    assert "Someone's on it" in alice.get("/").one("li", class_="card").text()

    page = bob.follow(bob.submit(page, containing="I can't help after all"))
    assert flash_of(page) == "You are no longer listed as helping."
    assert status_of(page) == "Open"
    assert "Nobody yet." in page.one("section", class_="helpers").text()
    assert record_count(box) == before + 3


def test_the_poster_cannot_sign_up_to_help_with_their_own_post(alices_post, alice, box):
    page = alice.get(f"/posts/{alices_post}")
    assert page.one("section", class_="helpers").find("form") is None
    before = record_count(box)

    response = alice.post(
        f"/posts/{alices_post}/help", {"mode": "on_it"}, via=f"/posts/{alices_post}"
    )

    assert_refused(response, 403, "You posted this, so you cannot sign up to help with it.")
    assert record_count(box) == before


def test_saying_the_same_thing_twice_or_withdrawing_without_helping_is_a_conflict(
    alices_post, bob, box
):
    bob.submit(bob.get(f"/posts/{alices_post}"), containing="I can help")
    before = record_count(box)
    via = f"/posts/{alices_post}"

    again = bob.post(f"/posts/{alices_post}/help", {"mode": "can_help"}, via=via)
    assert_refused(again, 409, "You have already said that on this post.")

    bob.submit(bob.get(via), containing="I can't help after all")
    before = record_count(box)
    withdraw = bob.post(f"/posts/{alices_post}/withdraw", via=via)
    assert_refused(withdraw, 409, "You are not helping with this post.")
    assert record_count(box) == before


def test_a_forged_help_mode_is_refused_with_a_visible_reason(alices_post, bob, box):
    before = record_count(box)
    response = bob.post(
        f"/posts/{alices_post}/help", {"mode": "maybe"}, via=f"/posts/{alices_post}"
    )
    assert response.status_code == 400
    assert record_count(box) == before
    assert "Choose “I can help” or “I'm on it”." in Page(response).text()


def test_resolve_with_a_note_then_reopen(alices_post, alice, bob, box):
    before = record_count(box)
    page = alice.get(f"/posts/{alices_post}")

    response = alice.submit(
        page, data={"note": "My neighbour carried it up."}, containing="Mark as resolved"
    )

    page = alice.follow(response)
    assert flash_of(page) == "Marked as resolved. Don't forget to thank your helpers!"
    assert status_of(page) == "Resolved"
    resolved = page.one("section", class_="resolved")
    assert "Marked resolved by Alice." in resolved.text()
    assert "My neighbour carried it up." in resolved.text()
    assert page.find("button", class_="secondary") is not None
    assert "Resolved" in bob.get("/").one("li", class_="card").text()
    assert bob.get(f"/posts/{alices_post}").one("section", class_="helpers").find("form") is None

    page = alice.follow(alice.submit(page, containing="Reopen"))
    assert flash_of(page) == "The post is open again."
    assert status_of(page) == "Open"
    assert page.find("section", class_="resolved") is None
    assert record_count(box) == before + 2


def test_an_oversized_resolve_note_is_refused_beside_the_field_and_kept(alices_post, alice, box):
    before = record_count(box)
    note = "n" * 1001
    response = alice.submit(
        alice.get(f"/posts/{alices_post}"), data={"note": note}, containing="Mark as resolved"
    )
    assert response.status_code == 400
    page = Page(response)
    assert page.error_for("note") == "Please keep the note under 1000 characters."
    assert page.field("note").value() == note
    assert status_of(page) == "Open"
    assert record_count(box) == before


def test_a_resolved_post_refuses_help_and_a_second_resolve(alices_post, alice, bob, box):
    alice.submit(alice.get(f"/posts/{alices_post}"), containing="Mark as resolved")
    before = record_count(box)
    via = f"/posts/{alices_post}"

    help_ = bob.post(f"/posts/{alices_post}/help", {"mode": "on_it"}, via=via)
    assert_refused(help_, 409, "This has already been resolved. Thank you all the same!")

    again = alice.post(f"/posts/{alices_post}/resolve", {"note": ""}, via=via)
    assert_refused(again, 409, "This post is already resolved.")
    assert record_count(box) == before


def test_reopening_an_open_post_is_a_conflict(alices_post, alice, box):
    before = record_count(box)
    response = alice.post(f"/posts/{alices_post}/reopen", via=f"/posts/{alices_post}")
    assert_refused(response, 409, "This post is still open.")
    assert record_count(box) == before


@pytest.mark.parametrize("action", ["resolve", "reopen"])
def test_another_members_post_cannot_be_resolved_or_reopened(alices_post, alice, bob, box, action):
    if action == "reopen":
        alice.submit(alice.get(f"/posts/{alices_post}"), containing="Mark as resolved")
    page = bob.get(f"/posts/{alices_post}")
    assert page.find("section", class_="manage") is None, "no forms for what Bob cannot do"
    before = record_count(box)

    response = bob.post(f"/posts/{alices_post}/{action}", {"note": "done"}, via="/")

    assert_refused(response, 403, "Only the person who posted this, or staff, can do that.")
    assert record_count(box) == before


def test_staff_can_resolve_anyones_post(alices_post, staff_client):
    page = staff_client.get(f"/posts/{alices_post}")
    page = staff_client.follow(
        staff_client.submit(
            page, data={"note": "Sorted at the desk"}, containing="Mark as resolved"
        )
    )
    assert status_of(page) == "Resolved"
    assert "Marked resolved by Sam Staff." in page.one("section", class_="resolved").text()


def test_thank_a_helper_on_the_post_and_the_thanks_page(alices_post, alice, bob, browser, box):
    bob.submit(bob.get(f"/posts/{alices_post}"), containing="I'm on it")
    page = alice.get(f"/posts/{alices_post}")
    helper_select = page.field("helper")
    assert [(o.attrs["value"], o.text()) for o in helper_select.find_all("option")] == [
        (member_id("Bob"), "Bob")
    ]
    before = record_count(box)

    response = alice.submit(
        page, data={"message": "Thank you Bob, you star!"}, containing="Say thank you"
    )

    assert response.headers["Location"] == f"/posts/{alices_post}#thanks"
    page = alice.follow(response)
    assert flash_of(page) == "Your thanks are on the post and on the thanks list."
    thanks = page.one("section", id="thanks").one("blockquote")
    assert thanks.one("p").text() == "Thank you Bob, you star!"
    assert thanks.one("footer").text() == "Alice → Bob"
    assert record_count(box) == before + 1

    listing = browser.get("/thanks")
    cards = listing.one("ol", class_="thanks").find_all("li", class_="card")
    assert len(cards) == 1
    assert cards[0].one("blockquote").text() == "Thank you Bob, you star!"
    link = cards[0].one("a")
    assert link.attrs["href"] == f"/posts/{alices_post}"
    assert link.text() == "Help carrying a wardrobe"
    assert "Alice → Bob" in cards[0].text()


def test_thanks_page_when_empty(browser):
    page = browser.get("/thanks")
    assert "No thanks yet." in page.one("p", class_="empty").text()


def test_bad_thanks_are_refused_beside_the_field(alices_post, alice, bob, box):
    bob.submit(bob.get(f"/posts/{alices_post}"), containing="I can help")
    before = record_count(box)
    page = alice.get(f"/posts/{alices_post}")

    empty = alice.submit(page, data={"message": "  "}, containing="Say thank you")
    assert empty.status_code == 400
    assert Page(empty).error_for("message") == "Please write a few words of thanks."
    assert Page(empty).field("helper").value() == member_id("Bob")

    long = alice.submit(page, data={"message": "t" * 1001}, containing="Say thank you")
    assert long.status_code == 400
    assert Page(long).error_for("message") == "Please keep it under 1000 characters."
    assert Page(long).field("message").value() == "t" * 1001

    not_helping = alice.submit(
        page, data={"helper": member_id(ADMIN), "message": "Thanks!"}, containing="Say thank you"
    )
    assert not_helping.status_code == 400
    assert Page(not_helping).error_for("helper") == (
        "Choose someone who is helping with this post."
    )
    assert Page(not_helping).field("message").value() == "Thanks!"
    assert record_count(box) == before


def test_only_the_poster_can_thank(alices_post, bob, box):
    bob.submit(bob.get(f"/posts/{alices_post}"), containing="I can help")
    assert bob.get(f"/posts/{alices_post}").find("section", id="thanks") is None
    before = record_count(box)
    response = bob.post(
        f"/posts/{alices_post}/thank",
        {"helper": member_id("Bob"), "message": "Thanks me"},
        via="/",
    )
    assert_refused(response, 403, "Only the person who posted this can thank its helpers.")
    assert record_count(box) == before


@pytest.mark.parametrize(
    "action, data",
    [
        ("comment", {"text": "hello"}),
        ("help", {"mode": "can_help"}),
        ("withdraw", {}),
        ("resolve", {"note": ""}),
        ("reopen", {}),
        ("thank", {"helper": "x", "message": "hi"}),
        ("hide", {"reason": "spam"}),
    ],
)
def test_a_logged_out_visitor_is_asked_to_log_in_and_nothing_changes(
    alices_post, browser, box, action, data
):
    before = record_count(box)
    response = browser.post(f"/posts/{alices_post}/{action}", data, via="/signup")
    page = assert_refused(response, 401, "Please log in or sign up first.")
    assert page.one("main").find("a", href="/login") is not None
    assert record_count(box) == before


def test_actions_on_an_unknown_post_are_404(bob, box):
    before = record_count(box)
    response = bob.post(f"/posts/{UNKNOWN_POST}/comment", {"text": "hello"}, via="/")
    assert_refused(response, 404, "That post does not exist or has been removed.")
    assert record_count(box) == before


def test_text_people_type_is_escaped(alice, bob):
    post_id = new_post(alice, title="<script>alert(1)</script>", details="<b>bold</b>")
    bob.submit(
        bob.get(f"/posts/{post_id}"),
        data={"text": "<img src=x onerror=alert(1)>"},
        containing="Post comment",
    )
    for page in (bob.get(f"/posts/{post_id}"), bob.get("/")):
        assert "<script>alert(1)</script>" not in page.html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.html
        assert page.find("script") is None
        assert page.find("img") is None
        assert page.find("b") is None


# --- moderation: hidden posts and comments --------------------------------------------


def hide_post(staff: Browser, post_id: str, reason: str = "Selling, not giving"):
    page = staff.get(f"/posts/{post_id}")
    return staff.submit(page, data={"reason": reason}, containing="Hide post")


def test_a_hidden_post_is_invisible_to_members_and_visible_to_staff_with_the_reason(
    alices_post, alice, bob, browser, staff_client, box
):
    before = record_count(box)
    page = staff_client.follow(hide_post(staff_client, alices_post))
    assert flash_of(page) == "The post is hidden from everyone but staff."
    assert "Hidden: Selling, not giving" in page.one("article").text()
    assert record_count(box) == before + 1

    for viewer in (browser, bob):
        gone = viewer.get(f"/posts/{alices_post}", status=404)
        assert problem_of(gone) == "That post does not exist or has been removed."
        assert post_ids(viewer.get("/")) == []
        assert viewer.client.get(f"/api/v1/posts/{alices_post}").status_code == 404
    # Its author still reaches it, to read why and appeal, but not on the board.
    assert "Selling, not giving" in alice.get(f"/posts/{alices_post}").text()
    assert post_ids(alice.get("/")) == []

    board_page = staff_client.get("/")
    assert post_ids(board_page) == [alices_post]
    assert "Hidden" in board_page.one("li", class_="card").one(class_="hidden-flag").text()

    page = staff_client.follow(
        staff_client.submit(
            staff_client.get(f"/posts/{alices_post}"),
            data={"reason": "Checked with Alice"},
            containing="Unhide post",
        )
    )
    assert flash_of(page) == "The post is visible again."
    assert post_ids(bob.get("/")) == [alices_post]
    assert bob.get(f"/posts/{alices_post}").find(class_="hidden-flag") is None


def test_members_cannot_act_on_a_hidden_post(alices_post, bob, staff_client, box):
    bob.submit(bob.get(f"/posts/{alices_post}"), containing="I can help")
    hide_post(staff_client, alices_post)
    before = record_count(box)
    for action, data in [
        ("comment", {"text": "hello"}),
        ("help", {"mode": "on_it"}),
        ("withdraw", {}),
    ]:
        response = bob.post(f"/posts/{alices_post}/{action}", data, via="/")
        assert response.status_code == 404, action
    # Staff see the post but must unhide it before anything else happens on it.
    response = staff_client.post(f"/posts/{alices_post}/comment", {"text": "hm"}, via="/")
    assert_refused(response, 409, "That post is hidden; unhide it first.")
    assert record_count(box) == before


def test_hiding_needs_a_reason_given_beside_the_field(alices_post, staff_client, box):
    before = record_count(box)
    response = hide_post(staff_client, alices_post, reason="  ")
    assert response.status_code == 400
    assert Page(response).error_for("reason") == "Please say why, so others can see the decision."
    assert record_count(box) == before


def test_members_cannot_hide_posts(alices_post, bob, box):
    page = bob.get(f"/posts/{alices_post}")
    assert "Hide post" not in [b.text() for b in page.find_all("button")]
    before = record_count(box)
    response = bob.post(f"/posts/{alices_post}/hide", {"reason": "I don't like it"}, via="/")
    assert_refused(response, 403, "Only the centre's staff can do that.")
    assert record_count(box) == before


def test_a_hidden_comment_is_invisible_to_members_and_visible_to_staff(
    alices_post, alice, bob, browser, staff_client, box
):
    bob.submit(
        bob.get(f"/posts/{alices_post}"), data={"text": "Rude words"}, containing="Post comment"
    )
    alice.submit(
        alice.get(f"/posts/{alices_post}"), data={"text": "Thanks all"}, containing="Post comment"
    )
    page = staff_client.get(f"/posts/{alices_post}")
    rude = next(li for li in page.find_all("li", class_="comment") if "Rude words" in li.text())
    form = rude.one("form", class_="moderate")

    response = staff_client.submit(page, action=form.attrs["action"], data={"reason": "Not kind"})
    assert response.headers["Location"] == f"/posts/{alices_post}#comments"

    for viewer in (browser, bob, alice):
        page = viewer.get(f"/posts/{alices_post}")
        texts = [li.one("div").text() for li in page.find_all("li", class_="comment")]
        assert texts == ["Thanks all"]
        assert "Rude words" not in page.html
        assert "1 comment" in viewer.get("/").one("li", class_="card").text()
        api = viewer.client.get(f"/api/v1/posts/{alices_post}").get_json()
        assert [c["text"] for c in api["comments"]] == ["Thanks all"]

    page = staff_client.get(f"/posts/{alices_post}")
    rude = next(li for li in page.find_all("li", class_="comment") if "Rude words" in li.text())
    assert rude.one(class_="hidden-flag").text() == "Hidden: Not kind"
    assert "Show comment again" in rude.text()


def test_hiding_a_comment_without_reason_shows_the_error_at_that_comment(
    alices_post, bob, staff_client, box
):
    bob.submit(bob.get(f"/posts/{alices_post}"), data={"text": "Hm"}, containing="Post comment")
    page = staff_client.get(f"/posts/{alices_post}")
    form = page.one("li", class_="comment").one("form", class_="moderate")
    before = record_count(box)
    response = staff_client.submit(page, action=form.attrs["action"], data={"reason": ""})
    assert response.status_code == 400
    assert record_count(box) == before
    comment = Page(response).one("li", class_="comment")
    assert "Please say why, so others can see the decision." in comment.text()


# --- times in the centre's zone --------------------------------------------------------


def post_time(page: Page):
    return page.one("article").one("time")


def test_times_are_shown_in_the_centres_time_zone(tmp_path, clock):
    nz = make_box(tmp_path / "nz", clock, {"timezone": "Pacific/Auckland"})
    app = create_app(nz, {"TESTING": True})
    alice = Browser(app.test_client())
    alice.signup("Alice")
    # At 12:00 UTC on 17 March it is already 01:00 on 18 March in Auckland (NZDT, +13),
    # so 17 March has passed there.
    form = alice.get("/new/form")
    late = alice.submit(form, data={**POST_DEFAULTS, "needed_by": "2027-03-17"})
    assert late.status_code == 400
    assert Page(late).error_for("needed_by") == "That date has already passed."
    post_id = new_post(alice, needed_by="2027-03-18")

    page = alice.get(f"/posts/{post_id}")
    time = post_time(page)
    assert time.attrs["datetime"] == "2027-03-17T12:00:00+00:00"
    assert time.attrs["title"] == "18 Mar 2027, 01:00"
    card = alice.get("/").one("li", class_="card")
    assert card.one("time").attrs["title"] == "18 Mar 2027, 01:00"


def test_times_default_to_london(alice, clock):
    post_id = new_post(alice)
    time = post_time(alice.get(f"/posts/{post_id}"))
    assert time.attrs["datetime"] == "2027-03-17T12:00:00+00:00"
    assert time.attrs["title"] == "17 Mar 2027, 12:00"


def test_comment_times_use_the_centres_zone_across_a_day_boundary(tmp_path, clock):
    nz = make_box(tmp_path / "nz", clock, {"timezone": "Pacific/Auckland"})
    alice = Browser(create_app(nz, {"TESTING": True}).test_client())
    alice.signup("Alice")
    post_id = new_post(alice)
    clock.advance(DAY_MS // 2)  # 00:00 UTC on the 18th: 13:00 in Auckland
    alice.submit(alice.get(f"/posts/{post_id}"), data={"text": "Later"}, containing="Post comment")
    comment = alice.get(f"/posts/{post_id}").one("li", class_="comment")
    assert comment.one("time").attrs["title"] == "18 Mar 2027, 13:00"
