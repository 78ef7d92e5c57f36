"""Posting: the chat-like steps (plain forms, no JavaScript) and the one-page form."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from pagetools import ADMIN, DESKTOP, PASSWORD, PHONE, Browser, Page, actor, record_count

from appliance.services import centre


@pytest.fixture
def phone(new_browser) -> Browser:
    """Carol on a phone, signed up."""
    return new_browser("Carol", headers=PHONE)


def step_name(page: Page) -> str:
    return page.one("input", name="step").value()


def question(page: Page) -> str:
    return page.one("h1", class_="question").text()


def answer(browser: Browser, page: Page, button: str = "next", status: int = 200, **data) -> Page:
    """Answer the current question (or press Back) and return the next page."""
    response = browser.submit(page, action="/new", data=data, button=button)
    assert response.status_code == status, response.get_data(as_text=True)[:3000]
    return Page(response)


def history(page: Page) -> list[tuple[str, str]]:
    """Return the chat so far as (who, text) pairs."""
    items = page.one("ol", class_="log").find_all("li")
    return [(next(iter(li.classes)), li.text()) for li in items]


def test_the_chat_flow_posts_without_javascript(phone, box):
    before = record_count(box)
    page = phone.get("/new")
    assert page.find("div", id="chat") is not None
    assert step_name(page) == "type"
    assert question(page) == "Hello! What would you like to post?"
    assert history(page) == []
    assert page.find("button", name="back") is None, "nothing to go back to"

    page = answer(phone, page, type="need")
    assert step_name(page) == "title"
    assert question(page) == "In a few words, what is it?"
    assert history(page) == [
        ("bot", "Hello! What would you like to post?"),
        ("me", "I need something"),
    ]

    page = answer(phone, page, title="  A lift   to the hospital ")
    assert step_name(page) == "place"
    page = answer(phone, page, place="Mill Lane")
    assert step_name(page) == "category"
    labels = [label.text() for label in page.find_all("label", class_="choice")]
    assert "Travel and lifts" in labels
    page = answer(phone, page, category="travel")
    assert step_name(page) == "details"
    page = answer(
        phone, page, details="Appointment at ten.\r\nBack by one.", needed_by="2027-03-19"
    )
    assert step_name(page) == "review"
    assert question(page) == "Here is your post. Shall I put it on the board?"
    said = [text for who, text in history(page) if who == "me"]
    assert said == [
        "I need something",
        "A lift to the hospital",
        "Mill Lane",
        "Travel and lifts",
        "Appointment at ten. Back by one. Needed by Fri 19 Mar.",
    ]
    assert page.one("button", name="next").text() == "Post it"
    assert record_count(box) == before, "no step writes anything before the post is made"

    response = phone.submit(page, action="/new", button="next")

    assert response.status_code == 302
    post_page = phone.follow(response)
    assert (
        post_page.one(class_="flash").text()
        == "Your post is on the board. We'll show it to people who can help."
    )
    assert post_page.one("h1").text() == "A lift to the hospital"
    assert record_count(box) == before + 1
    post_id = post_page.url.rsplit("/", 1)[1]
    data = phone.client.get(f"/api/v1/posts/{post_id}").get_json()
    assert {k: data[k] for k in ("type", "title", "place", "needed_by", "details")} == {
        "type": "need",
        "title": "A lift to the hospital",
        "place": "Mill Lane",
        "needed_by": "2027-03-19",
        "details": "Appointment at ten.\nBack by one.",
    }
    assert data["category"]["slug"] == "travel"
    assert data["author"]["name"] == "Carol"


def test_back_goes_to_the_previous_question_and_keeps_every_answer(phone, box):
    page = answer(phone, phone.get("/new"), type="offer")
    page = answer(phone, page, title="Spare cot")
    assert step_name(page) == "place"

    page = answer(phone, page, button="back", place="Church Hall")

    assert step_name(page) == "title"
    assert page.field("title").value() == "Spare cot"
    assert page.one("input", name="place", type="hidden").value() == "Church Hall"
    page = answer(phone, page, button="back", title="Spare cot, barely used")
    assert step_name(page) == "type"
    assert page.one("input", name="type", value="offer").attrs.get("checked") is not None
    page = answer(phone, page)
    assert page.field("title").value() == "Spare cot, barely used"
    page = answer(phone, page)
    assert step_name(page) == "place"
    assert page.field("place").value() == "Church Hall", "the typed place survived going back"
    # Back on the last step returns to the details.
    page = answer(phone, page)
    page = answer(phone, page, category="household")
    page = answer(phone, page)
    assert step_name(page) == "review"
    page = answer(phone, page, button="back")
    assert step_name(page) == "details"


@pytest.mark.parametrize(
    "steps, field, value, message",
    [
        ({}, "type", None, "Please choose what kind of post this is."),
        ({"type": "need"}, "title", "   ", "Please say in a few words what this is about."),
        ({"type": "need"}, "title", "t" * 121, "Please keep the title under 120 characters."),
        (
            {"type": "need", "title": "Lift"},
            "place",
            "",
            "Please say where: a street, a building or an area.",
        ),
        (
            {"type": "need", "title": "Lift"},
            "place",
            "p" * 81,
            "Please keep the place under 80 characters.",
        ),
        (
            {"type": "need", "title": "Lift", "place": "Mill Lane"},
            "category",
            "no-such-category",
            "Please choose one of the centre's categories.",
        ),
        (
            {"type": "need", "title": "Lift", "place": "Mill Lane", "category": "travel"},
            "needed_by",
            "2027-03-16",
            "That date has already passed.",
        ),
        (
            {"type": "need", "title": "Lift", "place": "Mill Lane", "category": "travel"},
            "needed_by",
            "19/03/2027",
            "Please give the date as YYYY-MM-DD.",
        ),
        (
            {"type": "need", "title": "Lift", "place": "Mill Lane", "category": "travel"},
            "details",
            "d" * 4001,
            "Please keep the details under 4000 characters.",
        ),
    ],
)
def test_a_bad_answer_keeps_the_question_with_the_error_and_the_typed_value(
    phone, box, steps, field, value, message
):
    before = record_count(box)
    page = phone.get("/new")
    for name, given in steps.items():
        page = answer(phone, page, **{name: given})
    asked = step_name(page)

    page = answer(phone, page, status=400, **({field: value} if value is not None else {}))

    assert step_name(page) == asked, "the same question is asked again"
    assert page.error_for(field) == message
    if field not in ("type", "category"):
        control = page.field(field)
        assert control.value() == value.strip(), "what was typed (trimmed) is kept"
        assert f"e-{field}" in control.attrs["aria-describedby"].split()
        assert control.attrs["aria-invalid"] == "true"
    else:
        assert page.one("fieldset").attrs["aria-describedby"] == f"e-{field}"
    assert record_count(box) == before


def test_a_category_retired_during_the_chat_sends_the_poster_back_to_that_question(phone, box):
    page = phone.get("/new")
    for name, value in [
        ("type", "need"),
        ("title", "Lift"),
        ("place", "Mill Lane"),
        ("category", "travel"),
        ("details", "Soon"),
    ]:
        page = answer(phone, page, **{name: value})
    assert step_name(page) == "review"
    centre.set_category(box, actor(box, ADMIN), "Travel and lifts", active=False, slug="travel")
    before = record_count(box)

    page = answer(phone, page, status=400)

    assert step_name(page) == "category"
    assert page.error_for("category") == "Please choose one of the centre's categories."
    assert page.find("input", name="category", value="travel") is None
    assert page.one("input", name="details", type="hidden").value() == "Soon"
    assert record_count(box) == before


def test_the_one_page_form_posts(new_browser, box):
    dan = new_browser("Dan", headers=DESKTOP)
    before = record_count(box)
    page = dan.get("/new/form")
    categories = [o.attrs["value"] for o in page.field("category").find_all("option")]
    assert categories[0] == "" and "food" in categories

    response = dan.submit(
        page,
        data={
            "type": "should",
            "title": "Fix the bench by the pond",
            "place": "The green",
            "category": "local-fix",
            "details": "One slat is broken.",
            "needed_by": "",
        },
    )

    assert response.status_code == 302
    post = dan.follow(response)
    assert post.one("h1").text() == "Fix the bench by the pond"
    assert "Somebody should" in post.one("article").text()
    assert "Local fixes" in post.one("article").text()
    assert record_count(box) == before + 1


def test_the_one_page_form_shows_every_error_beside_its_field_and_keeps_the_values(
    new_browser, box
):
    dan = new_browser("Dan", headers=DESKTOP)
    before = record_count(box)
    page = dan.get("/new/form")

    response = dan.submit(
        page,
        data={
            "title": "   ",
            "place": "p" * 81,
            "category": "unknown-category",
            "details": "d" * 4001,
            "needed_by": "next friday",
        },
    )

    assert response.status_code == 400
    again = Page(response)
    assert again.one("main").one(role="alert").text() == (
        "Please check the highlighted answers below."
    )
    assert again.error_for("type") == "Please choose what kind of post this is."
    assert again.error_for("title") == "Please say in a few words what this is about."
    assert again.error_for("place") == "Please keep the place under 80 characters."
    assert again.error_for("category") == "Please choose one of the centre's categories."
    assert again.error_for("details") == "Please keep the details under 4000 characters."
    assert again.error_for("needed_by") == "Please give the date as YYYY-MM-DD."
    assert again.field("place").value() == "p" * 81
    assert again.field("details").value() == "d" * 4001
    assert again.field("needed_by").value() == "next friday"
    assert record_count(box) == before


def test_the_one_page_form_keeps_good_answers_while_one_is_wrong(new_browser, box):
    dan = new_browser("Dan", headers=DESKTOP)
    before = record_count(box)
    response = dan.submit(
        dan.get("/new/form"),
        data={
            "type": "offer",
            "title": "T" * 121,
            "place": "Church Hall",
            "category": "household",
            "details": "Line one\nLine two",
            "needed_by": "2027-04-01",
        },
    )
    assert response.status_code == 400
    again = Page(response)
    assert again.error_for("title") == "Please keep the title under 120 characters."
    assert again.field("title").value() == "T" * 121
    for name in ("type", "place", "category", "details", "needed_by"):
        assert again.error_for(name) is None, name
    assert again.one("input", name="type", value="offer").attrs.get("checked") is not None
    assert again.field("place").value() == "Church Hall"
    assert again.field("category").value() == "household"
    assert again.field("details").value() == "Line one\nLine two"
    assert again.field("needed_by").value() == "2027-04-01"
    assert record_count(box) == before

    # Correcting the one wrong answer is enough.
    response = dan.submit(again, data={"title": "A good title"})
    assert response.status_code == 302
    assert record_count(box) == before + 1


@pytest.mark.parametrize("url", ["/new", "/new/form", "/new?flow=chat"])
def test_a_visitor_is_sent_to_log_in_first(browser, url):
    location = urlsplit(browser.get(url, status=302).response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query) == {"next": [url]}


def test_logging_in_from_the_redirect_comes_back_to_posting(browser, new_browser):
    new_browser("Erin")
    page = browser.get(browser.get("/new/form", status=302).response.headers["Location"])
    response = browser.submit(page, data={"name": "Erin", "password": PASSWORD})
    assert response.headers["Location"] == "/new/form"


@pytest.mark.parametrize("url", ["/new", "/new/form"])
def test_a_visitor_cannot_post_even_with_a_valid_token(browser, box, url):
    before = record_count(box)
    response = browser.post(
        url,
        {"step": "review", "type": "need", "title": "T", "place": "P", "category": "food"},
        via="/signup",
    )
    assert response.status_code == 401
    assert Page(response).one(role="alert").text() == "Please log in or sign up first."
    assert record_count(box) == before


def test_a_phone_gets_the_chat_and_a_desktop_the_form(new_browser):
    phone = new_browser("Fay", headers=PHONE)
    assert phone.get("/new").find("div", id="chat") is not None
    iphone = Browser(
        phone.client,
        {"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"},
    )
    assert iphone.get("/new").find("div", id="chat") is not None

    desktop = Browser(phone.client, DESKTOP)
    response = desktop.get("/new", status=302).response
    assert response.headers["Location"] == "/new/form"
    # Either person can choose the other flow.
    assert desktop.get("/new?flow=chat").find("div", id="chat") is not None
    assert phone.get("/new?flow=form", status=302).response.headers["Location"] == "/new/form"
    form = desktop.get("/new/form")
    assert form.one("p", class_="alt").one("a").attrs["href"] == "/new?flow=chat"


def test_the_chat_page_enhances_with_the_boxs_own_script(phone):
    page = phone.get("/new")
    scripts = [s.attrs["src"] for s in page.find_all("script")]
    assert scripts == ["/static/chat.js"]
    with phone.client.get("/static/chat.js") as script:
        assert script.status_code == 200
        assert b"DOMParser" in script.data
