"""Signing up, logging in and out, the member's own page and their private contact."""

from __future__ import annotations

from pagetools import PASSWORD, Page, new_post, record_count

from appliance.models import Account, Member, MemberPrivate


def session_cookie_header(response) -> str:
    headers = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("kith_session=")]
    assert len(headers) == 1, response.headers.getlist("Set-Cookie")
    return headers[0]


def facts_of(page) -> dict[str, str]:
    """Return the <dt>/<dd> pairs of a page."""
    terms = [dt.text() for dt in page.find_all("dt")]
    return dict(zip(terms, [dd.text() for dd in page.find_all("dd")], strict=True))


def test_signup_creates_a_member_logs_in_and_sets_a_safe_cookie(browser, box):
    before = record_count(box)

    response = browser.signup("Alice Smith", contact="07700 900123")

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    cookie = session_cookie_header(response)
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert record_count(box) == before + 1
    member = Member.get(Member.name == "Alice Smith")
    assert not member.verified
    assert MemberPrivate.get(MemberPrivate.member == member.id).contact == "07700 900123"

    board = browser.get("/")
    assert "Welcome! You can post and help now." in board.text()
    nav = board.one("nav", aria_label="Main")
    assert "Alice Smith" in nav.text()
    assert nav.find("form", action="/logout") is not None
    assert nav.find("a", href="/me") is not None
    assert "Sign up" not in nav.text()


def test_signup_returns_to_the_page_the_visitor_came_from(browser, alice):
    post_id = new_post(alice)
    post_page = browser.get(f"/posts/{post_id}")
    signup_link = post_page.one("main").one("a", href=f"/signup?next=/posts/{post_id}")

    page = browser.get(signup_link.attrs["href"])
    response = browser.submit(page, data={"name": "Bob", "password": PASSWORD})

    assert response.status_code == 302
    assert response.headers["Location"] == f"/posts/{post_id}"


def test_duplicate_name_is_refused_beside_the_field_and_keeps_what_was_typed(browser, alice, box):
    before = record_count(box)
    page = browser.get("/signup")

    response = browser.submit(
        page, data={"name": "  alice ", "password": PASSWORD, "contact": "alice2@example.org"}
    )

    assert response.status_code == 400
    again = Page(response)
    assert again.error_for("name") == (
        "Someone here already uses that name. Try adding an initial or a nickname."
    )
    assert again.field("name").value() == "  alice "
    assert again.field("contact").value() == "alice2@example.org"
    assert again.field("password").value() == "", "a password is never sent back"
    assert again.field("name").attrs["aria-invalid"] == "true"
    assert "e-name" in again.field("name").attrs["aria-describedby"]
    assert record_count(box) == before
    assert Account.select().count() == 2  # the admin and Alice
    assert browser.get("/me", status=302).response.headers["Location"].startswith("/login")


def test_short_password_shows_the_error_beside_the_password_and_keeps_the_name(browser, box):
    before = record_count(box)
    page = browser.get("/signup")

    response = browser.submit(page, data={"name": "Carol", "password": "short"})

    assert response.status_code == 400
    again = Page(response)
    assert again.error_for("password") == "Please use at least 8 characters."
    assert again.error_for("name") is None
    assert again.field("name").value() == "Carol"
    assert record_count(box) == before
    assert Member.get_or_none(Member.name == "Carol") is None


def test_every_bad_signup_field_is_reported_at_once(browser, box):
    before = record_count(box)
    page = browser.get("/signup")

    response = browser.submit(
        page, data={"name": "N" * 61, "password": "p" * 201, "contact": "c" * 201}
    )

    assert response.status_code == 400
    again = Page(response)
    assert again.error_for("name") == "Please keep your name under 60 characters."
    assert again.error_for("password") == "That password is too long (200 characters at most)."
    assert again.error_for("contact") == "Please keep contact details under 200 characters."
    assert again.field("name").value() == "N" * 61
    assert again.field("contact").value() == "c" * 201
    assert record_count(box) == before


