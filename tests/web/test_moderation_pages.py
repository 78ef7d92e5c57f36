"""Moderation pages: the "Report" forms, the automatic hide, staff's queue, an author's
appeal, the public log (which names nobody) and each paired centre's choice."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pagetools import (
    ADMIN,
    START_MS,
    Browser,
    Page,
    actor,
    flash_of,
    new_post,
    post_ids,
    record_count,
)

from appliance.models import Flag, MemberPrivate
from appliance.records import public_key_text
from appliance.services import board, moderation

TITLE = "Lift for Mrs Okafor to the clinic"
DETAILS = "Ring me on 07700 900321, flat 4 Mill House."
COMMENT = "I can drive her, my number is 07700 900999"


@pytest.fixture
def alices_post(alice) -> str:
    return new_post(alice, title=TITLE, details=DETAILS)


def report_form(page: Page, comment: str | None = None):
    """The "Report" form of the post, or of one comment."""
    if comment is None:
        return page.one("article").one("form", action=page.url + "/flag")
    li = page.one("li", id=f"c-{comment[:12]}")
    return li.one("form")


def error_at(page: Page, control_id: str) -> str | None:
    """The error the control points at with aria-describedby (None when there is none)."""
    control = page.one(id=control_id)
    ids = control.attrs.get("aria-describedby", "").split()
    errors = [e.text() for e in page.find_all(class_="error") if e.attrs.get("id") in ids]
    return errors[0] if errors else None


def facts(node) -> dict[str, str]:
    """Return the <dt> -> <dd> pairs of the first <dl> under node."""
    dl = node.one("dl") if node.tag != "dl" else node
    terms, values = dl.find_all("dt"), dl.find_all("dd")
    return dict(zip([t.text() for t in terms], [d.text() for d in values], strict=True))


def queue_card(page: Page, section: str, text: str):
    """The card in a queue section (by its heading id) that mentions text."""
    heading = page.one("h2", id=section)
    cards = [c for c in heading.parent.find_all("div", class_="card") if text in c.text()]
    assert len(cards) == 1, cards
    return cards[0]


# --- reporting ---------------------------------------------------------------------------


def test_a_member_reports_a_post_once(alices_post, alice, bob, browser, box):
    page = bob.get(f"/posts/{alices_post}")
    form = report_form(page)
    labels = [o.text() for o in form.one("select", name="flag_reason").find_all("option")]
    assert labels == [
        "Spam",
        "Offensive",
        "Personal information",
        "Does not belong here",
        "Something else",
    ]
    assert form.one("label", for_="fr-" + alices_post[:12]).text() == "What is wrong?"
    before = record_count(box)
    response = bob.submit(page, form=form, data={"flag_reason": "off_topic"})
    page = bob.follow(response)
    assert flash_of(page) == "Thank you. Staff will look at it."
    assert record_count(box) == before + 1
    assert "You reported this post." in page.one("article").text()
    assert page.one("article").find("form", action=f"/posts/{alices_post}/flag") is None
    # Sent again (an old tab): refused, nothing written.
    response = bob.post(f"/posts/{alices_post}/flag", {"flag_reason": "spam"}, via="/")
    assert response.status_code == 409
    assert "You have already flagged this; staff will look at it." in Page(response).text()
    assert record_count(box) == before + 1
    # Nobody reports their own post, and visitors see no report form.
    assert alice.get(f"/posts/{alices_post}").find("details", class_="report") is None
    assert browser.get(f"/posts/{alices_post}").find("details", class_="report") is None


def test_something_else_needs_a_note_beside_the_field(alices_post, bob, box):
    page = bob.get(f"/posts/{alices_post}")
    before = record_count(box)
    response = bob.submit(page, form=report_form(page), data={"flag_reason": "other"})
    assert response.status_code == 400
    page = Page(response)
    note_id = "fn-" + alices_post[:12]
    assert error_at(page, note_id) == "Please say what is wrong, so staff know what to look for."
    assert page.one(id=note_id).attrs["aria-invalid"] == "true"
    assert "open" in page.one("article").one("details", class_="report").attrs
    assert record_count(box) == before
    response = bob.post(f"/posts/{alices_post}/flag", {"flag_reason": "boring"}, via="/")
    assert response.status_code == 400
    assert error_at(Page(response), "fr-" + alices_post[:12]) == "Please choose what is wrong."
    assert record_count(box) == before


def test_visitors_cannot_report(alices_post, browser, box):
    before = record_count(box)
    response = browser.post(f"/posts/{alices_post}/flag", {"flag_reason": "spam"}, via="/login")
    assert response.status_code == 401
    assert record_count(box) == before


def test_reporting_a_comment(alices_post, alice, bob, box):
    comment = board.add_comment(box, actor(box, "Bob"), alices_post, COMMENT)
    page = alice.get(f"/posts/{alices_post}")
    form = report_form(page, comment)
    response = alice.submit(page, form=form, data={"flag_reason": "personal_info"})
    assert response.headers["Location"] == f"/posts/{alices_post}#c-{comment[:12]}"
    flag = Flag.get()
    assert (flag.comment, flag.reason) == (comment, "personal_info")
    page = alice.get(f"/posts/{alices_post}")
    assert "You reported this comment." in page.one("li", id=f"c-{comment[:12]}").text()
    # Bob's own comment has no report form for him.
    page = bob.get(f"/posts/{alices_post}")
    assert page.one("li", id=f"c-{comment[:12]}").find("form") is None


def test_three_reports_hide_a_post_until_staff_decide(
    alices_post, alice, new_browser, staff_client, box
):
    people = [new_browser(name) for name in ("Carol", "Dev", "Eve")]
    for person in people[:2]:
        page = person.get(f"/posts/{alices_post}")
        person.submit(page, form=report_form(page), data={"flag_reason": "spam"})
    assert post_ids(alice.get("/")) == [alices_post]
    page = people[2].get(f"/posts/{alices_post}")
    response = people[2].submit(page, form=report_form(page), data={"flag_reason": "spam"})
    assert response.headers["Location"] == "/"
    assert flash_of(people[2].follow(response)) == (
        "Thank you. Enough people reported it, so it is hidden until staff look at it."
    )
    people[0].get(f"/posts/{alices_post}", status=404)
    assert post_ids(people[0].get("/")) == []

    queue = staff_client.get("/staff/moderation")
    card = queue_card(queue, "pending-h", TITLE)
    assert "Flagged by 3 members: Spam (3)" in card.text()
    before = record_count(box)
    response = staff_client.submit(
        queue,
        form=card.one("form", action=f"/staff/moderation/posts/{alices_post}/restore"),
        data={"reason": "A real request"},
    )
    page = staff_client.follow(response)
    assert flash_of(page) == "Shown again. Its flags are answered."
    assert "Nothing waiting." in page.one("h2", id="pending-h").parent.text()
    assert record_count(box) == before + 1
    assert post_ids(people[0].get("/")) == [alices_post]
    assert Flag.select().where(Flag.counts).count() == 0


def test_staff_keep_an_automatic_hide_with_a_rule(alices_post, new_browser, staff_client, box):
    for name in ("Carol", "Dev", "Eve"):
        person = _member(box, new_browser, name)
        moderation.flag(box, person, alices_post, None, "offensive")
    queue = staff_client.get("/staff/moderation")
    card = queue_card(queue, "pending-h", TITLE)
    form = card.one("form", action=f"/staff/moderation/posts/{alices_post}/hide")
    before = record_count(box)
    response = staff_client.submit(queue, form=form, data={"rule": "offensive", "reason": ""})
    assert response.status_code == 400
    page = Page(response)
    card = queue_card(page, "pending-h", TITLE)
    reason = card.one("form", action=form.attrs["action"]).one("input", name="reason")
    assert error_at(page, reason.attrs["id"]) == "Please say why, so others can see the decision."
    assert record_count(box) == before
    response = staff_client.submit(
        page,
        form=card.one("form", action=form.attrs["action"]),
        data={"rule": "offensive", "reason": "Insults a neighbour"},
    )
    assert flash_of(staff_client.follow(response)) == (
        "Hidden. The author can see why and appeal once."
    )
    assert record_count(box) == before + 1
    newest = staff_client.get("/moderation").find_all("li", class_="card")[0]
    assert facts(newest) == {
        "Rule": "Offensive",
        "By": "Staff of this centre",
        "Reason": "Insults a neighbour",
    }


def _member(box, new_browser, name: str):
    new_browser(name)
    return actor(box, name)


def test_the_queue_is_for_staff_only(alice, browser):
    alice.get("/staff/moderation", status=403)
    alice.get("/staff/moderation/peers", status=403)
    assert browser.get("/staff/moderation", status=302).status == 302


def test_staff_clear_flags_on_the_queue(alices_post, bob, staff_client, box):
    page = bob.get(f"/posts/{alices_post}")
    bob.submit(page, form=report_form(page), data={"flag_reason": "other", "flag_note": "Odd"})
    queue = staff_client.get("/staff/moderation")
    card = queue_card(queue, "flagged-h", TITLE)
    assert "Something else (1)" in card.text() and "Odd" in card.text()
    response = staff_client.submit(
        queue, form=card.one("form", action=f"/staff/moderation/posts/{alices_post}/clear")
    )
    page = staff_client.follow(response)
    assert flash_of(page) == "Flags cleared: nothing wrong."
    assert "Nothing flagged." in page.one("h2", id="flagged-h").parent.text()


def test_staff_nav_links_to_moderation(staff_client):
    page = staff_client.get("/staff/moderation")
    nav = page.one("nav", aria_label="Staff pages")
    assert nav.one("strong", aria_current="page").text() == "Moderation"


# --- appeals -----------------------------------------------------------------------------


def test_the_author_sees_why_and_appeals_once(alices_post, alice, bob, staff_client, box):
    moderation.set_post_hidden(
        box, actor(box, ADMIN), alices_post, True, "Looks like an advert", rule="spam"
    )
    page = alice.get(f"/posts/{alices_post}/appeal")
    card = page.one("div", class_="hidden-item")
    assert facts(card) == {"Rule": "Spam", "Reason": "Looks like an advert"}
    before = record_count(box)
    response = alice.submit(page, form=card.one("form"), data={"appeal": "  "})
    assert response.status_code == 400
    page = Page(response)
    textarea = page.one("textarea", name="appeal")
    assert error_at(page, textarea.attrs["id"]) == "Please say why it should be shown again."
    assert record_count(box) == before
    response = alice.submit(
        page,
        form=page.one("div", class_="hidden-item").one("form"),
        data={"appeal": "It is a real need"},
    )
    page = alice.follow(response)
    assert flash_of(page) == "Your appeal is sent. Staff will answer it once, here."
    assert page.find("textarea", name="appeal") is None
    assert "Staff have not answered yet." in page.text()
    assert record_count(box) == before + 1
    # A second appeal (an old tab) is refused; so is anyone else's.
    response = alice.post(f"/posts/{alices_post}/appeal", {"appeal": "Again"}, via="/")
    assert response.status_code == 409
    assert "You have already appealed; an appeal is answered once." in Page(response).text()
    response = bob.post(f"/posts/{alices_post}/appeal", {"appeal": "Let it be"}, via="/")
    assert response.status_code == 403
    assert (
        "Nothing of yours on this post is hidden." in bob.get(f"/posts/{alices_post}/appeal").text()
    )
    assert record_count(box) == before + 1

    queue = staff_client.get("/staff/moderation")
    card = queue_card(queue, "appeals-h", "It is a real need")
    assert "Alice appealed" in card.text()
    response = staff_client.submit(
        queue, form=card.one("form"), data={"outcome": "overturned", "reason": "Checked"}
    )
    assert flash_of(staff_client.follow(response)) == (
        "The appeal is answered. The author can see your answer."
    )
    assert post_ids(bob.get("/")) == [alices_post]
    page = alice.get(f"/posts/{alices_post}/appeal")
    assert "Your appeal was accepted: it is shown again." in page.text()
    assert "Staff's answer: Checked" in page.text()
    log = bob.get("/moderation").one("main").text()
    assert "An appeal succeeded: the decision was overturned." in log


def test_answering_an_appeal_needs_a_choice_and_a_reason(alices_post, alice, staff_client, box):
    moderation.set_post_hidden(box, actor(box, ADMIN), alices_post, True, "Advert")
    moderation.appeal(box, actor(box, "Alice"), alices_post, None, "Not an advert")
    queue = staff_client.get("/staff/moderation")
    card = queue_card(queue, "appeals-h", "Not an advert")
    before = record_count(box)
    response = staff_client.submit(queue, form=card.one("form"), data={"reason": ""})
    assert response.status_code == 400
    page = Page(response)
    card = queue_card(page, "appeals-h", "Not an advert")
    assert "Please choose whether it stays hidden or is shown again." in (
        card.one("fieldset").text()
    )
    assert record_count(box) == before


def test_an_author_sees_why_their_comment_was_hidden_on_the_post(alices_post, bob, box):
    comment = board.add_comment(box, actor(box, "Bob"), alices_post, COMMENT)
    moderation.set_comment_hidden(
        box, actor(box, ADMIN), comment, True, "Phone numbers go to staff", rule="personal_info"
    )
    page = bob.get(f"/posts/{alices_post}")
    why = page.one("section", class_="why-hidden")
    assert facts(why) == {"Rule": "Personal information", "Reason": "Phone numbers go to staff"}
    assert COMMENT not in page.html  # the post page may be on the hall's screen
    response = bob.submit(page, form=why.one("form"), data={"appeal": "I meant it kindly"})
    assert response.headers["Location"] == f"/posts/{alices_post}/appeal"
    assert moderation.author_view(box, actor(box, "Bob"), alices_post)["items"][0]["appeal"]


# --- the public log ----------------------------------------------------------------------


def test_the_public_log_names_nobody(alices_post, alice, bob, browser, new_browser, box):
    MemberPrivate.replace(member=actor(box, "Alice").id, contact="alice@example.org").execute()
    comment = board.add_comment(box, actor(box, "Bob"), alices_post, COMMENT)
    for name in ("Carol", "Dev", "Eve"):
        moderation.flag(
            box,
            _member(box, new_browser, name),
            alices_post,
            comment,
            "spam",
            "Bob keeps posting his number",
        )
    admin = actor(box, ADMIN)
    moderation.set_post_hidden(box, admin, alices_post, True, "Private details", rule="conduct")
    page = browser.get("/moderation")
    main = page.one("main").text()
    assert "A comment was hidden" in main
    assert "Automatically, after flags from members" in main
    assert "A post in Travel and lifts was hidden" in main
    assert facts(page.find_all("li", class_="card")[0]) == {
        "Rule": "The code of conduct",
        "By": "Staff of this centre",
        "Reason": "Private details",
    }
    for secret in (
        "Alice",
        "Bob",
        "Carol",
        ADMIN,
        TITLE,
        DETAILS,
        "07700",
        COMMENT,
        "alice@example.org",
        alices_post,
        comment,
        actor(box, "Alice").id,
    ):
        assert secret not in page.html, secret
    assert all("/posts/" not in href for href in page.links())


def test_the_log_pages_back_in_time(alices_post, browser, box, clock):
    admin = actor(box, ADMIN)
    for n in range(51):
        clock.advance(1000)
        moderation.set_post_hidden(box, admin, alices_post, n % 2 == 0, f"Step {n}")
    page = browser.get("/moderation")
    assert len(page.one("ol", class_="modlog").find_all("li")) == 50
    older = next(h for h in page.links() if "before=" in h)
    page = browser.get(older)
    assert [facts(li)["Reason"] for li in page.find_all("li", class_="card")] == ["Step 0"]
    assert browser.get("/moderation?before=junk").status == 200


# --- per-peer choice ---------------------------------------------------------------------


def another_box() -> str:
    """Return the origin (public key) of a box nobody has met."""
    return public_key_text(Ed25519PrivateKey.generate())


def paired(box) -> str:
    """Pair the box with another (as `kith peer confirm` records it); return its origin."""
    origin = another_box()
    box.log.append("trust.granted", {"origin": origin, "name": "Riverside"})
    return origin


def test_staff_choose_how_a_paired_centre_counts(staff_client, box):
    peer = paired(box)
    page = staff_client.get("/staff/moderation/peers")
    form = page.one("main").one("form")
    assert [i.attrs["value"] for i in form.find_all("input", type="radio", checked=True)] == [
        "honour"
    ]
    before = record_count(box)
    response = staff_client.submit(page, form=form, data={"mode": "review"})
    page = staff_client.follow(response)
    assert flash_of(page) == "Saved. Posts that centre moderated are shown or hidden to match."
    assert record_count(box) == before + 1
    checked = page.one("main").find_all("input", type="radio", checked=True)
    assert [i.attrs["value"] for i in checked] == ["review"]
    # An origin this box is not paired with is refused, and so is a made-up mode.
    response = staff_client.post(
        "/staff/moderation/peers",
        {"origin": another_box(), "mode": "ignore"},
        via="/staff/moderation/peers",
    )
    assert response.status_code == 400
    assert "That is not a centre this box exchanges records with." in Page(response).text()
    response = staff_client.post(
        "/staff/moderation/peers",
        {"origin": peer, "mode": "sometimes"},
        via="/staff/moderation/peers",
    )
    assert response.status_code == 400
    assert record_count(box) == before + 1


def test_members_cannot_set_peer_choices(alice, box):
    peer = paired(box)
    before = record_count(box)
    response = alice.post("/staff/moderation/peers", {"origin": peer, "mode": "ignore"}, via="/")
    assert response.status_code == 403
    assert record_count(box) == before


def test_a_browser_flag_uses_the_pages_token(alices_post, bob: Browser):
    response = bob.client.post(f"/posts/{alices_post}/flag", data={"flag_reason": "spam"})
    assert response.status_code == 400  # no csrf_token: refused
    assert Flag.select().count() == 0


@pytest.fixture
def peer_hide(box, monkeypatch) -> dict:
    """A paired centre's post and its staff's hide, waiting for review here."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "appliance"))
    from recordmaker import Origin, post_body

    east = Origin("east-centre", start_ms=START_MS)
    box.log.append("trust.granted", {"origin": east.origin, "name": "East Centre"})
    moderation.set_peer_policy(box, actor(box, ADMIN), east.origin, "review")
    made = [east.make("centre.created", {"name": "East Centre", "timezone": "Europe/London"})]
    made.append(east.make("post.created", post_body("need", "East need"), author="e" * 64))
    # East's box makes "f" * 64 staff: only then do their hides count anywhere.
    made.append(east.make("role.granted", {"role": "staff", "expires": None}, subject="f" * 64))
    east.tick(60_000)
    hide = {"reason": "Sells things", "rule": "spam"}
    made.append(east.make("post.hidden", hide, subject=made[1].id, author="f" * 64))
    # Someone East never made staff hides a post too: that never counts.
    made.append(east.make("post.created", post_body("need", "East offer"), author="e" * 64))
    rogue = {"reason": "I want it gone", "rule": "spam"}
    made.append(east.make("post.hidden", rogue, subject=made[4].id, author="e" * 64))
    assert box.log.ingest([m.line for m in made]).ok
    return {"post": made[1].id, "hide": made[3].id, "other": made[4].id, "rogue": made[5].id}


