"""The personal tokens page, /account/tokens: make a token (shown once), list, revoke."""

from __future__ import annotations

import re

from apitools import ApiClient
from pagetools import Page, flash_of, record_count

from appliance.models import ApiToken


def make_token(browser, name="Phone app", days=None):
    page = browser.get("/account/tokens")
    data = {"name": name}
    if days is not None:
        data["days"] = days
    return browser.submit(page, action="/account/tokens", data=data)


def test_a_visitor_is_sent_to_log_in(browser):
    response = browser.client.get("/account/tokens")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/account/tokens")


def test_the_page_explains_and_offers_a_form(alice):
    page = alice.get("/account/tokens")
    assert page.one("h1").text() == "Your API tokens"
    assert "You have no tokens yet." in page.text()
    form = page.form("/account/tokens")
    assert form.one("input", name="name").attrs["id"] == "f-name"
    assert page.one("label", for_="f-name").text().startswith("What will use it?")
    days = [i.attrs["value"] for i in form.find_all("input", name="days")]
    assert days == ["30", "90", "365"]
    assert form.one("input", name="days", checked=True).attrs["value"] == "90"
    assert "/api" in page.links()


def test_a_new_token_is_shown_once_and_works(app, alice, box):
    before = record_count(box)
    response = make_token(alice, days="30")
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    page = Page(response)
    token = page.one("input", id="new-token").attrs["value"]
    assert re.fullmatch(r"kith_[\w-]{40,}", token)
    assert "shown only this once" in page.text()
    assert page.one("input", id="new-token").attrs["aria-describedby"] == "new-token-hint"
    # Tokens are not records: nothing signed is written, and only a hash is kept.
    assert record_count(box) == before
    assert token not in {t.token_hash for t in ApiToken.select()}
    me = ApiClient(app.test_client(), token).get("/api/v1/me").get_json()
    assert me["name"] == "Alice"
    # Never again: the list shows its name and when it stops working, not the token.
    again = alice.get("/account/tokens")
    assert token not in again.response.get_data(as_text=True)
    card = again.one("li", class_="card")
    assert card.one("h3").text() == "Phone app"
    assert "Works until" in card.text() and "last used" in card.text()


def test_a_token_never_used_says_so(alice):
    make_token(alice)
    assert "never used" in alice.get("/account/tokens").one("li", class_="card").text()


def test_revoking_stops_the_token(app, alice):
    token = Page(make_token(alice)).one("input", id="new-token").attrs["value"]
    api = ApiClient(app.test_client(), token)
    assert api.get("/api/v1/me").status_code == 200
    page = alice.get("/account/tokens")
    response = alice.submit(page, containing="Revoke Phone app")
    page = alice.follow(response)
    assert flash_of(page) == "The token is revoked: tools using it can no longer act for you."
    assert "Revoked" in page.one("li", class_="card").text()
    assert page.find("button", class_="secondary") is None, "no revoke button on a revoked token"
    refused = api.get("/api/v1/me")
    assert refused.status_code == 401
    assert refused.get_json()["error"].startswith("That token was revoked")


def test_bad_input_is_shown_beside_the_field_and_makes_nothing(alice):
    for data, field, message in [
        ({"name": ""}, "name", "Please name the token after the tool that will use it."),
        ({"name": "x" * 61}, "name", "Please keep the name under 60 characters."),
        ({"name": "Tool", "days": "7"}, "days", "Please choose 30, 90 or 365 days."),
    ]:
        page = alice.get("/account/tokens")
        response = alice.submit(page, action="/account/tokens", data=data)
        assert response.status_code == 400
        result = Page(response)
        assert result.one("p", id=f"e-{field}").text() == message
        assert result.find("input", id="new-token") is None
        if field == "name":
            assert "e-name" in result.one("input", name="name").attrs["aria-describedby"]
    assert ApiToken.select().count() == 0


def test_twenty_live_tokens_at_most(alice):
    for i in range(20):
        assert make_token(alice, name=f"tool {i}").status_code == 201
    response = make_token(alice, name="one more")
    assert response.status_code == 409
    assert "You have 20 tokens already" in Page(response).one(role="alert").text()
    assert ApiToken.select().count() == 20


def test_one_cannot_revoke_someone_elses_token(alice, bob):
    make_token(bob, name="Bob's tool")
    token_id = ApiToken.get().id
    response = alice.post(f"/account/tokens/{token_id}/revoke", via="/account/tokens")
    assert response.status_code == 404
    assert ApiToken.get().revoked_ms is None
    response = bob.post(f"/account/tokens/{token_id}/revoke", via="/account/tokens")
    assert response.status_code == 302
    response = bob.post(f"/account/tokens/{token_id}/revoke", via="/account/tokens")
    assert response.status_code == 409


def test_forms_need_the_csrf_token(alice):
    response = alice.post("/account/tokens", data={"name": "x", "days": "90"}, csrf=False)
    assert response.status_code == 400
    assert ApiToken.select().count() == 0


def test_readable_on_a_phone_and_in_order(alice):
    make_token(alice)
    page = alice.get("/account/tokens")
    levels = [int(n.tag[1]) for n in page.find_all() if re.fullmatch(r"h[1-6]", n.tag)]
    assert levels[0] == 1 and all(b - a <= 1 for a, b in zip(levels, levels[1:], strict=False))
    for control in page.find_all("input"):
        if control.attrs.get("type") not in ("hidden", "radio"):
            assert page.find("label", for_=control.attrs["id"]), control
