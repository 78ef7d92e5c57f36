"""The "still needed?" pages: the question to the poster, the Gone quiet list, reviving."""

from __future__ import annotations

import pytest
from pagetools import (
    ADMIN,
    DAY_MS,
    Page,
    actor,
    flash_of,
    new_post,
    post_ids,
    record_count,
)

from appliance.models import Post
from appliance.services import assisted, stale

# Shorter than the defaults (30 and 7 days): a login lasts 30 days (session_days).
ASK_AFTER = 3 * DAY_MS
ANSWER_WITHIN = 2 * DAY_MS


@pytest.fixture(autouse=True)
def quick_rules(box):
    """Set the centre's rules as an adopted proposal would."""
    for name, ms in (("stale_days", ASK_AFTER), ("stale_answer_days", ANSWER_WITHIN)):
        box.log.append(
            "rule.set",
            {"name": name, "value": ms // DAY_MS, "proposal": None},
            subject=box.centre.id,
            scope="local",
        )


def asked(box, clock, browser, **fields) -> str:
    """Post as this browser's member and let the sweep ask about it."""
    post_id = new_post(browser, **fields)
    clock.advance(ASK_AFTER + 1)
    assert stale.sweep(box) >= 1
    return post_id


def gone_quiet(box, clock, browser, **fields) -> str:
    post_id = asked(box, clock, browser, **fields)
    clock.advance(ANSWER_WITHIN + 1)
    assert stale.sweep(box) >= 1
    return post_id


def test_the_poster_is_asked_on_the_board_and_on_the_post(box, clock, alice, bob):
    post_id = asked(box, clock, alice, title="Ladder for the gutter")
    board = alice.get("/")
    notice = board.one("section", class_="flash")
    assert notice.one("h2").text() == "Is this still needed?"
    assert [(a.text(), a.attrs["href"]) for a in notice.find_all("a")] == [
        ("Ladder for the gutter", f"/posts/{post_id}#still-needed")
    ]
    assert bob.get("/").find("section", class_="flash") is None

    page = alice.get(f"/posts/{post_id}")
    prompt = page.one("section", id="still-needed")
    assert prompt.one("strong").text() == "Is this still needed?"
    assert [b.text() for b in prompt.find_all("button")] == [
        "Yes, it is still needed",
        "No, it is not needed any more",
    ]
    assert bob.get(f"/posts/{post_id}").find("section", id="still-needed") is None


def test_yes_keeps_the_post_on_the_board(box, clock, alice):
    post_id = asked(box, clock, alice)
    page = alice.get(f"/posts/{post_id}")
    response = alice.submit(
        page, f"/posts/{post_id}/still-needed", containing="Yes, it is still needed"
    )
    after = alice.follow(response)
    assert flash_of(after) == "Thank you: the post stays on the board."
    assert after.find("section", id="still-needed") is None
    assert Post.get_by_id(post_id).asked_ms is None
    assert alice.get("/").find("section", class_="flash") is None


def test_no_resolves_the_post(box, clock, alice):
    post_id = asked(box, clock, alice)
    page = alice.get(f"/posts/{post_id}")
    response = alice.submit(
        page, f"/posts/{post_id}/still-needed", containing="No, it is not needed any more"
    )
    after = alice.follow(response)
    assert "no longer needed" in flash_of(after)
    assert "No longer needed" in after.one("section", class_="resolved").text()
    assert Post.get_by_id(post_id).status == "resolved"


def test_someone_else_cannot_answer(box, clock, alice, bob):
    post_id = asked(box, clock, alice)
    count = record_count(box)
    response = bob.post(f"/posts/{post_id}/still-needed", {"answer": "no"}, via="/")
    assert response.status_code == 403
    assert "Only the person who posted this" in Page(response).one(role="alert").text()
    assert record_count(box) == count
    assert Post.get_by_id(post_id).status == "open"


def test_a_bad_answer_says_so_beside_the_question(box, clock, alice):
    post_id = asked(box, clock, alice)
    count = record_count(box)
    response = alice.post(f"/posts/{post_id}/still-needed", {"answer": "maybe"}, via="/")
    assert response.status_code == 400
    page = Page(response)
    error = page.one("section", id="still-needed").one(class_="error")
    assert error.text() == "Please answer yes or no."
    assert record_count(box) == count


def test_answering_a_post_nobody_asked_about_is_refused(box, alice):
    post_id = new_post(alice)
    count = record_count(box)
    response = alice.post(f"/posts/{post_id}/still-needed", {"answer": "yes"}, via="/")
    assert response.status_code == 409
    assert "Nobody is asking about this post" in Page(response).one(role="alert").text()
    assert record_count(box) == count


def test_a_quiet_post_leaves_the_board_and_is_revived_from_the_list(box, clock, alice, bob):
    post_id = gone_quiet(box, clock, alice, title="Ladder for the gutter")
    assert post_ids(bob.get("/")) == []
    listed = bob.get("/?status=stale")
    assert post_ids(listed) == [post_id]
    assert listed.one("select", name="status").value() == "stale"
    card = listed.one("li", class_="card")
    assert "Gone quiet" in card.text()
    response = bob.submit(
        listed, f"/posts/{post_id}/revive", containing="Revive Ladder for the gutter"
    )
    after = bob.follow(response)
    assert flash_of(after) == "The post is back on the board."
    assert post_ids(bob.get("/")) == [post_id]
    assert post_ids(bob.get("/?status=stale")) == []


def test_a_quiet_posts_page_offers_revive_to_members_only(box, clock, alice, bob, browser):
    post_id = gone_quiet(box, clock, alice)
    page = bob.get(f"/posts/{post_id}")
    quiet = page.one("section", id="gone-quiet")
    assert quiet.one("strong").text() == "This went quiet"
    response = bob.submit(page, f"/posts/{post_id}/revive")
    assert response.status_code == 302
    assert not Post.get_by_id(post_id).stale

    other = gone_quiet(box, clock, alice, title="Another")
    visitor_page = browser.get(f"/posts/{other}")
    quiet = visitor_page.one("section", id="gone-quiet")
    assert quiet.find("form") is None
    assert quiet.one("a", href=f"/login?next=/posts/{other}").text() == "Log in"
    assert browser.get("/?status=stale").find("form", method="post") is None
    count = record_count(box)
    response = browser.post(f"/posts/{other}/revive", {})
    assert response.status_code == 401
    assert record_count(box) == count


def test_reviving_a_post_on_the_board_is_refused(box, alice, bob):
    post_id = new_post(alice)
    count = record_count(box)
    response = bob.post(f"/posts/{post_id}/revive", {}, via="/")
    assert response.status_code == 409
    assert "only posts that went quiet" in Page(response).one(role="alert").text()
    assert record_count(box) == count


def test_the_board_links_to_the_gone_quiet_list(browser):
    page = browser.get("/")
    assert page.one("a", href="/?status=stale").text() == "Posts that have gone quiet"
    options = [o.attrs["value"] for o in page.one("select", name="status").find_all("option")]
    assert options == ["", "open", "on_it", "resolved", "stale"]


def test_staff_are_asked_about_visitors_posts(box, clock, admin_client, alice):
    data = {
        "type": "need",
        "title": "Shopping upstairs",
        "details": "",
        "category": "household",
        "place": "Riverside",
        "needed_by": "",
        "visitor_name": "",
        "visitor_contact": "",
    }
    post_id = assisted.create_assisted_post(box, actor(box, ADMIN), data)
    clock.advance(ASK_AFTER + 1)
    stale.sweep(box)
    notice = admin_client.get("/").one("section", class_="flash")
    assert "Shopping upstairs (posted for a visitor)" in notice.text()
    assert alice.get("/").find("section", class_="flash") is None
    page = admin_client.get(f"/posts/{post_id}")
    response = admin_client.submit(
        page, f"/posts/{post_id}/still-needed", containing="No, it is not needed any more"
    )
    assert response.status_code == 302
    assert Post.get_by_id(post_id).status == "resolved"
