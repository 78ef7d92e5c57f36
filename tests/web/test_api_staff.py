"""The staff JSON API (/api/v1/staff/): every operation against web/openapi/staff.yaml,
with the staff pages' rules: staff signed in on the box only (a visitor 401, a member
403, a personal token 403 even a staff member's), bad input refused with nothing
written, and each change written as one signed record."""

from __future__ import annotations

import pytest
from apitools import ApiClient, assert_documented, session_api, token_for
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pagetools import DAY_MS, START_MS, member_id, record_count, recordmaker

from appliance.records import public_key_text
from appliance.services import accounts

NOT_STAFF = "Only the centre's staff can do that."
NO_TOKENS = "A personal token cannot be used for staff work: sign in on the box instead."
NOBODY = "0" * 64  # a member id nobody has


# --- fixtures and helpers -------------------------------------------------------------------


@pytest.fixture
def staff(staff_client) -> ApiClient:
    """Sam Staff (staff, not admin), signed in on the box: the login cookie and CSRF."""
    return session_api(staff_client)


@pytest.fixture
def admin(admin_client) -> ApiClient:
    return session_api(admin_client)


@pytest.fixture
def member(alice) -> ApiClient:
    """Alice, a member signed in on the box, who is not staff."""
    return session_api(alice)


@pytest.fixture
def staff_token(box, app, staff_client) -> ApiClient:
    """Sam Staff through a personal token, which staff work refuses."""
    return ApiClient(app.test_client(), token_for(box, "Sam Staff"))


@pytest.fixture
def visitor(browser) -> ApiClient:
    """Nobody signed in, but with a page's CSRF token: so a POST gets as far as the rules."""
    return ApiClient(browser.client, csrf=browser.token("/signup"))


def ok(api: ApiClient, method: str, path: str, template: str, status: int = 200, **kw):
    """Send a request that must succeed with `status`; return its documented body."""
    response = api.request(method, path, **kw)
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    return assert_documented(response, method, template)


def refused(box, api: ApiClient, method: str, path: str, template: str, status: int, **kw):
    """Send a request that must be refused with `status`; check nothing was written and the
    answer is documented; return the error body."""
    before = record_count(box)
    response = api.request(method, path, **kw)
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    body = assert_documented(response, method, template)
    assert body["error"]
    assert record_count(box) == before
    return body


def outsiders_refused(box, visitor, member, staff_token, method, path, template, **kw):
    """A visitor is asked to sign in; a member and a staff member's token are refused."""
    assert refused(box, visitor, method, path, template, 401, **kw)["error"]
    assert refused(box, member, method, path, template, 403, **kw)["error"] == NOT_STAFF
    assert refused(box, staff_token, method, path, template, 403, **kw)["error"] == NO_TOKENS


# --- members: the list, verification in person, roles --------------------------------------

MEMBERS = "/api/v1/staff/members"
VERIFY = "/api/v1/staff/members/{member_id}/verify"
ROLES = "/api/v1/staff/members/{member_id}/roles"
REVOKE = "/api/v1/staff/members/{member_id}/roles/{role}/revoke"


def test_staff_list_members_with_roles_and_contact(box, staff, visitor, member, staff_token):
    accounts.sign_up(box, "Bea Brown", "correct horse battery", "07700 900123")
    listed = ok(staff, "GET", MEMBERS, MEMBERS)["members"]
    assert [m["name"] for m in listed] == ["Admin", "Alice", "Bea Brown", "Sam Staff"]
    by_name = {m["name"]: m for m in listed}
    assert by_name["Sam Staff"]["roles"] == ["staff"]
    assert by_name["Admin"]["roles"] == ["admin"] and by_name["Admin"]["verified"] is True
    assert by_name["Bea Brown"]["contact"] == "07700 900123"
    assert by_name["Alice"]["local"] is True and by_name["Alice"]["verified"] is False

    found = ok(staff, "GET", MEMBERS + "?q=bea", MEMBERS)["members"]
    assert [m["name"] for m in found] == ["Bea Brown"]
    assert ok(staff, "GET", MEMBERS + "?q=nobody-by-this-name", MEMBERS)["members"] == []

    outsiders_refused(box, visitor, member, staff_token, "GET", MEMBERS, MEMBERS)