@pytest.mark.parametrize("button", ["Accept here", "Dismiss"])
def test_staff_review_a_paired_centres_hide(peer_hide, bob, staff_client, box, button):
    assert sorted(post_ids(bob.get("/"))) == sorted([peer_hide["post"], peer_hide["other"]])
    queue = staff_client.get("/staff/moderation")
    card = queue_card(queue, "peer-h", "East need")
    assert "Staff of East Centre hid it" in card.text()
    assert facts(card) == {"Rule": "Spam", "Reason": "Sells things"}
    before = record_count(box)
    page = staff_client.follow(
        staff_client.submit(
            queue, form=next(f for f in card.find_all("form") if f.one("button").text() == button)
        )
    )
    assert record_count(box) == before + 1
    assert "Nothing to review." in page.one("h2", id="peer-h").parent.text()
    if button == "Accept here":
        assert flash_of(page) == "Accepted: it counts here now."
        assert post_ids(bob.get("/")) == [peer_hide["other"]]
    else:
        assert flash_of(page) == "Dismissed: it does not count here."
        assert sorted(post_ids(bob.get("/"))) == sorted([peer_hide["post"], peer_hide["other"]])
    response = staff_client.post(
        f"/staff/moderation/peer-hides/{peer_hide['hide']}", {"decision": "accept"}, via="/me"
    )
    assert response.status_code == 409
    assert record_count(box) == before + 1


