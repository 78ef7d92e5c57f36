"""The JSON API, /api/v1/: the same data as the pages, and JSON errors for bad requests."""

from __future__ import annotations

import pytest
from pagetools import Page, new_post, post_ids, record_count

STATUS_LABELS = {"open": "Open", "on_it": "Someone's on it", "resolved": "Resolved"}


@pytest.fixture
def posts(alice, bob, staff_client, clock):
    """Five posts a minute apart: open, on it, resolved with thanks, commented, hidden."""
    ids = {}
    for key, who, title, kind, category in [
        ("lift", alice, "Lift to the hospital", "need", "travel"),
        ("sofa", bob, "Spare sofa bed", "offer", "household"),
        ("pothole", alice, "Pothole on Mill Lane", "should", "local-fix"),
        ("tins", bob, "Tins for the food bank", "need", "food"),
        ("spam", bob, "Cheap watches", "offer", "other"),
    ]:
        clock.advance(60_000)
        ids[key] = new_post(who, title=title, type=kind, category=category)
    bob.submit(bob.get(f"/posts/{ids['lift']}"), containing="I'm on it")
    alice.submit(alice.get(f"/posts/{ids['sofa']}"), containing="I can help")
    bob.submit(
        bob.get(f"/posts/{ids['sofa']}"), data={"note": "Gone"}, containing="Mark as resolved"
    )
    bob.submit(
        bob.get(f"/posts/{ids['sofa']}"),
        data={"message": "Thanks Alice"},
        containing="Say thank you",
    )
    bob.submit(
        bob.get(f"/posts/{ids['pothole']}"), data={"text": "Reported it"}, containing="Post comment"
    )
    staff_client.submit(
        staff_client.get(f"/posts/{ids['spam']}"), data={"reason": "Advert"}, containing="Hide post"
    )
    return ids


def board_cards(page: Page) -> list[dict]:
    return [
        {
            "id": pid,
            "title": card.one("h2").text(),
            "status": card.one("span", class_="status").text(),
        }
        for pid, card in zip(post_ids(page), page.find_all("li", class_="card"), strict=True)
    ]


def api_cards(data: dict) -> list[dict]:
    return [
        {"id": p["id"], "title": p["title"], "status": STATUS_LABELS[p["status"]]}
        for p in data["posts"]
    ]


@pytest.mark.parametrize(
    "query", ["", "?type=need", "?status=resolved", "?q=sofa", "?category=food"]
)
def test_the_list_has_the_same_posts_as_the_board(browser, posts, query):
    page = browser.get(f"/{query}")
    response = browser.client.get(f"/api/v1/posts{query}")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    data = response.get_json()
    assert api_cards(data) == board_cards(page)
    assert data["total"] == len(data["posts"])
    assert page.one("p", class_="count").text().startswith(f"{data['total']} post")


def test_the_list_for_anyone(browser, posts):
    data = browser.client.get("/api/v1/posts").get_json()
    assert [p["title"] for p in data["posts"]] == [
        "Tins for the food bank",
        "Pothole on Mill Lane",
        "Lift to the hospital",
        "Spare sofa bed",
    ]
    assert {k: data[k] for k in ("total", "page", "pages", "page_size", "filters")} == {
        "total": 4,
        "page": 1,
        "pages": 1,
        "page_size": 20,
        "filters": {},
    }
    first = data["posts"][0]
    assert first["category"] == {"slug": "food", "label": "Food"}
    assert first["author"]["name"] == "Bob" and first["author"]["verified"] is False
    assert first["created"] == "2027-03-17T12:04:00Z"
    assert "hidden" not in first and "hidden_reason" not in first, "staff-only fields"
    pothole = data["posts"][1]
    assert (pothole["comment_count"], pothole["helper_count"]) == (1, 0)


def test_staff_get_hidden_posts_in_the_list_as_on_their_board(staff_client, posts):
    page = staff_client.get("/")
    data = staff_client.client.get("/api/v1/posts").get_json()
    assert api_cards(data) == board_cards(page)
    hidden = [p for p in data["posts"] if p["hidden"]]
    assert [(p["id"], p["hidden_reason"]) for p in hidden] == [(posts["spam"], "Advert")]


def test_filters_echo_back_for_shareable_urls(browser, posts):
    data = browser.client.get("/api/v1/posts?type=need&when=week&q=tins&page=1").get_json()
    assert data["filters"] == {"type": "need", "when": "week", "q": "tins"}
    assert [p["id"] for p in data["posts"]] == [posts["tins"]]