def test_the_members_list_is_never_cached(staff):
    assert staff.get(MEMBERS).headers["Cache-Control"] == "no-store"


def test_staff_verify_a_member_in_person_and_withdraw_it(box, staff, alice):
    alice_id = member_id("Alice")
    url = f"/api/v1/staff/members/{alice_id}/verify"
    before = record_count(box)
    done = ok(staff, "POST", url, VERIFY, json={"verified": True})
    assert done == {"id": alice_id, "verified": True, "verified_here": True}
    assert record_count(box) == before + 1
    assert accounts.actor_for(box, alice_id).verified

    body = refused(box, staff, "POST", url, VERIFY, 409, json={"verified": True})
    assert body["error"] == "Alice is already verified."

    done = ok(staff, "POST", url, VERIFY, json={"verified": False})
    assert done == {"id": alice_id, "verified": False, "verified_here": False}
    assert record_count(box) == before + 2
    assert not accounts.actor_for(box, alice_id).verified


def test_verifying_refuses_bad_input(box, staff, visitor, member, staff_token, alice):
    url = f"/api/v1/staff/members/{member_id('Alice')}/verify"
    body = refused(box, staff, "POST", url, VERIFY, 400, json={})
    assert body["fields"] == {"verified": "Please send true (met in person) or false."}
    body = refused(box, staff, "POST", url, VERIFY, 400, json={"verified": "yes"})
    assert body["fields"] == {"verified": "Please send this as true or false."}
    refused(box, staff, "POST", url, VERIFY, 400, json=["verified"])
    refused(box, staff, "POST", url, VERIFY, 415, data="verified=1")
    body = refused(
        box,
        staff,
        "POST",
        f"/api/v1/staff/members/{NOBODY}/verify",
        VERIFY,
        404,
        json={"verified": True},
    )
    assert body["error"] == "There is no such member."
    # A cookie POST without the page's CSRF token is refused too.
    no_csrf = ApiClient(staff.client)
    refused(box, no_csrf, "POST", url, VERIFY, 400, json={"verified": True})
    outsiders_refused(
        box, visitor, member, staff_token, "POST", url, VERIFY, json={"verified": True}
    )


def test_staff_grant_and_revoke_a_role(box, clock, staff, alice):
    alice_id = member_id("Alice")
    url = f"/api/v1/staff/members/{alice_id}/roles"
    before = record_count(box)
    done = ok(staff, "POST", url, ROLES, json={"role": "Driver", "expires": "2027-03-18"})
    assert done == {"id": alice_id, "roles": ["driver"]}
    assert record_count(box) == before + 1
    done = ok(staff, "POST", url, ROLES, json={"role": "coordinator", "expires": None})
    assert done["roles"] == ["coordinator", "driver"]

    revoke = f"{url}/coordinator/revoke"
    done = ok(staff, "POST", revoke, REVOKE)
    assert done == {"id": alice_id, "roles": ["driver"]}
    assert record_count(box) == before + 3
    body = refused(box, staff, "POST", revoke, REVOKE, 409)
    assert body["error"] == "Alice does not have that role."

    # The dated role runs out at the end of its day (the centre's time).
    clock.advance(DAY_MS)
    assert accounts.actor_for(box, alice_id).roles == frozenset({"driver"})
    clock.advance(DAY_MS)
    assert accounts.actor_for(box, alice_id).roles == frozenset()