def test_a_hide_by_someone_who_is_not_staff_shows_only_in_the_queue(
    peer_hide, staff_client, browser
):
    queue = staff_client.get("/staff/moderation")
    card = queue_card(queue, "unauthorised-h", "East offer")
    assert "Someone at East Centre hid it" in card.text()
    assert facts(card) == {"Rule": "Spam", "Reason": "I want it gone"}
    assert card.find("form") is None, "nothing to accept: it never counts"
    assert "East need" not in queue.one("h2", id="unauthorised-h").parent.text()
    assert "I want it gone" not in browser.get("/moderation").text()
    response = staff_client.post(
        f"/staff/moderation/peer-hides/{peer_hide['rogue']}", {"decision": "accept"}, via="/me"
    )
    assert response.status_code == 409


def test_staff_choose_for_a_centre_that_reaches_us_through_a_paired_one(
    staff_client, box, monkeypatch
):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "appliance"))
    from recordmaker import Origin

    hub, far = Origin("hub-centre", start_ms=START_MS), Origin("far-centre", start_ms=START_MS)
    box.log.append("trust.granted", {"origin": hub.origin, "name": "Hub"})
    # The hub's own pairing with the far centre reaches this box: it trusts far through hub.
    grant = hub.make("trust.granted", {"origin": far.origin, "name": "Far Centre"})
    assert box.log.ingest([grant.line]).ok
    page = staff_client.get("/staff/moderation/peers")
    forms = page.one("main").find_all("form")
    assert [f.one("legend").text().split()[0] for f in forms] == ["Hub", "Far"]
    assert "Paired with this centre." in forms[0].text()
    assert "Reaches this box through Hub." in forms[1].text()
    checked = [f.find("input", type="radio", checked=True).attrs["value"] for f in forms]
    assert checked == ["honour", "review"]
    before = record_count(box)
    page = staff_client.follow(staff_client.submit(page, form=forms[1], data={"mode": "honour"}))
    assert flash_of(page) == "Saved. Posts that centre moderated are shown or hidden to match."
    assert record_count(box) == before + 1
    forms = page.one("main").find_all("form")
    assert forms[1].find("input", type="radio", checked=True).attrs["value"] == "honour"
