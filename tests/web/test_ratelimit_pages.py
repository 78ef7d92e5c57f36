"""Rate limits through the pages: hit, lifted by the box's clock, per account and per
address, login by name, the JSON answer under /api/, and nothing written when refused."""

from __future__ import annotations

from apitools import ApiClient, token_for
from pagetools import ADMIN, PHONE, POST_DEFAULTS, Browser, Page, actor, new_post, record_count

from appliance.services import board

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS


def at(browser: Browser, address: str) -> Browser:
    """Send this browser's requests from another network address."""
    browser.client.environ_base["REMOTE_ADDR"] = address
    return browser


def post_form(browser: Browser, **fields):
    """Send the one-page posting form; return the response (not following it)."""
    page = browser.get("/new/form")
    return browser.submit(page, data={**POST_DEFAULTS, **fields})


def refused(response, message: str) -> None:
    """Check a 429 page: it says what and when, and when to come back."""
    assert response.status_code == 429
    assert Page(response).one(role="alert").text() == message
    assert int(response.headers["Retry-After"]) > 0


def test_the_eleventh_post_in_an_hour_is_refused_until_the_hour_has_passed(box, clock, alice):
    new_post(alice)
    clock.advance(48 * MINUTE_MS)
    for _ in range(9):
        new_post(alice)
    count = record_count(box)
    response = post_form(alice, title="One too many")
    refused(
        response,
        "You have posted 10 times in the last hour. Please try again in 12 minutes.",
    )
    assert response.headers["Retry-After"] == str(12 * 60)
    assert record_count(box) == count  # nothing recorded
    clock.advance(12 * MINUTE_MS - 1000)
    refused(
        post_form(alice, title="Still too soon"),
        "You have posted 10 times in the last hour. Please try again in 1 minute.",
    )
    clock.advance(1000)  # the first post leaves the window
    assert post_form(alice, title="Now it fits").status_code == 302
    assert post_form(alice, title="But only one").status_code == 429


def test_staff_at_the_desk_are_not_limited(box, staff_client):
    for n in range(15):
        assert post_form(staff_client, title=f"Food drive need {n}").status_code == 302


def test_a_refused_form_does_not_count(box, alice):
    for _ in range(12):
        response = post_form(alice, title="")  # no title: the form says so
        assert response.status_code == 400
    assert post_form(alice).status_code == 302


def test_being_sent_to_the_code_of_conduct_does_not_count(box, alice):
    from appliance.services import conduct

    conduct.publish_conduct(box, actor(box, ADMIN), "Be kind.")
    for _ in range(12):
        response = post_form(alice, title="Before reading the rules")
        assert response.status_code == 303
        assert response.location.split("?")[0].endswith("/conduct")
    conduct.accept_conduct(box, actor(box, "Alice"), 1)
    assert post_form(alice).status_code == 302


def test_the_chat_counts_only_the_finished_post(box, alice):
    for n in range(10):
        new_post(alice, title=f"Post {n}")
    # The chat's questions are still answered; only sending the post is refused.
    alice.headers = PHONE  # phones get the chat
    page = alice.get("/new")
    step = {"step": "type", "type": "need", "csrf_token": page.csrf_token()}
    assert alice.client.post("/new", data=step, headers=PHONE).status_code == 200
    back = {**POST_DEFAULTS, "step": "review", "back": "", "csrf_token": page.csrf_token()}
    assert alice.client.post("/new", data=back, headers=PHONE).status_code == 200
    send = {**POST_DEFAULTS, "step": "review", "csrf_token": page.csrf_token()}
    assert alice.client.post("/new", data=send, headers=PHONE).status_code == 429


def test_the_account_limit_follows_the_account_across_addresses(box, alice, bob):
    at(alice, "192.168.1.20")
    at(bob, "192.168.1.20")
    for n in range(10):
        new_post(alice, title=f"Post {n}")
    # Another account on the same phone or laptop still has its own ten.
    new_post(bob, title="Bob's")
    # The same account from another address is the same account.
    at(alice, "192.168.1.21")
    refused(
        post_form(alice),
        "You have posted 10 times in the last hour. Please try again in 60 minutes.",
    )


def test_the_address_limit_counts_every_account_there(box, new_browser):
    posters = [at(new_browser(name), "192.168.1.30") for name in ("Ann", "Ben", "Cat", "Dan")]
    for poster in posters[:3]:
        for n in range(10):
            new_post(poster, title=f"Post {n}")
    count = record_count(box)
    refused(
        post_form(posters[3]),
        "30 posts have been made from this device in the last hour. "
        "Please try again in 60 minutes.",
    )
    assert record_count(box) == count
    # Somewhere else, the same person is only limited by their own count.
    assert post_form(at(posters[3], "192.168.1.31")).status_code == 302


