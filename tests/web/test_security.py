"""CSRF on every form, the Content-Security-Policy, no third-party URLs, safe redirects."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from pagetools import ADMIN, PASSWORD, Browser, Page, actor, member_id, new_post, record_count

from appliance.services import board, members

CSRF_MESSAGE = (
    "This form had expired or did not come from this board. "
    "Please go back, reload the page and try again."
)


@dataclass
class World:
    """Everything the POST routes act on, set up so each would succeed with a token."""

    alice: Browser
    bob: Browser
    admin: Browser
    visitor: Browser
    open_post: str  # Alice's, Bob is helping ("can_help")
    resolved_post: str  # Alice's, resolved
    comment: str  # Bob's comment on open_post
    bob_id: str


@pytest.fixture
def world(box, alice, bob, admin_client, browser) -> World:
    open_post = new_post(alice, title="Wardrobe to carry")
    resolved_post = new_post(alice, title="Old request")
    board.offer_help(box, actor(box, "Bob"), open_post, "can_help")
    comment = board.add_comment(box, actor(box, "Bob"), open_post, "Is it heavy?")
    board.resolve(box, actor(box, "Alice"), resolved_post, "")
    members.grant_role(box, actor(box, ADMIN), member_id("Bob"), "driver")
    return World(
        alice=alice,
        bob=bob,
        admin=admin_client,
        visitor=browser,
        open_post=open_post,
        resolved_post=resolved_post,
        comment=comment,
        bob_id=member_id("Bob"),
    )


POST_DATA = {
    "type": "need",
    "title": "Forged post",
    "place": "Anywhere",
    "category": "food",
    "details": "",
    "needed_by": "",
}


def assisted_post(w: World) -> str:
    """Post for a visitor as staff, who note the visitor's phone; return the post id."""
    data = {**POST_DATA, "visitor_contact": "07700 900123"}
    response = w.admin.post("/staff/assisted/new", data, via="/me")
    return response.headers["Location"].rsplit("#post-", 1)[1]  # /staff/assisted#post-ID


# rule -> (who sends it, the URL, the form data); each would succeed with a valid token.
CASES = {
    "/signup": ("visitor", lambda w: "/signup", {"name": "Mallory", "password": PASSWORD}),
    "/login": ("visitor", lambda w: "/login", {"name": "Alice", "password": PASSWORD}),
    "/logout": ("alice", lambda w: "/logout", {}),
    "/posts/<post_id>/comment": (
        "admin",
        lambda w: f"/posts/{w.open_post}/comment",
        {"text": "Forged comment"},
    ),
    "/posts/<post_id>/help": ("admin", lambda w: f"/posts/{w.open_post}/help", {"mode": "on_it"}),
    "/posts/<post_id>/withdraw": ("bob", lambda w: f"/posts/{w.open_post}/withdraw", {}),
    "/posts/<post_id>/resolve": ("alice", lambda w: f"/posts/{w.open_post}/resolve", {"note": "x"}),
    "/posts/<post_id>/reopen": ("alice", lambda w: f"/posts/{w.resolved_post}/reopen", {}),
    "/posts/<post_id>/thank": (
        "alice",
        lambda w: f"/posts/{w.open_post}/thank",
        {"helper": "BOB", "message": "Forged thanks"},
    ),
    "/posts/<post_id>/hide": ("admin", lambda w: f"/posts/{w.open_post}/hide", {"reason": "x"}),
    "/comments/<comment_id>/hide": (
        "admin",
        lambda w: f"/comments/{w.comment}/hide",
        {"post": "POST", "reason": "x"},
    ),
    "/new": ("alice", lambda w: "/new", {**POST_DATA, "step": "review"}),
    "/new/form": ("alice", lambda w: "/new/form", POST_DATA),
    "/staff/assisted/new": ("admin", lambda w: "/staff/assisted/new", POST_DATA),
    "/staff/assisted/<post_id>/forget": (
        "admin",
        lambda w: f"/staff/assisted/{assisted_post(w)}/forget",
        {},
    ),
    "/staff/members/<member_id>/verify": (
        "admin",
        lambda w: f"/staff/members/{w.bob_id}/verify",
        {},
    ),
    "/staff/members/<member_id>/roles": (
        "admin",
        lambda w: f"/staff/members/{w.bob_id}/roles",
        {"role": "staff"},
    ),
    "/staff/members/<member_id>/roles/<role>/revoke": (
        "admin",
        lambda w: f"/staff/members/{w.bob_id}/roles/driver/revoke",
        {},
    ),
    "/staff/centre/categories": ("admin", lambda w: "/staff/centre/categories", {"label": "Pets"}),
    "/staff/centre/places": ("admin", lambda w: "/staff/centre/places", {"place": "Church Hall"}),
}


