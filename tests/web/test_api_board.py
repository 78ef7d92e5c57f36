"""Acting on the board through the JSON API: with a personal token or the login cookie,
and every kind of bad input refused with a clear JSON answer that changes nothing."""

from __future__ import annotations

import pytest
from apitools import ApiClient, assert_documented, session_api, token_for
from pagetools import ADMIN, DAY_MS, PASSWORD, Browser, actor, member_id, record_count

from appliance.services import accounts, api_tokens, members, moderation

NEW = {"type": "need", "title": "Tins for the food bank", "category": "food", "place": "Hall"}
HOUR_MS = 3_600_000


@pytest.fixture
def a(app, box, alice) -> ApiClient:
    """Alice's tool, with her personal token."""
    return ApiClient(app.test_client(), token_for(box, "Alice"))


@pytest.fixture
def b(app, box, bob) -> ApiClient:
    return ApiClient(app.test_client(), token_for(box, "Bob"))


@pytest.fixture
def post_id(a) -> str:
    response = a.post("/api/v1/posts", json=NEW)
    assert response.status_code == 201
    return response.get_json()["id"]


def refused(box, send, status: int, fields: list[str] | None = None, error: str | None = None):
    """Send a request that must be refused; check the JSON answer and that nothing changed."""
    before = record_count(box)
    response = send()
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    body = assert_documented(response)
    assert body["error"]
    if error is not None:
        assert body["error"] == error
    if fields is not None:
        assert sorted(body.get("fields", {})) == sorted(fields)
        assert all(body["fields"].values())
    assert record_count(box) == before, "a refused request changed nothing"
    return body


# --- posting -------------------------------------------------------------------------------


def test_a_token_posts_as_its_member_and_answers_where_the_post_is(a, box, browser):
    before = record_count(box)
    response = a.post("/api/v1/posts", json={**NEW, "details": "Beans", "colour": "ignored"})
    body = assert_documented(response, "POST", "/api/v1/posts")
    assert response.status_code == 201
    assert response.headers["Location"] == f"/api/v1/posts/{body['id']}"
    assert record_count(box) == before + 1
    post = browser.client.get(response.headers["Location"]).get_json()
    assert (post["title"], post["details"], post["author"]["name"]) == (
        "Tins for the food bank",
        "Beans",
        "Alice",
    )
    assert "colour" not in post


@pytest.mark.parametrize(
    "change, field",
    [
        ({"category": "no-such-thing"}, "category"),
        ({"title": ""}, "title"),
        ({"title": "x" * 121}, "title"),
        ({"type": "wish"}, "type"),
        ({"needed_by": "2020-01-01"}, "needed_by"),
        ({"needed_by": "next Friday"}, "needed_by"),
        ({"title": 5}, "title"),
        ({"type": ["need"]}, "type"),
        ({"place": {"street": "Mill Lane"}}, "place"),
    ],
)
def test_a_bad_post_is_refused_naming_the_field(a, box, change, field):
    refused(box, lambda: a.post("/api/v1/posts", json={**NEW, **change}), 400, [field])


def test_wrong_types_are_all_named_at_once(a, box):
    body = refused(
        box, lambda: a.post("/api/v1/posts", json={**NEW, "title": 1, "place": True}), 400
    )
    assert body["fields"] == {
        "title": "Please send this as text.",
        "place": "Please send this as text.",
    }


@pytest.mark.parametrize(
    "send",
    [
        lambda api: api.post("/api/v1/posts", data=NEW),  # a form, not JSON
        lambda api: api.post("/api/v1/posts"),  # nothing at all
        lambda api: api.post(
            "/api/v1/posts", data='{"title": "x"}', headers={"Content-Type": "text/plain"}
        ),
    ],
)
def test_a_post_without_json_is_415(a, box, send):
    body = refused(box, lambda: send(a), 415)
    assert body["error"] == "Please send a JSON body, with Content-Type application/json."