def test_sign_ups_are_limited_per_address(box, clock, new_browser):
    def sign_up(name: str, address: str):
        return at(new_browser(), address).signup(name)

    for name in ("One", "Two", "Three", "Four", "Five"):
        assert sign_up(name, "10.1.0.5").status_code == 302
    count = record_count(box)
    refused(
        sign_up("Six", "10.1.0.5"),
        "5 accounts have been made from this device in the last hour. "
        "Please try again in 60 minutes.",
    )
    assert record_count(box) == count
    assert sign_up("Six", "10.1.0.6").status_code == 302
    # A refused sign-up (a name already taken) does not count.
    for _ in range(6):
        assert sign_up("One", "10.1.0.7").status_code == 400
    assert sign_up("Seven", "10.1.0.7").status_code == 302
    clock.advance(HOUR_MS)
    assert sign_up("Eight", "10.1.0.5").status_code == 302


def test_the_kiosk_on_the_box_itself_has_no_address_limit(box, new_browser):
    # The kiosk's browser runs on the box (127.0.0.1) and everyone at the centre uses it.
    for n in range(7):
        assert new_browser().signup(f"Kiosk user {n}").status_code == 302


def test_failed_logins_are_limited_by_name(box, clock, new_browser, alice):
    guesser = at(new_browser(), "10.2.0.1")
    for _ in range(10):
        assert guesser.login("Alice", "not the password").status_code == 400
    message = (
        "There have been 10 failed log-ins with this name from this device in the last "
        "15 minutes. Please try again in 15 minutes."
    )
    # The right password too, from that device, however the name is typed.
    refused(guesser.login("Alice"), message)
    refused(guesser.login("  ALICE "), message)
    # Alice herself, on her own phone, is not locked out by someone guessing elsewhere.
    assert at(new_browser(), "10.2.0.2").login("Alice").status_code == 302
    # Other names are not held back.
    assert guesser.login("Bob", "wrong").status_code == 400
    clock.advance(15 * MINUTE_MS)
    assert guesser.login("Alice").status_code == 302


def test_failed_logins_are_limited_per_address(box, new_browser, alice):
    guesser = at(new_browser(), "10.3.0.1")
    for n in range(30):
        assert guesser.login(f"Nobody {n}", "guess").status_code == 400
    refused(
        guesser.login("Alice"),
        "There have been 30 failed log-ins from this device in the last 15 minutes. "
        "Please try again in 15 minutes.",
    )
    assert at(new_browser(), "10.3.0.2").login("Alice").status_code == 302


def test_logging_in_successfully_does_not_count(box, new_browser, alice):
    for _ in range(12):
        assert at(new_browser(), "10.4.0.1").login("Alice").status_code == 302


def test_comments_are_limited(box, alice, bob):
    post_id = new_post(alice)
    page = bob.get(f"/posts/{post_id}")
    for n in range(30):
        response = bob.submit(page, f"/posts/{post_id}/comment", data={"text": f"Note {n}"})
        assert response.status_code == 302
    count = record_count(box)
    response = bob.submit(page, f"/posts/{post_id}/comment", data={"text": "One more"})
    refused(
        response,
        "You have commented 30 times in the last hour. Please try again in 60 minutes.",
    )
    assert record_count(box) == count


def test_flags_are_limited(box, alice, bob):
    post_id = new_post(bob)
    comments = [
        board.add_comment(box, actor(box, "Bob"), post_id, f"Comment {n}") for n in range(21)
    ]
    token = alice.token(f"/posts/{post_id}")
    for comment in comments[:20]:
        data = {"comment": comment, "flag_reason": "spam", "flag_note": "", "csrf_token": token}
        assert alice.client.post(f"/posts/{post_id}/flag", data=data).status_code == 302
    count = record_count(box)
    data = {"comment": comments[20], "flag_reason": "spam", "flag_note": "", "csrf_token": token}
    refused(
        alice.client.post(f"/posts/{post_id}/flag", data=data),
        "You have flagged 20 times in the last hour. Please try again in 60 minutes.",
    )
    assert record_count(box) == count


def test_the_api_answers_json(app, box, new_browser):
    new_browser("Alice")
    api = ApiClient(app.test_client(), token_for(box, "Alice"))
    for n in range(10):
        assert (
            api.post("/api/v1/posts", json={**POST_DEFAULTS, "title": f"P{n}"}).status_code == 201
        )
    count = record_count(box)
    response = api.post("/api/v1/posts", json=POST_DEFAULTS)
    assert response.status_code == 429
    assert response.get_json() == {
        "error": "You have posted 10 times in the last hour. Please try again in 60 minutes."
    }
    assert response.headers["Retry-After"] == "3600"
    assert record_count(box) == count
