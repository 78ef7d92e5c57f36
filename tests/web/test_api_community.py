"""The community JSON API: moderation (public log, staff's queue and decisions, authors'
appeals), the code of conduct, proposals and votes, and the sync status.

The same services and checks as the pages: staff work needs the login on the box (a
personal token is refused with the reason), members act with a token or the login,
and a visitor reads only what the pages show a visitor. Every answer is checked
against the OpenAPI document (web/openapi/community.yaml).
"""

from __future__ import annotations

import base64
import os

import pytest
from apitools import ApiClient, assert_documented, session_api, token_for
from pagetools import ADMIN, DAY_MS, PASSWORD, POST_DEFAULTS, actor, record_count

from appliance.models import Appeal, Post, Proposal, Vote
from appliance.services import accounts, board, conduct, moderation, peers

NOT_STAFF = "Only the centre's staff can do that."
HOUR_MS = 3_600_000
TOKEN_FOR_STAFF = "A personal token cannot be used for staff work: sign in on the box instead."
CODE = "# Be kind\n\nNo spam, no abuse."


@pytest.fixture
def api(box, app, new_browser, staff_client) -> dict[str, ApiClient]:
    """Clients by name: members with tokens, a member and staff signed in on the box,
    staff with a token, a visitor."""
    for name in ("Alice", "Bob"):
        accounts.sign_up(box, name, PASSWORD)
    clients = {
        name: ApiClient(app.test_client(), token_for(box, name)) for name in ("Alice", "Bob")
    }
    clients["visitor"] = ApiClient(app.test_client())
    clients["staff"] = session_api(staff_client)
    clients["member"] = session_api(new_browser("Carol"))
    clients["staff_token"] = ApiClient(app.test_client(), token_for(box, "Sam Staff"))
    return clients


@pytest.fixture
def post(box, api) -> str:
    """Alice's post on the board."""
    return board.create_post(box, actor(box, "Alice"), {**POST_DEFAULTS, "title": "Spare tins"})


def body(api: ApiClient, method: str, url: str, status: int = 200, **kw):
    """Send a request, check its status and its documented shape; return its JSON."""
    response = api.request(method, url, **kw)
    assert response.status_code == status, (method, url, response.get_data(as_text=True)[:800])
    return assert_documented(response)


def refused(api: ApiClient, method: str, url: str, status: int, box, **kw) -> dict:
    """Send a request that must be refused; check it changed nothing; return the error."""
    before = record_count(box), Appeal.select().count(), Vote.select().count()
    found = body(api, method, url, status, **kw)
    assert (record_count(box), Appeal.select().count(), Vote.select().count()) == before
    assert found["error"]
    return found


# --- moderation ------------------------------------------------------------------------


def test_staff_hide_and_restore_a_post_and_the_public_log_says_so_without_names(box, api, post):
    staff = api["staff"]
    before = record_count(box)
    hidden = body(
        staff,
        "POST",
        f"/api/v1/moderation/posts/{post}/hide",
        json={"reason": "Selling things", "rule": "spam"},
    )
    assert hidden == {"post": post, "comment": None, "hidden": True}
    assert record_count(box) == before + 1 and Post.get_by_id(post).hidden
    log = body(api["visitor"], "GET", "/api/v1/moderation/log")
    assert log["older"] is None
    [entry] = log["entries"]
    assert entry["action"] == "hidden" and entry["rule"] == "Spam"
    assert entry["by"] == "Staff of this centre" and entry["reason"] == "Selling things"
    assert entry["what"] == "A post in Travel and lifts"
    text = str(log)
    for secret in ("Alice", "Spare tins", post, "Sam Staff"):
        assert secret not in text
    shown = body(staff, "POST", f"/api/v1/moderation/posts/{post}/restore", json={})
    assert shown == {"post": post, "comment": None, "hidden": False}
    assert [e["action"] for e in body(api["Bob"], "GET", "/api/v1/moderation/log")["entries"]] == [
        "restored",
        "hidden",
    ]