def test_one_post_has_what_its_page_shows(alice, posts):
    post_id = posts["sofa"]
    page = alice.get(f"/posts/{post_id}")
    data = alice.client.get(f"/api/v1/posts/{post_id}").get_json()

    assert data["id"] == post_id
    assert data["title"] == page.one("h1").text() == "Spare sofa bed"
    assert STATUS_LABELS[data["status"]] == page.one("article").one("span", class_="status").text()
    assert data["resolved"]["note"] == "Gone"
    assert data["resolved"]["by"]["name"] == "Bob"
    assert [(h["name"], h["mode"]) for h in data["helpers"]] == [("Alice", "can_help")]
    assert [li.text() for li in page.one("section", class_="helpers").find_all("li")] == [
        "Alice: can help"
    ]
    assert [(t["from"]["name"], t["to"]["name"], t["message"]) for t in data["thanks"]] == [
        ("Bob", "Alice", "Thanks Alice")
    ]
    assert page.one("section", id="thanks").one("p").text() == "Thanks Alice"
    # What this viewer may do, the same flags the page uses for its forms.
    assert data["can"] == {
        "comment": True,
        "help": False,
        "my_help": "can_help",
        "resolve": False,
        "reopen": False,
        "thank": False,
        "moderate": False,
        "still_needed": False,
        "revive": False,
    }


def test_one_post_comments_match_the_page(browser, posts):
    post_id = posts["pothole"]
    data = browser.client.get(f"/api/v1/posts/{post_id}").get_json()
    page = browser.get(f"/posts/{post_id}")
    assert [(c["author"]["name"], c["text"]) for c in data["comments"]] == [("Bob", "Reported it")]
    assert [li.one("div").text() for li in page.find_all("li", class_="comment")] == ["Reported it"]
    assert data["can"]["comment"] is False, "a visitor cannot comment"


def test_thanks_list(browser, posts):
    data = browser.client.get("/api/v1/thanks").get_json()
    assert [(t["post"]["id"], t["message"]) for t in data["thanks"]] == [
        (posts["sofa"], "Thanks Alice")
    ]


@pytest.mark.parametrize(
    "query, field",
    [
        ("status=bogus", "status"),
        ("type=wish", "type"),
        ("when=soon", "when"),
        ("from=2027-13-01", "from"),
        ("to=tomorrow", "to"),
        ("page=-1", "page"),
        ("q=" + "w" * 201, "q"),
    ],
)
def test_a_bad_filter_is_a_400_json_error(browser, posts, query, field):
    response = browser.client.get(f"/api/v1/posts?{query}")
    assert response.status_code == 400
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["error"] == "Some filters were not understood."
    assert list(body["fields"]) == [field]
    assert body["fields"][field]


def test_an_unknown_post_is_a_404_json_error(browser):
    response = browser.client.get("/api/v1/posts/" + "0" * 64)
    assert response.status_code == 404
    assert response.get_json() == {"error": "That post does not exist or has been removed."}


def test_an_unknown_api_address_is_a_404_json_error(browser):
    response = browser.client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.get_json() == {"error": "There is nothing at this address."}


def test_writing_to_the_api_is_refused_with_json(browser, alice, box):
    before = record_count(box)
    for client in (browser.client, alice.client):
        response = client.post("/api/v1/posts", json={"title": "x"})
        assert 400 <= response.status_code < 500
        assert response.mimetype == "application/json"
        assert response.get_json()["error"]
    assert record_count(box) == before


def test_a_hidden_post_is_404_for_visitors_and_members_but_not_staff(
    browser, alice, staff_client, posts
):
    url = f"/api/v1/posts/{posts['spam']}"
    for client in (browser.client, alice.client):
        response = client.get(url)
        assert response.status_code == 404
        assert response.get_json() == {"error": "That post does not exist or has been removed."}
    data = staff_client.client.get(url).get_json()
    assert (data["hidden"], data["hidden_reason"]) == (True, "Advert")
    assert data["can"]["moderate"] is True


def test_an_unknown_category_filter_is_a_400(browser, posts):
    response = browser.client.get("/api/v1/posts?category=no-such-thing")
    assert response.status_code == 400
    assert "category" in response.get_json()["fields"]