@pytest.mark.parametrize("raw", ['{"title": ', "[1, 2]", '"just text"', "null"])
def test_a_body_that_is_not_a_json_object_is_400(a, box, raw):
    body = refused(
        box,
        lambda: a.post("/api/v1/posts", data=raw, headers={"Content-Type": "application/json"}),
        400,
        ["body"],
    )
    assert body["error"] == "The body was not understood."


def test_a_visitor_cannot_act(app, box, post_id):
    """Without a token or a login nothing is written; the box's CSRF check (400) or the
    service (401, "Please log in or sign up first.") refuses it."""
    visitor = ApiClient(app.test_client())
    for path, json in [
        ("/api/v1/posts", NEW),
        (f"/api/v1/posts/{post_id}/comments", {"text": "Hi"}),
        (f"/api/v1/posts/{post_id}/help", {"mode": "on_it"}),
        (f"/api/v1/posts/{post_id}/revive", None),
    ]:
        before = record_count(box)
        response = visitor.post(path, json=json)
        assert response.status_code in (400, 401)
        assert assert_documented(response)["error"]
        assert record_count(box) == before
    me = visitor.get("/api/v1/me")
    assert me.status_code == 401
    assert assert_documented(me)["error"] == "Please log in or sign up first."


# --- tokens that do not work, and what a token may not do ----------------------------------


def test_an_unknown_token_is_401_saying_so(app, box):
    api = ApiClient(app.test_client(), "kith_made-up")
    for send in (lambda: api.get("/api/v1/posts"), lambda: api.post("/api/v1/posts", json=NEW)):
        refused(box, send, 401, error="That token is not known here: make one at /account/tokens.")


def test_a_revoked_token_is_401_saying_so(app, box, alice):
    made = api_tokens.create_token(box, actor(box, "Alice"), "script", 90)
    api = ApiClient(app.test_client(), made["token"])
    assert api.get("/api/v1/me").status_code == 200
    api_tokens.revoke_token(box, actor(box, "Alice"), made["id"])
    refused(
        box,
        lambda: api.post("/api/v1/posts", json=NEW),
        401,
        error="That token was revoked: make a new one at /account/tokens.",
    )


def test_an_expired_token_is_401_saying_so(app, box, clock, alice):
    api = ApiClient(app.test_client(), token_for(box, "Alice", days=30))
    clock.advance(30 * DAY_MS - 1000)
    assert api.get("/api/v1/me").status_code == 200
    clock.advance(1000)
    refused(
        box,
        lambda: api.post("/api/v1/posts", json=NEW),
        401,
        error="That token has expired: make a new one at /account/tokens.",
    )
    refused(box, lambda: api.get("/api/v1/me"), 401)


def test_a_staff_members_token_does_member_work_only(app, box, staff_client, post_id):
    staff = ApiClient(app.test_client(), token_for(box, "Sam Staff"))
    me = assert_documented(staff.get("/api/v1/me"))
    assert (me["name"], me["roles"], me["via_token"]) == ("Sam Staff", [], True)
    # Signed in on the box, staff may resolve anyone's post; with a token, only their own.
    refused(
        box,
        lambda: staff.post(f"/api/v1/posts/{post_id}/resolve", json={}),
        403,
        error="Only the person who posted this, or staff, can do that.",
    )
    moderation.set_post_hidden(box, actor(box, "Sam Staff"), post_id, True, "Advert", "spam")
    refused(box, lambda: staff.get(f"/api/v1/posts/{post_id}"), 404)
    cookie = session_api(staff_client)
    assert cookie.get(f"/api/v1/posts/{post_id}").get_json()["hidden"] is True


def test_a_token_cannot_list_tokens_but_the_login_cookie_can(a, box, alice):
    refused(
        box,
        lambda: a.get("/api/v1/me/tokens"),
        403,
        error="See your tokens while signed in on the box, not with a token.",
    )
    listed = assert_documented(session_api(alice).get("/api/v1/me/tokens"))
    assert [t["name"] for t in listed["tokens"]] == ["test tool"]
    assert "token" not in listed["tokens"][0] and "token_hash" not in listed["tokens"][0]