def test_the_log_pages_back_and_refuses_a_bad_moment(box, api, post):
    body(api["staff"], "POST", f"/api/v1/moderation/posts/{post}/hide", json={"reason": "x"})
    at = body(api["visitor"], "GET", "/api/v1/moderation/log")["entries"][0]["at_ms"]
    assert body(api["visitor"], "GET", f"/api/v1/moderation/log?before={at}")["entries"] == []
    assert body(api["visitor"], "GET", f"/api/v1/moderation/log?before={at + 1}")["entries"]
    for bad in ("yesterday", "-5", "1" * 20):
        found = body(api["visitor"], "GET", f"/api/v1/moderation/log?before={bad}", 400)
        assert set(found["fields"]) == {"before"}, bad


@pytest.mark.parametrize(
    "sent, field",
    [
        ({"reason": ""}, "reason"),
        ({}, "reason"),
        ({"reason": "x" * 501}, "reason"),
        ({"reason": "Spam", "rule": "rude"}, "rule"),
        ({"reason": ["Spam"]}, "reason"),
    ],
)
def test_a_bad_hide_says_what_is_wrong_and_changes_nothing(box, api, post, sent, field):
    url = f"/api/v1/moderation/posts/{post}/hide"
    found = refused(api["staff"], "POST", url, 400, box, json=sent)
    assert set(found["fields"]) == {field}
    assert not Post.get_by_id(post).hidden


def test_staff_work_needs_staff_signed_in_on_the_box(box, api, post):
    hide = {"reason": "Spam", "rule": "spam"}
    for who, status, error in (
        ("member", 403, NOT_STAFF),
        ("staff_token", 403, TOKEN_FOR_STAFF),
    ):
        c = api[who]
        assert refused(c, "GET", "/api/v1/moderation/queue", status, box)["error"] == error
        for action in ("hide", "restore", "clear"):
            url = f"/api/v1/moderation/posts/{post}/{action}"
            assert refused(c, "POST", url, status, box, json=hide)["error"] == error, action
        url = "/api/v1/moderation/appeals/" + "a" * 64
        sent = {"outcome": "upheld", "reason": "x"}
        assert refused(c, "POST", url, status, box, json=sent)["error"] == error
    assert refused(api["visitor"], "GET", "/api/v1/moderation/queue", 401, box)
    assert not Post.get_by_id(post).hidden


def test_an_unknown_post_or_a_post_in_the_wrong_state(box, api, post):
    staff = api["staff"]
    found = refused(
        staff, "POST", "/api/v1/moderation/posts/nope/hide", 404, box, json={"reason": "x"}
    )
    assert found["error"] == "That post does not exist or has been removed."
    found = refused(staff, "POST", f"/api/v1/moderation/posts/{post}/restore", 409, box, json={})
    assert found["error"] == "That post is not hidden."
    found = refused(staff, "POST", f"/api/v1/moderation/posts/{post}/clear", 409, box, json={})
    assert found["error"] == "There are no flags to clear on that."
    found = refused(
        staff, "POST", f"/api/v1/moderation/posts/{post}/hide", 415, box, data="reason=x"
    )
    assert "JSON" in found["error"]


def test_the_queue_lists_flags_and_staff_clear_them(box, api, post):
    moderation.flag(box, actor(box, "Bob"), post, None, "spam", "Looks like an advert")
    queue = body(api["staff"], "GET", "/api/v1/moderation/queue")
    [item] = queue["flagged"]
    assert (item["post"], item["title"], item["count"]) == (post, "Spare tins", 1)
    assert item["reasons"] == [{"reason": "spam", "label": "Spam", "count": 1}]
    assert item["notes"] == ["Looks like an advert"]
    cleared = body(api["staff"], "POST", f"/api/v1/moderation/posts/{post}/clear", json={})
    assert cleared == {"post": post, "comment": None, "hidden": False}
    assert body(api["staff"], "GET", "/api/v1/moderation/queue")["flagged"] == []