def fill(world: World, data: dict) -> dict:
    values = {"BOB": world.bob_id, "POST": world.open_post}
    return {k: values.get(v, v) for k, v in data.items()}


def signed_in(b: Browser) -> bool:
    return b.client.get("/me").status_code == 200


def test_every_post_route_is_covered(app):
    post_rules = {r.rule for r in app.url_map.iter_rules() if "POST" in r.methods}
    assert post_rules == set(CASES), "a new POST route needs a CSRF case here"


@pytest.mark.parametrize("rule", sorted(CASES))
def test_a_post_without_a_csrf_token_is_refused_and_changes_nothing(world, box, rule):
    who, url_of, data = CASES[rule]
    b: Browser = getattr(world, who)
    url, data = url_of(world), fill(world, data)
    was_signed_in = signed_in(b)
    before = record_count(box)

    for forged in ({}, {"csrf_token": "forged"}):
        response = b.client.post(url, data={**data, **forged})
        assert response.status_code == 400, forged
        assert Page(response).one(role="alert").text() == CSRF_MESSAGE
        assert record_count(box) == before
        assert signed_in(b) == was_signed_in

    # The same request with the page's token goes through: the refusal was the token.
    response = b.post(url, data, via="/signup" if who == "visitor" else "/me")
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    if rule == "/login":
        assert signed_in(b)
    elif rule == "/logout":
        assert not signed_in(b)
    elif rule == "/staff/assisted/<post_id>/forget":  # local details only, never a record
        assert "07700" not in b.get("/staff/assisted").html
    else:
        assert record_count(box) > before


def test_a_token_from_another_session_is_refused(world, box):
    alices_token = world.alice.token("/me")
    before = record_count(box)
    response = world.bob.client.post(
        f"/posts/{world.open_post}/comment", data={"csrf_token": alices_token, "text": "hi"}
    )
    assert response.status_code == 400
    assert record_count(box) == before


def test_the_csrf_error_page_still_knows_who_is_signed_in(alice):
    response = alice.client.post("/logout")
    assert response.status_code == 400
    nav = Page(response).one("nav", aria_label="Main")
    assert "Alice" in nav.text()


def test_the_csrf_error_page_has_its_own_csp(browser):
    response = browser.client.post("/signup", data={"name": "x"})
    assert response.status_code == 400
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


# --- the Content-Security-Policy and third-party URLs ---------------------------------


@pytest.fixture
def urls(box, alice, bob, staff_client):
    """Every kind of page there is, with content on it."""
    post_id = new_post(alice, details="See https://example.org/ for the plan")
    bob.submit(bob.get(f"/posts/{post_id}"), containing="I can help")
    bob.submit(bob.get(f"/posts/{post_id}"), data={"text": "Hi"}, containing="Post comment")
    alice.submit(alice.get(f"/posts/{post_id}"), data={"message": "Ta"}, containing="Say thank you")
    return [
        (alice, "/"),
        (alice, "/?q=plan&type=need"),
        (alice, f"/posts/{post_id}"),
        (alice, "/thanks"),
        (alice, "/me"),
        (alice, "/new/form"),
        (alice, "/new?flow=chat"),
        (staff_client, "/"),
        (staff_client, f"/posts/{post_id}"),
        (staff_client, "/staff/members"),
        (staff_client, "/staff/centre"),
        (bob, "/signup"),
        (bob, "/login"),
        (bob, "/posts/" + "0" * 64),
        (bob, "/?status=bogus"),
        (bob, "/api/v1/posts"),
        (bob, f"/api/v1/posts/{post_id}"),
        (bob, "/api/v1/nowhere"),
        (bob, "/static/kith.css"),
    ]


