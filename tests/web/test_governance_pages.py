"""The governance pages: reading and accepting the code of conduct, the posting gate,
staff publishing a code, proposals and votes, and staff reviewing other centres' vouches."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from pagetools import (
    ADMIN,
    DAY_MS,
    START_MS,
    Page,
    actor,
    flash_of,
    member_id,
    new_post,
    record_count,
    recordmaker,
)

from appliance.kinds import RULES
from appliance.services import conduct, proposals
from appliance.services.rules import rule

CODE = "# How we use this board\n\nBe kind.\n"
GATE = "Please read and accept the centre's code of conduct before posting."


def publish(box, text: str = CODE) -> int:
    return conduct.publish_conduct(box, actor(box, ADMIN), text)


def location(response) -> str:
    parts = urlsplit(response.headers["Location"])
    return parts.path + ("?" + parts.query if parts.query else "")


# --- reading the code ----------------------------------------------------------------


def test_a_box_without_a_code_says_so(browser):
    page = browser.get("/conduct")
    assert page.one("h1").text() == "Code of conduct"
    assert "has not written down a code of conduct yet" in page.text()
    assert page.find("form", action="/conduct/accept") is None


def test_the_code_is_rendered_safely(box, browser):
    publish(
        box,
        "# Rules\n\n<script>alert('x')</script>\n\n[click](javascript:alert(1)) "
        "[home](/) [web](https://example.org/)\n\n![tracker](https://tracker.example/p.png)",
    )
    page = browser.get("/conduct")
    article = page.one("article", class_="conduct")
    assert [h.text() for h in article.find_all("h2")] == ["Rules"]
    assert len(page.find_all("h1")) == 1
    assert page.find("script") is None
    assert "<script>alert" not in page.html
    assert "&lt;script&gt;" in page.html  # shown as text
    assert page.find("img") is None and "tracker.example" not in page.html
    assert "tracker" in article.text()  # the image's words
    hrefs = [a.attrs["href"] for a in article.find_all("a")]
    assert hrefs == ["/", "https://example.org/"]
    assert not any("javascript" in link.lower() for link in page.links())
    assert "Version 1, the one in use." in page.text()
    # A visitor is asked to log in before accepting.
    assert page.find("form", action="/conduct/accept") is None
    assert "/login?next=/conduct" in page.links()


def test_earlier_versions_stay_readable(box, browser, clock):
    publish(box, "First rules")
    clock.advance(DAY_MS)
    publish(box, "Second rules")
    page = browser.get("/conduct")
    assert "Second rules" in page.one("article").text()
    assert {"/conduct/1", "/conduct/2"} <= set(page.links())
    old = browser.get("/conduct/1")
    assert "First rules" in old.one("article").text()
    assert "an earlier version, no longer in use" in old.text()
    assert "/conduct" in old.links()
    browser.get("/conduct/3", status=404)
    browser.get("/conduct/nope", status=404)


# --- accepting and the posting gate ---------------------------------------------------


def test_a_comment_leads_to_the_code_and_back(box, alice, bob):
    post_id = new_post(alice, title="Ladder wanted")  # before there was a code
    publish(box)
    before = record_count(box)

    page = bob.get(f"/posts/{post_id}")
    bob.headers["Referer"] = f"http://localhost/posts/{post_id}"  # as a browser sends it
    refused = bob.submit(page, data={"text": "I have one"}, containing="Post comment")

    assert refused.status_code == 303
    assert location(refused) == f"/conduct?next=/posts/{post_id}"
    assert record_count(box) == before
    code = bob.follow(refused)
    assert flash_of(code) == GATE
    form = code.form("/conduct/accept")
    assert form.one("input", name="next").attrs["value"] == f"/posts/{post_id}"
    assert form.one("input", name="version").attrs["value"] == "1"

    accepted = bob.submit(code, action="/conduct/accept")
    assert accepted.status_code == 302
    assert location(accepted) == f"/posts/{post_id}"
    assert record_count(box) == before + 1
    assert flash_of(bob.follow(accepted)) == "Thank you for accepting the code of conduct."
    assert not conduct.needs_acceptance(box, actor(box, "Bob"))
    page = bob.get("/conduct")
    assert "You have accepted this version." in page.text()
    assert page.find("form", action="/conduct/accept") is None

    page = bob.get(f"/posts/{post_id}")
    response = bob.submit(page, data={"text": "I have one"}, containing="Post comment")
    assert response.status_code == 302
    assert "I have one" in bob.follow(response).text()


def test_the_posting_form_leads_to_the_code_too(box, alice):
    publish(box)
    before = record_count(box)
    page = alice.get("/new/form")
    refused = alice.submit(
        page,
        data={"type": "need", "title": "Tins", "place": "Hall", "category": "food"},
    )
    assert refused.status_code == 303
    assert location(refused) == "/conduct?next=/new/form"
    assert record_count(box) == before


def test_the_api_answers_the_gate_in_json(box, app):
    publish(box)

    @app.get("/api/v1/gate-test")
    def _gate():  # a stand-in API route that posts as a member who has not accepted
        from appliance.services import accounts, board

        member = accounts.actor_for(box, accounts.sign_up(box, "Api User", "password-123"))
        board.create_post(box, member, {})

    response = app.test_client().get("/api/v1/gate-test")
    assert response.status_code == 403
    assert response.get_json() == {"error": GATE}


def test_a_code_that_changed_while_reading_is_not_accepted(box, alice, clock):
    publish(box, "First rules")
    page = alice.get("/conduct")
    clock.advance(1000)
    publish(box, "Second rules")
    before = record_count(box)

    response = alice.submit(page, action="/conduct/accept")

    assert response.status_code == 409
    again = Page(response)
    assert again.one(role="alert").text() == (
        "The code of conduct changed while you were reading: please read the new version"
    )
    assert "Second rules" in again.one("article").text()
    assert again.form("/conduct/accept").one("input", name="version").attrs["value"] == "2"
    assert record_count(box) == before


def test_accepting_twice_or_as_a_visitor_changes_nothing(box, alice, browser):
    publish(box)
    assert alice.post("/conduct/accept", {"version": "1"}, via="/conduct").status_code == 302
    before = record_count(box)
    response = alice.post("/conduct/accept", {"version": "1"}, via="/conduct")
    assert response.status_code == 409
    assert "already accepted" in Page(response).one(role="alert").text()
    response = browser.post("/conduct/accept", {"version": "1"}, via="/signup")
    assert response.status_code == 401
    assert record_count(box) == before


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x"]
)
def test_after_accepting_only_same_site_pages(box, alice, target):
    publish(box)
    response = alice.post("/conduct/accept", {"version": "1", "next": target}, via="/conduct")
    assert response.status_code == 302
    assert location(response) == "/"


def test_a_changed_code_asks_again(box, alice, clock):
    publish(box, "First rules")
    alice.post("/conduct/accept", {"version": "1"}, via="/conduct")
    clock.advance(1000)
    publish(box, "Second rules")
    page = alice.get("/conduct?next=/new/form")
    assert "The code has changed since you accepted version 1." in page.text()
    assert page.form("/conduct/accept").one("input", name="next").attrs["value"] == "/new/form"
    unsafe = alice.get("/conduct?next=//evil.example")
    assert unsafe.form("/conduct/accept").one("input", name="next").attrs["value"] == "/"


# --- staff publishing -----------------------------------------------------------------


def test_staff_publish_a_new_version(box, staff_client, alice):
    publish(box)
    page = staff_client.get("/staff/conduct")
    assert page.field("text").value() == CODE.strip()
    before = record_count(box)

    response = staff_client.submit(
        page, data={"text": CODE + "\nNo selling.", "note": "Added: no selling"}
    )

    assert response.status_code == 302
    shown = staff_client.follow(response)
    assert flash_of(shown) == "Version 2 of the code of conduct is published."
    assert "No selling." in shown.one("article").text()
    assert "Added: no selling" in shown.text()
    assert record_count(box) == before + 1
    alice.get("/staff/conduct", status=403)


@pytest.mark.parametrize(
    ("text", "status", "where", "message"),
    [
        ("  ", 400, "text", "Please write the code of conduct."),
        ("r" * 20_001, 400, "text", "Please keep the code of conduct under 20,000 characters."),
        (CODE, 409, None, "That is the code of conduct as it already is: nothing changed."),
    ],
)
def test_staff_bad_codes_are_refused(box, staff_client, text, status, where, message):
    publish(box)
    before = record_count(box)
    response = staff_client.submit(staff_client.get("/staff/conduct"), data={"text": text})
    assert response.status_code == status
    page = Page(response)
    if where:
        assert page.error_for(where) == message
        assert page.field("text").attrs["aria-describedby"] == "h-text e-text"
    else:
        assert page.one(role="alert").text() == message
    assert record_count(box) == before


def test_members_cannot_publish_a_code(box, alice):
    before = record_count(box)
    response = alice.post("/staff/conduct", {"text": "My rules"}, via="/me")
    assert response.status_code == 403
    assert record_count(box) == before


# --- proposals and votes ---------------------------------------------------------------


PROPOSAL = {
    "title": "Hide posts after 5 flags",
    "reason": "Three is too few for a busy board.",
    "change": "rule",
    "rule": "flags_to_hide",
    "value": "5",
}


def propose(browser, **changes) -> str:
    page = browser.get("/proposals/new")
    response = browser.submit(page, data={**PROPOSAL, **changes})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return location(response).rsplit("/", 1)[1]


def vote(browser, proposal_id, choice, reason=""):
    page = browser.get(f"/proposals/{proposal_id}")
    return browser.submit(
        page, action=f"/proposals/{proposal_id}/vote", data={"choice": choice, "reason": reason}
    )


def test_members_propose_vote_and_the_change_is_adopted(box, clock, alice, bob, new_browser):
    before = record_count(box)
    page = alice.get("/proposals/new")
    response = alice.submit(page, data=PROPOSAL)
    assert response.status_code == 302
    shown = alice.follow(response)
    assert flash_of(shown) == "Your proposal is open for votes."
    assert shown.one("h1").text() == PROPOSAL["title"]
    assert "change from 3 to 5" in shown.text()
    assert record_count(box) == before + 1
    proposal_id = shown.url.rsplit("/", 1)[1]

    for voter in (bob, new_browser("Carol"), new_browser("Dan")):
        response = vote(voter, proposal_id, "agree")
        assert response.status_code == 302
        assert flash_of(voter.follow(response)) == "Thank you: your vote is counted."
    listing = alice.get("/proposals")
    assert (
        "3 agree · 0 abstain · 0 object" in listing.one("section", aria_labelledby="open-h").text()
    )

    clock.advance(RULES["vote_days"] * DAY_MS)
    listing = alice.get("/proposals")  # the page closes what is due
    assert "Nothing is open for votes just now." in listing.text()
    decided = listing.one("section", aria_labelledby="decided-h").text()
    assert "Adopted" in decided and PROPOSAL["title"] in decided
    rules = listing.one("section", aria_labelledby="rules-h")
    row = next(tr for tr in rules.find_all("tr") if "Flags from different" in tr.text())
    assert "5 (decided by vote)" in row.text()
    assert rule(box, "flags_to_hide") == 5


def test_objections_show_their_reasons_but_never_who(box, alice, bob, browser):
    proposal_id = propose(alice)
    before = record_count(box)
    refused = vote(bob, proposal_id, "object")
    assert refused.status_code == 400
    page = Page(refused)
    assert page.error_for("reason") == "Please say why you object, so others can see."
    assert page.field("reason").attrs["aria-describedby"] == "h-reason e-reason"
    assert record_count(box) == before

    assert vote(bob, proposal_id, "object", "We would miss spam").status_code == 302
    for viewer in (browser, alice):
        page = viewer.get(f"/proposals/{proposal_id}")
        objections = page.one("section", aria_labelledby="votes-h")
        assert "We would miss spam" in objections.text()
        assert "Bob" not in page.text()
    mine = bob.get(f"/proposals/{proposal_id}")
    assert "You voted: Object · We would miss spam" in mine.text()
    assert mine.find("form", action=f"/proposals/{proposal_id}/vote") is None
    assert (
        "/login?next=/proposals/" + proposal_id in browser.get(f"/proposals/{proposal_id}").links()
    )

    again = bob.post(f"/proposals/{proposal_id}/vote", {"choice": "agree"}, via="/me")
    assert again.status_code == 409
    assert Page(again).one(role="alert").text() == "You have already voted on this proposal."
    assert record_count(box) == before + 1


def test_votes_after_the_deadline_are_refused(box, clock, alice, bob):
    proposal_id = propose(alice)
    page = bob.get(f"/proposals/{proposal_id}")
    clock.advance(RULES["vote_days"] * DAY_MS)
    before = record_count(box)
    response = bob.submit(page, action=f"/proposals/{proposal_id}/vote", data={"choice": "agree"})
    assert response.status_code == 409
    assert Page(response).one(role="alert").text() == "Voting on this proposal has closed."
    assert record_count(box) == before
    shown = bob.get(f"/proposals/{proposal_id}")  # closes it: too few votes
    assert "Not adopted" in shown.text()
    assert record_count(box) == before + 1


def test_bad_proposals_show_what_is_wrong_beside_each_field(box, alice):
    before = record_count(box)
    page = alice.get("/proposals/new")
    response = alice.submit(page, data={"title": "", "reason": "", "change": None})
    assert response.status_code == 400
    page = Page(response)
    assert page.error_for("title") == "Please give the proposal a short title."
    assert page.error_for("reason") == "Please say why: it helps people decide."
    assert page.error_for("change") == "Please choose what the proposal changes."

    response = alice.submit(page, data={**PROPOSAL, "value": "500"})
    assert response.status_code == 400
    page = Page(response)
    assert page.error_for("value") == (
        "Please give a whole number within the range shown for this rule."
    )
    assert page.field("title").value() == PROPOSAL["title"]  # kept what was typed
    assert record_count(box) == before


def test_a_second_open_proposal_on_one_rule_is_refused(box, alice, bob):
    propose(alice)
    before = record_count(box)
    response = bob.submit(bob.get("/proposals/new"), data={**PROPOSAL, "value": "6"})
    assert response.status_code == 409
    assert "already an open proposal" in Page(response).one(role="alert").text()
    assert record_count(box) == before


def test_a_new_code_can_be_proposed(box, alice):
    publish(box)
    alice.post("/conduct/accept", {"version": "1"}, via="/conduct")
    page = alice.get("/proposals/new")
    assert page.field("text").value() == CODE.strip()  # starts from the code in use
    proposal_id = propose(alice, change="conduct", rule="", value="", text=CODE + "\nNo selling.")
    page = alice.get(f"/proposals/{proposal_id}")
    assert "No selling." in page.one("article", class_="conduct").text()


def test_proposing_needs_a_signed_in_member_who_accepted_the_code(box, browser, alice):
    response = browser.client.get("/proposals/new")
    assert response.status_code == 302
    assert location(response) == "/login?next=/proposals/new"
    publish(box)
    response = alice.client.get("/proposals/new")
    assert response.status_code == 303
    assert location(response) == "/conduct?next=/proposals/new"


def test_unknown_proposals_are_404(box, alice):
    alice.get("/proposals/" + "0" * 64, status=404)
    before = record_count(box)
    response = alice.post("/proposals/" + "0" * 64 + "/vote", {"choice": "agree"}, via="/me")
    assert response.status_code == 404
    assert record_count(box) == before


def test_proposal_pages_call_close_due(box, clock, alice):
    """Both pages close what is due, so a result shows without waiting for a sweep."""
    proposal_id = propose(alice)
    clock.advance(RULES["vote_days"] * DAY_MS)
    alice.get(f"/proposals/{proposal_id}")
    assert proposals.list_proposals(box)["open"] == []


# --- vouches from other centres --------------------------------------------------------


@pytest.fixture
def east_vouch(box, alice):
    """East Centre (trusted) verified Alice in person and made her a driver there."""
    maker = recordmaker()
    east = maker.Origin("East Centre", start_ms=START_MS - DAY_MS)
    box.log.append("trust.granted", {"origin": east.origin, "name": "East Centre"})
    alice_id = member_id("Alice")
    made = [
        east.make("centre.created", {"name": "East Centre", "timezone": "Europe/London"}),
        east.make("member.verified", {}, subject=alice_id),
        east.make("role.granted", {"role": "driver", "expires": None}, subject=alice_id),
    ]
    assert box.log.ingest([m.line for m in made]).ok
    return east.origin


def test_staff_review_a_vouch_from_another_centre(box, staff_client, alice, east_vouch):
    alice_id = member_id("Alice")
    url = f"/staff/members/{alice_id}/vouches"
    page = staff_client.get(url)
    assert page.one("h1").text() == "Vouches for Alice from other centres"
    rows = [tr.text() for tr in page.one("tbody").find_all("tr")]
    assert rows[0].startswith("East Centre Verified in person")
    assert "Role: driver" in rows[1]
    assert "Not reviewed" in rows[0]
    assert "Verified here: No" in page.text()
    before = record_count(box)

    response = staff_client.submit(page, action=f"{url}/review", containing="Accept")

    assert response.status_code == 302
    page = staff_client.follow(response)
    assert flash_of(page) == "Saved: this centre's answer to that vouch."
    assert "Verified here: Yes" in page.text()
    assert "Accepted" in page.one("tbody").text()
    assert record_count(box) == before + 1
    # Now only the other answer is offered.
    response = staff_client.submit(page, action=f"{url}/review", containing="Do not accept")
    assert "Verified here: No" in staff_client.follow(response).text()


def test_vouch_reviews_are_for_staff_and_real_vouches(box, staff_client, alice, east_vouch):
    alice_id = member_id("Alice")
    url = f"/staff/members/{alice_id}/vouches"
    before = record_count(box)
    alice.get(url, status=403)
    response = alice.post(f"{url}/review", {"origin": east_vouch, "accepted": "1"}, via="/me")
    assert response.status_code == 403
    response = staff_client.post(f"{url}/review", {"origin": "nobody", "accepted": "1"}, via="/me")
    assert response.status_code == 404
    assert "has not vouched" in Page(response).one(role="alert").text()
    response = staff_client.post(
        f"{url}/review", {"origin": east_vouch, "accepted": "x"}, via="/me"
    )
    assert response.status_code == 400
    assert Page(response).one(role="alert").text() == "Please choose Accept or Do not accept."
    staff_client.get("/staff/members/" + "0" * 64 + "/vouches", status=404)
    assert record_count(box) == before


def test_a_member_without_vouches_elsewhere(staff_client, bob):
    page = staff_client.get(f"/staff/members/{member_id('Bob')}/vouches")
    assert "No other centre has vouched for this member." in page.text()