def test_the_author_appeals_once_and_staff_answer_once(box, api, post):
    alice, bob, staff = api["Alice"], api["Bob"], api["staff"]
    url = f"/api/v1/posts/{post}/appeal"
    found = refused(alice, "POST", url, 409, box, json={"text": "Please"})
    assert found["error"] == "Only something that is hidden can be appealed."
    body(staff, "POST", f"/api/v1/moderation/posts/{post}/hide", json={"reason": "Looks sold"})
    mine = body(alice, "GET", url)
    [item] = mine["items"]
    assert (mine["title"], item["reason"], item["rule"], item["may_appeal"]) == (
        "Spare tins",
        "Looks sold",
        "The code of conduct",
        True,
    )
    assert body(bob, "GET", url) == {"post": post, "title": None, "items": []}
    assert refused(api["visitor"], "GET", url, 401, box)
    found = refused(bob, "POST", url, 403, box, json={"text": "Show it"})
    assert found["error"] == "Only the person who wrote it can appeal."
    for sent in ({}, {"text": "  "}, {"text": "x" * 1001}):
        assert set(refused(alice, "POST", url, 400, box, json=sent)["fields"]) == {"text"}
    made = body(alice, "POST", url, 201, json={"text": "They are still available"})
    assert made["items"][0]["appeal"]["text"] == "They are still available"
    assert made["items"][0]["may_appeal"] is False
    found = refused(alice, "POST", url, 409, box, json={"text": "Again"})
    assert found["error"] == "You have already appealed; an appeal is answered once."
    # Staff see it in the queue and answer it.
    [waiting] = body(staff, "GET", "/api/v1/moderation/queue")["appeals"]
    assert (waiting["id"], waiting["member"]) == (made["id"], "Alice")
    decide = f"/api/v1/moderation/appeals/{made['id']}"
    for sent, fields in (
        ({"outcome": "maybe", "reason": "x"}, {"outcome"}),
        ({"outcome": "overturned"}, {"reason"}),
        ({}, {"outcome", "reason"}),
    ):
        assert set(refused(staff, "POST", decide, 400, box, json=sent)["fields"]) == fields
    refused(staff, "POST", "/api/v1/moderation/appeals/nope", 404, box, json={"outcome": "upheld"})
    answer = {"outcome": "overturned", "reason": "Fair enough"}
    assert body(staff, "POST", decide, json=answer) == {
        "appeal": made["id"],
        "outcome": "overturned",
    }
    assert not Post.get_by_id(post).hidden
    found = refused(staff, "POST", decide, 409, box, json=answer)
    assert found["error"].startswith("That appeal has already been answered")
    outcomes = [e.get("outcome") for e in body(bob, "GET", "/api/v1/moderation/log")["entries"]]
    assert "overturned" in outcomes


# --- the code of conduct ---------------------------------------------------------------


def test_members_read_and_accept_the_current_code(box, api):
    visitor, alice = api["visitor"], api["Alice"]
    assert body(visitor, "GET", "/api/v1/conduct") == {
        "current": None,
        "versions": [],
        "accepted": None,
        "needs_acceptance": False,
    }
    found = refused(alice, "POST", "/api/v1/conduct/accept", 409, box, json={"version": 1})
    assert found["error"] == "This centre has no code of conduct to accept yet."
    conduct.publish_conduct(box, actor(box, ADMIN), CODE)
    conduct.publish_conduct(box, actor(box, ADMIN), CODE + "\n\nBe on time.")
    seen = body(alice, "GET", "/api/v1/conduct")
    assert seen["current"]["version"] == 2 and "<h2>Be kind</h2>" in seen["current"]["html"]
    assert [v["version"] for v in seen["versions"]] == [2, 1]
    assert (seen["accepted"], seen["needs_acceptance"]) == (0, True)
    # Posting through the API waits for it, with the reason.
    found = refused(alice, "POST", "/api/v1/proposals", 403, box, json={"title": "x"})
    assert found["error"] == "Please read and accept the centre's code of conduct before posting."
    for version in (1, 3, "two", None, ""):
        found = refused(
            alice, "POST", "/api/v1/conduct/accept", 409, box, json={"version": version}
        )
        assert found["error"].startswith("The code of conduct changed"), version
    before = record_count(box)
    assert body(alice, "POST", "/api/v1/conduct/accept", json={"version": "2"}) == {"accepted": 2}
    assert record_count(box) == before + 1
    refused(alice, "POST", "/api/v1/conduct/accept", 409, box, json={"version": 2})
    assert body(alice, "GET", "/api/v1/conduct")["needs_acceptance"] is False
    response = api["visitor"].post("/api/v1/conduct/accept", json={"version": 2})
    assert response.status_code in (400, 401) and record_count(box) == before + 1