def test_granting_a_role_refuses_bad_input(box, staff, alice):
    url = f"/api/v1/staff/members/{member_id('Alice')}/roles"
    body = refused(box, staff, "POST", url, ROLES, 400, json={})
    assert set(body["fields"]) == {"role"}
    body = refused(box, staff, "POST", url, ROLES, 400, json={"role": "two words"})
    assert body["fields"] == {"role": "A role is one word of lowercase letters, like driver."}
    body = refused(box, staff, "POST", url, ROLES, 400, json={"role": 7})
    assert body["fields"] == {"role": "Please send this as text."}
    body = refused(box, staff, "POST", url, ROLES, 400, json={"role": "driver", "expires": "soon"})
    assert body["fields"] == {"expires": "Please give the date as YYYY-MM-DD."}
    body = refused(
        box, staff, "POST", url, ROLES, 400, json={"role": "driver", "expires": "2027-03-01"}
    )
    assert body["fields"] == {"expires": "That date has already passed."}
    refused(box, staff, "POST", url, ROLES, 415, data="role=driver")
    refused(
        box,
        staff,
        "POST",
        f"/api/v1/staff/members/{NOBODY}/roles",
        ROLES,
        404,
        json={"role": "driver"},
    )
    assert accounts.actor_for(box, member_id("Alice")).roles == frozenset()


def test_only_an_admin_makes_or_unmakes_staff(box, staff, admin, alice):
    alice_id = member_id("Alice")
    url = f"/api/v1/staff/members/{alice_id}/roles"
    body = refused(box, staff, "POST", url, ROLES, 403, json={"role": "staff"})
    assert body["error"] == "Only an admin can make someone staff or admin."
    assert ok(admin, "POST", url, ROLES, json={"role": "staff"})["roles"] == ["staff"]
    body = refused(box, staff, "POST", f"{url}/staff/revoke", REVOKE, 403)
    assert body["error"] == "Only an admin can remove staff or admin."
    assert ok(admin, "POST", f"{url}/staff/revoke", REVOKE)["roles"] == []


def test_roles_are_for_staff_signed_in_on_the_box(box, visitor, member, staff_token, alice):
    alice_id = member_id("Alice")
    outsiders_refused(
        box,
        visitor,
        member,
        staff_token,
        "POST",
        f"/api/v1/staff/members/{alice_id}/roles",
        ROLES,
        json={"role": "driver"},
    )
    outsiders_refused(
        box,
        visitor,
        member,
        staff_token,
        "POST",
        f"/api/v1/staff/members/{alice_id}/roles/driver/revoke",
        REVOKE,
    )


# --- the centre's categories and places ----------------------------------------------------

CATEGORIES = "/api/v1/staff/centre/categories"
PLACES = "/api/v1/staff/centre/places"


def test_staff_add_rename_retire_and_restore_categories(box, staff, browser):
    listed = ok(staff, "GET", CATEGORIES, CATEGORIES)["categories"]
    assert len(listed) == 6 and all(c["active"] for c in listed)

    before = record_count(box)
    saved = ok(staff, "POST", CATEGORIES, CATEGORIES, json={"label": "Garden jobs"})
    assert saved["slug"] == "garden-jobs"
    assert {"slug": "garden-jobs", "label": "Garden jobs", "active": True} in saved["categories"]
    assert len(saved["categories"]) == 7

    saved = ok(
        staff,
        "POST",
        CATEGORIES,
        CATEGORIES,
        json={"label": "Gardening", "slug": "garden-jobs", "active": False},
    )
    assert saved["slug"] == "garden-jobs"
    assert {"slug": "garden-jobs", "label": "Gardening", "active": False} in saved["categories"]
    assert record_count(box) == before + 2
    # A retired category leaves the public list but stays on staff's.
    public = browser.client.get("/api/v1/centre").get_json()
    assert "garden-jobs" not in [c["slug"] for c in public["categories"]]
    assert len(ok(staff, "GET", CATEGORIES, CATEGORIES)["categories"]) == 7

    saved = ok(
        staff, "POST", CATEGORIES, CATEGORIES, json={"label": "Gardening", "slug": "garden-jobs"}
    )
    assert {"slug": "garden-jobs", "label": "Gardening", "active": True} in saved["categories"]