def test_empty_name_is_refused(browser, box):
    before = record_count(box)
    response = browser.submit(browser.get("/signup"), data={"name": "   ", "password": PASSWORD})
    assert response.status_code == 400
    assert Page(response).error_for("name") == "Please enter the name people will see."
    assert record_count(box) == before


def test_login_with_a_wrong_password_says_so_and_keeps_the_name(browser, alice):
    page = browser.get("/login")

    response = browser.submit(page, data={"name": "Alice", "password": "wrong password"})

    assert response.status_code == 400
    again = Page(response)
    assert again.error_for("password") == "That name and password do not match."
    assert again.field("name").value() == "Alice"
    assert again.field("password").value() == ""
    assert browser.get("/me", status=302)


def test_login_with_an_unknown_name_gives_the_same_answer(browser):
    response = browser.login("Nobody Here")
    assert response.status_code == 400
    assert "That name and password do not match." in response.get_data(as_text=True)


def test_login_ignores_case_and_spaces_in_the_name_and_follows_next(browser, alice):
    page = browser.get("/login?next=/thanks")

    response = browser.submit(page, data={"name": "  ALICE ", "password": PASSWORD})

    assert response.status_code == 302
    assert response.headers["Location"] == "/thanks"
    assert "HttpOnly" in session_cookie_header(response)
    me = browser.get("/me")
    assert me.one("h1").text() == "Alice"


def test_logout_is_a_post_and_ends_the_session_on_the_server(alice, new_browser):
    old_cookie = alice.client.get_cookie("kith_session").value
    assert alice.get("/logout", status=405)
    assert alice.get("/me").one("h1").text() == "Alice", "a GET must not log anyone out"

    response = alice.post("/logout", via="/me")

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    board = alice.get("/")
    assert "You are logged out." in board.text()
    assert board.one("nav", aria_label="Main").find("a", href="/login?next=/") is not None
    # The old cookie, replayed by someone who copied it, no longer logs anyone in.
    thief = new_browser()
    thief.client.set_cookie("kith_session", old_cookie)
    assert thief.get("/me", status=302).response.headers["Location"] == "/login?next=/me"


def test_me_needs_a_login(browser):
    response = browser.get("/me", status=302).response
    assert response.headers["Location"] == "/login?next=/me"


def test_me_shows_the_member_their_own_details(new_browser, box):
    carol = new_browser("Carol", contact="carol@example.org")
    assert facts_of(carol.get("/me")) == {
        "Verified in person": "Not yet: ask the centre's staff",
        "Roles here": "member",
        "Contact details for staff": "carol@example.org",
    }


def test_admin_sees_their_roles_and_verification_on_me(admin_client):
    facts = facts_of(admin_client.get("/me"))
    assert facts["Verified in person"] == "Yes"
    assert facts["Roles here"] == "admin"


def test_private_contact_is_never_shown_to_other_members(new_browser, bob, box):
    carol = new_browser("Carol", contact="carol-secret@example.org")
    post_id = new_post(carol)
    carol.submit(
        carol.get(f"/posts/{post_id}"), data={"text": "Any takers?"}, containing="Post comment"
    )

    pages = [
        bob.get("/"),
        bob.get(f"/posts/{post_id}"),
        bob.get("/me"),
        bob.get("/thanks"),
        bob.get("/staff/members", status=403),
    ]
    for page in pages:
        assert "carol-secret" not in page.html, page
    for url in ("/api/v1/posts", f"/api/v1/posts/{post_id}", "/api/v1/thanks"):
        assert "carol-secret" not in bob.client.get(url).get_data(as_text=True), url
    assert "carol-secret@example.org" in carol.get("/me").html


def test_staff_can_see_a_members_private_contact(new_browser, staff_client):
    new_browser("Carol", contact="carol-secret@example.org")
    page = staff_client.get("/staff/members")
    assert "carol-secret@example.org" in page.html