# --- proposals and votes ---------------------------------------------------------------

RULE_CHANGE = {
    "title": "Hide after two flags",
    "reason": "Spam stays up too long.",
    "change": "rule",
    "rule": "flags_to_hide",
    "value": 2,
}


def test_a_member_proposes_and_members_vote(box, api, clock):
    alice, bob = api["Alice"], api["Bob"]
    before = record_count(box)
    made = body(alice, "POST", "/api/v1/proposals", 201, json=RULE_CHANGE)
    assert record_count(box) == before + 1
    assert (made["rule"], made["value"], made["is_open"], made["proposer"]) == (
        "flags_to_hide",
        2,
        True,
        "Alice",
    )
    assert made["rule_text"].startswith("Flags from different members")
    listing = body(api["visitor"], "GET", "/api/v1/proposals")
    assert [p["id"] for p in listing["open"]] == [made["id"]] and listing["decided"] == []
    assert {r["name"] for r in listing["rules"]} >= {"flags_to_hide", "votes_to_adopt"}
    # A visitor reads the proposal but not who made it.
    public = body(api["visitor"], "GET", f"/api/v1/proposals/{made['id']}")
    assert public["proposer"] is None and public["may_vote"] is False
    url = f"/api/v1/proposals/{made['id']}/votes"
    for sent, field in (
        ({"choice": "maybe"}, "choice"),
        ({}, "choice"),
        ({"choice": "object"}, "reason"),
        ({"choice": "object", "reason": "x" * 501}, "reason"),
    ):
        assert set(refused(bob, "POST", url, 400, box, json=sent)["fields"]) == {field}
    voted = body(bob, "POST", url, 201, json={"choice": "agree"})
    assert voted["tally"] == {"agree": 1, "abstain": 0, "object": 0}
    assert voted["my_vote"] == {"choice": "agree", "reason": ""} and voted["may_vote"] is False
    found = refused(bob, "POST", url, 409, box, json={"choice": "object", "reason": "Changed"})
    assert found["error"] == "You have already voted on this proposal."
    body(alice, "POST", url, 201, json={"choice": "object", "reason": "On second thoughts, no"})
    assert body(bob, "GET", f"/api/v1/proposals/{made['id']}")["objections"] == [
        "On second thoughts, no"
    ]
    refused(bob, "POST", "/api/v1/proposals/nope/votes", 404, box, json={"choice": "agree"})
    response = api["visitor"].post(url, json={"choice": "agree"})
    assert response.status_code in (400, 401)
    # After the deadline the box records the outcome; voting has closed.
    clock.advance(30 * DAY_MS)
    decided = body(api["visitor"], "GET", "/api/v1/proposals")["decided"]
    assert [(p["id"], p["outcome"]) for p in decided] == [(made["id"], "rejected")]
    found = refused(api["Bob"], "POST", url, 409, box, json={"choice": "abstain"})
    assert found["error"] == "Voting on this proposal has closed."


@pytest.mark.parametrize(
    "sent, fields",
    [
        ({}, {"title", "reason", "change"}),
        ({**RULE_CHANGE, "title": "x" * 121}, {"title"}),
        ({**RULE_CHANGE, "rule": "everything"}, {"rule"}),
        ({**RULE_CHANGE, "value": 0}, {"value"}),
        ({**RULE_CHANGE, "value": "lots"}, {"value"}),
        ({**RULE_CHANGE, "value": 3}, {"value"}),  # the rule already
        ({**RULE_CHANGE, "change": "conduct", "text": ""}, {"text"}),
        ({**RULE_CHANGE, "title": {"text": "x"}}, {"title"}),
    ],
)
def test_a_bad_proposal_says_what_is_wrong_and_changes_nothing(box, api, sent, fields):
    found = refused(api["Alice"], "POST", "/api/v1/proposals", 400, box, json=sent)
    assert set(found["fields"]) == fields
    assert Proposal.select().count() == 0