def test_categories_refuse_bad_input(box, staff):
    body = refused(box, staff, "POST", CATEGORIES, CATEGORIES, 400, json={"label": "  "})
    assert body["fields"] == {"label": "Please give the category a name (60 characters at most)."}
    refused(box, staff, "POST", CATEGORIES, CATEGORIES, 400, json={"label": "x" * 61})
    body = refused(box, staff, "POST", CATEGORIES, CATEGORIES, 400, json={"label": "!!!"})
    assert body["fields"] == {"label": "Please use some letters or numbers in the name."}
    body = refused(
        box, staff, "POST", CATEGORIES, CATEGORIES, 400, json={"label": "Food", "active": "no"}
    )
    assert body["fields"] == {"active": "Please send this as true or false."}
    refused(box, staff, "POST", CATEGORIES, CATEGORIES, 415, data="label=Food")
    assert len(ok(staff, "GET", CATEGORIES, CATEGORIES)["categories"]) == 6


def test_categories_are_for_staff_signed_in_on_the_box(box, visitor, member, staff_token):
    outsiders_refused(box, visitor, member, staff_token, "GET", CATEGORIES, CATEGORIES)
    outsiders_refused(
        box, visitor, member, staff_token, "POST", CATEGORIES, CATEGORIES, json={"label": "Pets"}
    )


def test_staff_add_and_retire_places(box, staff, visitor, member, staff_token):
    before = record_count(box)
    assert ok(staff, "POST", PLACES, PLACES, json={"name": " Mill  Lane "}) == {
        "places": ["Mill Lane"]
    }
    assert ok(staff, "POST", PLACES, PLACES, json={"name": "Church Hall"}) == {
        "places": ["Church Hall", "Mill Lane"]
    }
    done = ok(staff, "POST", PLACES, PLACES, json={"name": "Mill Lane", "active": False})
    assert done == {"places": ["Church Hall"]}
    assert record_count(box) == before + 3

    body = refused(box, staff, "POST", PLACES, PLACES, 400, json={"name": ""})
    assert body["fields"] == {"name": "Please give the place a name (80 characters at most)."}
    refused(box, staff, "POST", PLACES, PLACES, 400, json={"name": "x" * 81})
    body = refused(box, staff, "POST", PLACES, PLACES, 400, json={"name": ["Hall"]})
    assert body["fields"] == {"name": "Please send this as text."}
    refused(box, staff, "POST", PLACES, PLACES, 415, data="name=Hall")
    outsiders_refused(
        box, visitor, member, staff_token, "POST", PLACES, PLACES, json={"name": "Park"}
    )


# --- each paired centre's moderation choice -----------------------------------------------

PEERS = "/api/v1/staff/moderation/peers"


def paired(box) -> str:
    """Pair the box with another (as `kith peer confirm` records it); return its origin."""
    origin = public_key_text(Ed25519PrivateKey.generate())
    box.log.append("trust.granted", {"origin": origin, "name": "Riverside"})
    return origin


def test_staff_choose_how_a_paired_centre_counts(box, staff):
    assert ok(staff, "GET", PEERS, PEERS) == {"peers": []}
    peer = paired(box)
    (choice,) = ok(staff, "GET", PEERS, PEERS)["peers"]
    assert (choice["origin"], choice["name"], choice["direct"]) == (peer, "Riverside", True)
    assert choice["mode"] == "honour"

    before = record_count(box)
    (choice,) = ok(staff, "POST", PEERS, PEERS, json={"origin": peer, "mode": "review"})["peers"]
    assert (choice["origin"], choice["mode"]) == (peer, "review")
    assert record_count(box) == before + 1
    body = refused(box, staff, "POST", PEERS, PEERS, 409, json={"origin": peer, "mode": "review"})
    assert body["error"] == "That is already this centre's choice for that centre."