def test_a_cookie_signed_change_needs_the_csrf_token(box, alice):
    refused(box, lambda: alice.client.post("/api/v1/posts", json=NEW), 400)
    response = session_api(alice).post("/api/v1/posts", json=NEW)
    assert response.status_code == 201
    assert_documented(response)


def test_the_eleventh_post_in_an_hour_is_429(a, box, clock):
    for i in range(10):
        clock.advance(60_000)
        assert a.post("/api/v1/posts", json={**NEW, "title": f"Tins {i}"}).status_code == 201
    body = refused(box, lambda: a.post("/api/v1/posts", json=NEW), 429)
    assert body["error"].startswith("You have posted 10 times in the last hour.")


# --- actions on a post -------------------------------------------------------------------


def test_comment_help_and_thanks(a, b, box, post_id):
    response = b.post(f"/api/v1/posts/{post_id}/comments", json={"text": "I have beans"})
    assert response.status_code == 201 and assert_documented(response)["id"]
    view = assert_documented(b.post(f"/api/v1/posts/{post_id}/help", json={"mode": "on_it"}))
    assert view["status"] == "on_it" and view["can"]["my_help"] == "on_it"
    response = a.post(
        f"/api/v1/posts/{post_id}/thanks", json={"helper": member_id("Bob"), "message": "Ta!"}
    )
    assert response.status_code == 201
    post = a.get(f"/api/v1/posts/{post_id}").get_json()
    assert [c["text"] for c in post["comments"]] == ["I have beans"]
    assert [(t["to"]["name"], t["message"]) for t in post["thanks"]] == [("Bob", "Ta!")]


@pytest.mark.parametrize(
    "who, path, json, status, fields",
    [
        ("b", "comments", {"text": ""}, 400, ["text"]),
        ("b", "comments", {"text": "x" * 2001}, 400, ["text"]),
        ("b", "comments", {"text": ["a"]}, 400, ["text"]),
        ("b", "help", {"mode": "maybe"}, 400, ["mode"]),
        ("b", "help", {}, 400, ["mode"]),
        ("a", "help", {"mode": "on_it"}, 403, None),
        ("b", "help/withdraw", None, 409, None),
        ("a", "thanks", {"helper": "nobody", "message": "Ta"}, 400, ["helper"]),
        ("b", "thanks", {"helper": "nobody", "message": "Ta"}, 403, None),
        ("a", "resolve", {"note": "x" * 1001}, 400, ["note"]),
        ("a", "resolve", {"note": 3}, 400, ["note"]),
        ("b", "resolve", {}, 403, None),
        ("a", "reopen", None, 409, None),
        ("b", "flag", {"reason": "bogus"}, 400, ["reason"]),
        ("b", "flag", {"reason": "other"}, 400, ["note"]),
        ("b", "flag", {"reason": "spam", "comment": "nope"}, 404, None),
        ("a", "flag", {"reason": "spam"}, 403, None),
        ("a", "still-needed", {"answer": "yes"}, 400, ["answer"]),
        ("a", "still-needed", {}, 400, ["answer"]),
        ("a", "still-needed", {"answer": True}, 409, None),
        ("b", "revive", None, 409, None),
    ],
)
def test_a_bad_action_is_refused_and_changes_nothing(
    a, b, box, post_id, who, path, json, status, fields
):
    api = {"a": a, "b": b}[who]
    refused(box, lambda: api.post(f"/api/v1/posts/{post_id}/{path}", json=json), status, fields)


def test_an_action_on_an_unknown_post_is_404(b, box):
    refused(
        box,
        lambda: b.post("/api/v1/posts/" + "f" * 64 + "/comments", json={"text": "Hi"}),
        404,
        error="That post does not exist or has been removed.",
    )