def test_an_unknown_proposal_is_not_found(box, api):
    found = body(api["visitor"], "GET", "/api/v1/proposals/nope", 404)
    assert found["error"] == "There is no such proposal."


# --- sync status -----------------------------------------------------------------------


def _paired_peer(box, name: str = "Otterby Hall") -> str:
    """Meet and pair a made-up box, and note one sync round with it; return its origin."""
    origin = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    peers.remember(box, origin, name, "http://127.0.0.1:9/")
    peers.confirm(box, peers.pairing_code(box.origin, origin))
    peers.note_sync(box, origin, 7, 3, None)
    return origin


def test_everyone_sees_how_fresh_each_centre_is_and_staff_see_the_details(box, api, clock):
    origin = _paired_peer(box)
    synced = clock()
    clock.advance(30 * HOUR_MS)
    for who in ("visitor", "Alice", "staff_token"):
        seen = body(api[who], "GET", "/api/v1/sync/status")
        assert seen == {
            "centre": "Test Centre",
            "now_ms": synced + 30 * HOUR_MS,
            "view": "public",
            "peers": [{"name": "Otterby Hall", "last_sync_ms": synced}],
        }, who
    staff = body(api["staff"], "GET", "/api/v1/sync/status")
    assert staff["view"] == "staff" and staff["origin"] == box.origin
    [peer] = staff["peers"]
    assert (peer["origin"], peer["records_in"], peer["records_out"], peer["paired"]) == (
        origin,
        7,
        3,
        True,
    )
    assert staff["checks"] == [
        {"status": "ok", "finding": "Last synced with Otterby Hall 30 hours ago."}
    ]
    assert staff["quarantined"] == []


def test_staff_accept_or_dismiss_a_reviewed_centres_hide(box, api):
    from pagetools import recordmaker

    from appliance.models import ModerationEvent

    maker = recordmaker()
    east = maker.Origin("east-api-centre", start_ms=box.log.now_ms())
    box.log.append("trust.granted", {"origin": east.origin, "name": "East Centre"})
    moderation.set_peer_policy(box, actor(box, ADMIN), east.origin, "review")
    made = []
    for title in ("East need", "East offer"):
        post = east.make("post.created", maker.post_body("need", title), author="e" * 64)
        made.append(post)
    staff_role = east.make("role.granted", {"role": "staff", "expires": None}, subject="f" * 64)
    east.tick(60_000)
    hides = [
        east.make("post.hidden", {"reason": "Advert"}, subject=p.id, author="f" * 64) for p in made
    ]
    lines = [p.line for p in made] + [staff_role.line] + [h.line for h in hides]
    assert box.log.ingest(lines).ok
    queued = {h["id"] for h in body(api["staff"], "GET", "/api/v1/moderation/queue")["peer_hides"]}
    assert queued == {h.id for h in hides}

    url = f"/api/v1/moderation/peer-hides/{hides[0].id}"
    assert set(refused(api["staff"], "POST", url, 400, box, json={"decision": "maybe"})["fields"])
    refused(api["Alice"], "POST", url, 403, box, json={"decision": "accept"})
    refused(api["staff_token"], "POST", url, 403, box, json={"decision": "accept"})
    refused(
        api["staff"],
        "POST",
        "/api/v1/moderation/peer-hides/" + "0" * 64,
        404,
        box,
        json={"decision": "accept"},
    )
    assert body(api["staff"], "POST", url, json={"decision": "accept"}) == {
        "hide": hides[0].id,
        "decision": "accept",
    }
    dismiss = f"/api/v1/moderation/peer-hides/{hides[1].id}"
    body(api["staff"], "POST", dismiss, json={"decision": "dismiss"})
    assert Post.get_by_id(made[0].id).hidden and not Post.get_by_id(made[1].id).hidden
    assert ModerationEvent.get_by_id(hides[1].id).review == "dismiss"
    refused(api["staff"], "POST", url, 409, box, json={"decision": "dismiss"})