def test_peer_choices_refuse_bad_input(box, staff, visitor, member, staff_token):
    peer = paired(box)
    stranger = public_key_text(Ed25519PrivateKey.generate())
    for origin in (stranger, box.origin, ""):
        body = refused(
            box, staff, "POST", PEERS, PEERS, 400, json={"origin": origin, "mode": "ignore"}
        )
        assert body["fields"] == {"origin": "That is not a centre this box exchanges records with."}
    body = refused(box, staff, "POST", PEERS, PEERS, 400, json={"origin": peer, "mode": "obey"})
    assert body["fields"] == {"mode": "Please choose honour, review or ignore."}
    refused(box, staff, "POST", PEERS, PEERS, 400, json={"origin": peer, "mode": True})
    refused(box, staff, "POST", PEERS, PEERS, 415, data="mode=ignore")
    assert ok(staff, "GET", PEERS, PEERS)["peers"][0]["mode"] == "honour"

    outsiders_refused(box, visitor, member, staff_token, "GET", PEERS, PEERS)
    outsiders_refused(
        box,
        visitor,
        member,
        staff_token,
        "POST",
        PEERS,
        PEERS,
        json={"origin": peer, "mode": "ignore"},
    )


# --- the code of conduct --------------------------------------------------------------------

CONDUCT = "/api/v1/staff/conduct"
CODE = "# Our code\n\nBe kind. No selling."


def test_staff_publish_the_code_of_conduct(box, staff, browser):
    before = record_count(box)
    response = staff.post(CONDUCT, json={"text": CODE, "note": "First version"})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.headers["Location"].endswith("/api/v1/conduct")
    done = assert_documented(response, "POST", CONDUCT)
    assert done["version"] == 1
    assert (done["current"]["text"], done["current"]["note"]) == (CODE, "First version")
    assert "<h2>Our code</h2>" in done["current"]["html"]
    assert record_count(box) == before + 1
    # Everyone reads it where Location says.
    assert browser.client.get("/api/v1/conduct").get_json()["current"]["version"] == 1

    body = refused(box, staff, "POST", CONDUCT, CONDUCT, 409, json={"text": CODE})
    assert body["error"] == "That is the code of conduct as it already is: nothing changed."
    done = ok(staff, "POST", CONDUCT, CONDUCT, 201, json={"text": CODE + " Be on time."})
    assert done["version"] == 2 and done["current"]["note"] == ""


def test_publishing_the_code_refuses_bad_input(box, staff, visitor, member, staff_token):
    body = refused(box, staff, "POST", CONDUCT, CONDUCT, 400, json={"text": "  "})
    assert body["fields"] == {"text": "Please write the code of conduct."}
    body = refused(box, staff, "POST", CONDUCT, CONDUCT, 400, json={"text": "x" * 20_001})
    assert body["fields"] == {"text": "Please keep the code of conduct under 20,000 characters."}
    body = refused(box, staff, "POST", CONDUCT, CONDUCT, 400, json={"text": "", "note": "n" * 1001})
    assert set(body["fields"]) == {"text", "note"}
    refused(box, staff, "POST", CONDUCT, CONDUCT, 400, json={"text": {"md": CODE}})
    refused(box, staff, "POST", CONDUCT, CONDUCT, 415, data="text=Be kind")
    outsiders_refused(
        box, visitor, member, staff_token, "POST", CONDUCT, CONDUCT, json={"text": CODE}
    )


# --- vouches from other centres -------------------------------------------------------------

VOUCHES = "/api/v1/staff/members/{member_id}/vouches"
REVIEW = "/api/v1/staff/members/{member_id}/vouches/review"