def test_flagging_a_comment(a, b, box, post_id):
    comment = a.post(f"/api/v1/posts/{post_id}/comments", json={"text": "Buy watches"})
    comment_id = comment.get_json()["id"]
    before = record_count(box)
    response = b.post(
        f"/api/v1/posts/{post_id}/flag", json={"comment": comment_id, "reason": "spam"}
    )
    assert response.status_code == 201 and assert_documented(response)["id"]
    assert record_count(box) == before + 1


def test_resolving_with_no_body_and_reopening(a, post_id):
    view = assert_documented(a.post(f"/api/v1/posts/{post_id}/resolve"))
    assert (view["status"], view["resolved"]["note"]) == ("resolved", "")
    view = assert_documented(a.post(f"/api/v1/posts/{post_id}/reopen"))
    assert view["status"] == "open"


# --- reading -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, field",
    [
        ("category=no-such-thing", "category"),
        ("from=2027-03-20&to=2027-03-10", "to"),
        ("from=20-03-2027", "from"),
        ("to=2027-02-30", "to"),
        ("page=0", "page"),
        ("page=abc", "page"),
        ("page=1.5", "page"),
        ("food=pies", "food"),
    ],
)
def test_a_bad_filter_is_400_naming_it(browser, box, query, field):
    refused(box, lambda: browser.client.get(f"/api/v1/posts?{query}"), 400, [field])


def test_an_absurd_page_number_is_400_not_a_crash(browser, box):
    refused(
        browser and box, lambda: browser.client.get("/api/v1/posts?page=" + "9" * 30), 400, ["page"]
    )


def test_an_absurd_page_size_is_ignored(a, browser, post_id):
    data = assert_documented(browser.client.get("/api/v1/posts?page_size=100000&limit=-1"))
    assert (data["page_size"], data["total"]) == (20, 1)
    far = assert_documented(browser.client.get("/api/v1/posts?page=500"))
    assert (far["posts"], far["page"], far["pages"]) == ([], 500, 1)


def test_the_centre(browser, box):
    data = assert_documented(browser.client.get("/api/v1/centre"))
    assert data["name"] == "Test Centre"
    assert data["timezone"] == box.settings["timezone"]
    assert {"slug": "food", "label": "Food"} in data["categories"]
    assert {r["name"]: r["value"] for r in data["rules"]}["flags_to_hide"] == 3


def test_me_for_the_login_cookie(box, app):
    b = Browser(app.test_client())
    assert b.login(ADMIN, "admin-password").status_code == 302
    me = assert_documented(b.client.get("/api/v1/me"))
    assert (me["name"], me["verified"], me["roles"], me["via_token"]) == (
        "Admin",
        True,
        ["admin"],
        False,
    )


def test_a_token_holder_signed_up_through_the_service_works_too(app, box):
    member = accounts.sign_up(box, "Cara", PASSWORD)
    members.grant_role(box, actor(box, ADMIN), member, "staff")
    api = ApiClient(app.test_client(), token_for(box, accounts.actor_for(box, member)))
    assert assert_documented(api.get("/api/v1/me"))["name"] == "Cara"


CSRF_MESSAGE = (
    "This form had expired or did not come from this board. "
    "Please go back, reload the page and try again."
)


def test_every_api_post_signed_by_cookie_needs_the_csrf_header(app, box, alice, post_id):
    """Another site could make a signed-in browser send any of these: without the page's
    CSRF token each is refused, whatever the area, and nothing changes. (A token-signed
    request carries no cookie, so it needs none.)"""
    rules = [
        r for r in app.url_map.iter_rules() if r.rule.startswith("/api/") and "POST" in r.methods
    ]
    assert len(rules) >= 10
    for rule in rules:
        url = rule.build({name: post_id for name in rule.arguments}, append_unknown=False)[1]
        before = record_count(box)
        response = alice.client.post(url, json={"text": "Forged", "mode": "on_it"})
        assert response.status_code == 400, (rule.rule, response.status_code)
        assert response.get_json() == {"error": CSRF_MESSAGE}
        assert record_count(box) == before, rule.rule