ALLOWED_SOURCES = {"'self'", "'none'", "data:"}


def test_every_response_has_a_csp_that_allows_only_the_box(urls):
    for who, url in urls:
        with who.client.get(url) as response:
            policy = response.headers.get("Content-Security-Policy")
            assert policy, url
            directives = {}
            for part in policy.split(";"):
                name, *sources = part.split()
                directives[name] = sources
            for name, sources in directives.items():
                assert set(sources) <= ALLOWED_SOURCES, (url, name, sources)
            assert directives["default-src"] == ["'self'"]
            assert directives["script-src"] == ["'self'"]
            assert directives["style-src"] == ["'self'"]
            assert directives["frame-ancestors"] == ["'none'"]
            assert directives["form-action"] == ["'self'"]
            assert response.headers["X-Content-Type-Options"] == "nosniff"


URL_ATTRIBUTES = ("src", "href", "action", "formaction", "srcset", "poster", "data", "background")
EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:|//|\\\\)", re.IGNORECASE)


def test_no_page_refers_to_anything_outside_the_box(urls):
    for who, url in urls:
        if url.startswith(("/api/", "/static/")):
            continue
        page = who.get(url, status=None)
        assert page.response.mimetype == "text/html", url
        for node in page.doc.iter():
            for attr in URL_ATTRIBUTES:
                value = node.attrs.get(attr)
                if value is not None:
                    assert not EXTERNAL.match(value), (url, node, attr, value)
            # The CSP refuses inline code and styles, so the pages must not need any.
            assert "style" not in node.attrs, (url, node)
            assert not any(a.startswith("on") for a in node.attrs), (url, node)
            if node.tag == "script":
                assert node.attrs.get("src", "").startswith("/static/"), (url, node)
            assert node.tag != "style", url
        # A link a member typed is shown as text, never as a link or a resource.
        assert "https://example.org" not in " ".join(page.links())


def test_the_stylesheet_and_script_load_nothing_from_elsewhere(client):
    for asset in ("/static/kith.css", "/static/chat.js"):
        with client.get(asset) as response:
            assert response.status_code == 200
            text = response.get_data(as_text=True)
        assert not re.search(r"https?://", text), asset
        assert "@import" not in text
        assert not re.search(r"url\(\s*['\"]?(?:[a-z]+:|//)", text, re.IGNORECASE), asset


# --- redirects after logging in ---------------------------------------------------------


@pytest.mark.parametrize(
    "target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "evil.example"]
)
def test_next_cannot_send_people_to_another_site(browser, alice, target):
    page = browser.get("/login?next=" + quote(target, safe=""))
    response = browser.submit(page, data={"name": "Alice", "password": PASSWORD})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/") and not location.startswith(("//", "/\\")), location


@pytest.mark.parametrize("target", ["/\t/evil.example", "/\n/evil.example"])
def test_next_with_a_control_character_cannot_send_people_to_another_site(browser, alice, target):
    page = browser.get("/login?next=" + quote(target, safe=""))
    response = browser.submit(page, data={"name": "Alice", "password": PASSWORD})
    location = response.headers["Location"]
    assert not location.startswith("//"), location


def test_a_body_too_large_is_refused_with_a_clear_page(alice, box):
    before = record_count(box)
    token = alice.token("/me")
    response = alice.client.post(
        "/new/form", data={"csrf_token": token, **POST_DATA, "details": "x" * 300_000}
    )
    assert response.status_code == 413
    assert Page(response).one(role="alert").text() == "That was too much to send at once."
    assert record_count(box) == before