@pytest.fixture
def east_vouch(box, alice) -> str:
    """East Centre (trusted) verified Alice in person and made her a driver there."""
    east = recordmaker().Origin("East Centre", start_ms=START_MS - DAY_MS)
    box.log.append("trust.granted", {"origin": east.origin, "name": "East Centre"})
    alice_id = member_id("Alice")
    made = [
        east.make("centre.created", {"name": "East Centre", "timezone": "Europe/London"}),
        east.make("member.verified", {}, subject=alice_id),
        east.make("role.granted", {"role": "driver", "expires": None}, subject=alice_id),
    ]
    assert box.log.ingest([m.line for m in made]).ok
    return east.origin


def test_staff_review_a_vouch_from_another_centre(box, staff, east_vouch):
    alice_id = member_id("Alice")
    url = f"/api/v1/staff/members/{alice_id}/vouches"
    view = ok(staff, "GET", url, VOUCHES)
    assert view["member"] == {"id": alice_id, "name": "Alice", "verified_here": False}
    assert [(v["centre"], v["what"], v["accepted"]) for v in view["vouches"]] == [
        ("East Centre", "verified", None),
        ("East Centre", "driver", None),
    ]

    before = record_count(box)
    view = ok(staff, "POST", url + "/review", REVIEW, json={"origin": east_vouch, "accepted": True})
    assert view["member"]["verified_here"] is True
    assert {v["accepted"] for v in view["vouches"]} == {True}
    assert record_count(box) == before + 1
    # Roles from elsewhere are shown, never granted here by themselves.
    assert accounts.actor_for(box, alice_id).roles == frozenset()

    body = refused(
        box,
        staff,
        "POST",
        url + "/review",
        REVIEW,
        409,
        json={"origin": east_vouch, "accepted": True},
    )
    assert body["error"] == "You have already accepted that centre's vouch."
    view = ok(
        staff, "POST", url + "/review", REVIEW, json={"origin": east_vouch, "accepted": False}
    )
    assert view["member"]["verified_here"] is False


def test_vouch_reviews_refuse_bad_input(box, staff, east_vouch, bob):
    review = f"/api/v1/staff/members/{member_id('Alice')}/vouches/review"
    body = refused(box, staff, "POST", review, REVIEW, 400, json={"origin": east_vouch})
    assert body["fields"] == {"accepted": "Please choose Accept or Do not accept."}
    body = refused(
        box, staff, "POST", review, REVIEW, 400, json={"origin": east_vouch, "accepted": "1"}
    )
    assert body["fields"] == {"accepted": "Please send this as true or false."}
    body = refused(
        box, staff, "POST", review, REVIEW, 404, json={"origin": box.origin, "accepted": True}
    )
    assert body["error"] == "That centre has not vouched for this member."
    # Bob has no vouches from anywhere.
    bob_id = member_id("Bob")
    assert ok(staff, "GET", f"/api/v1/staff/members/{bob_id}/vouches", VOUCHES)["vouches"] == []
    refused(
        box,
        staff,
        "POST",
        f"/api/v1/staff/members/{bob_id}/vouches/review",
        REVIEW,
        404,
        json={"origin": east_vouch, "accepted": True},
    )
    refused(box, staff, "GET", f"/api/v1/staff/members/{NOBODY}/vouches", VOUCHES, 404)
    refused(
        box,
        staff,
        "POST",
        f"/api/v1/staff/members/{NOBODY}/vouches/review",
        REVIEW,
        404,
        json={"origin": east_vouch, "accepted": True},
    )
    refused(box, staff, "POST", review, REVIEW, 415, data="accepted=1")


def test_vouches_are_for_staff_signed_in_on_the_box(box, east_vouch, visitor, member, staff_token):
    url = f"/api/v1/staff/members/{member_id('Alice')}/vouches"
    outsiders_refused(box, visitor, member, staff_token, "GET", url, VOUCHES)
    outsiders_refused(
        box,
        visitor,
        member,
        staff_token,
        "POST",
        url + "/review",
        REVIEW,
        json={"origin": east_vouch, "accepted": True},
    )
