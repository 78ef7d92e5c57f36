"""CSRF on every form, the Content-Security-Policy, no third-party URLs, safe redirects."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from pagetools import (
    ADMIN,
    PASSWORD,
    Browser,
    Page,
    actor,
    member_id,
    new_post,
    record_count,
    recordmaker,
)

from appliance.models import ApiToken, Item
from appliance.services import (
    api_tokens,
    board,
    catalogue,
    conduct,
    drivers,
    driving,
    food,
    members,
    moderation,
    orgs,
    proposals,
    rides,
    shifts,
    travel_lists,
)

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
    org: str  # an organisation the admin organises
    shift: str  # one of its shifts; Bob signed up


@pytest.fixture
def world(box, alice, bob, admin_client, browser) -> World:
    open_post = new_post(alice, title="Wardrobe to carry")
    resolved_post = new_post(alice, title="Old request")
    board.offer_help(box, actor(box, "Bob"), open_post, "can_help")
    comment = board.add_comment(box, actor(box, "Bob"), open_post, "Is it heavy?")
    board.resolve(box, actor(box, "Alice"), resolved_post, "")
    members.grant_role(box, actor(box, ADMIN), member_id("Bob"), "driver")
    admin = actor(box, ADMIN)
    org = orgs.create_org(box, admin, {"name": "Food Bank", "type": "foodbank", "place": "Hall"})
    orgs.set_org_role(box, admin, org, admin.id, "organiser")
    shift = shifts.create_shift(box, admin, {**SHIFT_DATA, "org": org})
    shifts.join(box, actor(box, "Bob"), shift)
    return World(
        alice=alice,
        bob=bob,
        admin=admin_client,
        visitor=browser,
        open_post=open_post,
        resolved_post=resolved_post,
        comment=comment,
        bob_id=member_id("Bob"),
        org=org,
        shift=shift,
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


# Three days after the web tests' fixed clock (2027-03-17, tests/web/conftest.py).
SHIFT_DATA = {
    "title": "Sorting",
    "date": "2027-03-20",
    "start": "09:30",
    "end": "12:00",
    "place": "",
    "people": "5",
    "bring": "",
}
ORG_DATA = {"name": "Forged Food Bank", "type": "foodbank", "place": "Church Hall"}
ITEM_DATA = {"name": "Forged beans", "category": "tins", "unit": "items"}


def staff_org(w: World) -> str:
    """Add an organisation as staff, with Bob as a member; return its id."""
    response = w.admin.post("/staff/orgs", ORG_DATA, via="/me")
    org_id = response.headers["Location"].rsplit("/", 1)[1]  # /staff/orgs/ID
    w.admin.post(f"/staff/orgs/{org_id}/people", {"member": w.bob_id, "role": "member"}, via="/me")
    return org_id


def staff_item(w: World) -> str:
    """Add a catalogue entry as staff; return its id."""
    response = w.admin.post("/staff/catalogue", ITEM_DATA, via="/me")
    return response.headers["Location"].rsplit("#item-", 1)[1]  # /staff/catalogue#item-ID


def food_setup(w: World) -> dict:
    """A food bank the admin organises with a need, and Bob's shop with a supply, of
    baked beans; Alice has pledged one tin and the admin claimed one (made once)."""
    if not hasattr(w, "food"):
        box = w.admin.client.application.extensions["kith_box"]
        admin = actor(box, ADMIN)
        catalogue.add_starter_items(box, admin)
        beans = Item.get(Item.name == "Baked beans").id
        bank = orgs.create_org(box, admin, {"name": "Bank", "type": "foodbank", "place": "Hall"})
        shop = orgs.create_org(box, admin, {"name": "Shop", "type": "shop", "place": "High St"})
        orgs.set_org_role(box, admin, bank, admin.id, "organiser")
        orgs.set_org_role(box, admin, shop, w.bob_id, "organiser")
        data = {"org": bank, "title": "Tins", "needed_by": "2027-03-24"}
        need = food.create_need(box, admin, data, [(beans, "10")])
        bob = actor(box, "Bob")
        supply = food.create_supply(box, bob, {"org": shop, "title": "Tins"}, [(beans, "10")])
        w.food = {
            "BANK": bank,
            "BEANS": beans,
            "NEED": need,
            "SUPPLY": supply,
            "PLEDGE": food.pledge(box, actor(box, "Alice"), need, beans, "1"),
            "CLAIM": food.claim(box, admin, supply, bank, beans, "1"),
        }
    return w.food


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
    "/food/shifts/new": ("admin", lambda w: "/food/shifts/new", {**SHIFT_DATA, "org": "ORG"}),
    "/food/shifts/<shift_id>/join": ("alice", lambda w: f"/food/shifts/{w.shift}/join", {}),
    "/food/shifts/<shift_id>/leave": ("bob", lambda w: f"/food/shifts/{w.shift}/leave", {}),
    "/food/shifts/<shift_id>/cancel": (
        "admin",
        lambda w: f"/food/shifts/{w.shift}/cancel",
        {"reason": "x"},
    ),
    "/staff/orgs": ("admin", lambda w: "/staff/orgs", ORG_DATA),
    "/staff/orgs/<org_id>": (
        "admin",
        lambda w: f"/staff/orgs/{staff_org(w)}",
        {**ORG_DATA, "place": "Mill Lane"},
    ),
    "/staff/orgs/<org_id>/active": (
        "admin",
        lambda w: f"/staff/orgs/{staff_org(w)}/active",
        {"active": "0"},
    ),
    "/staff/orgs/<org_id>/people": (
        "admin",
        lambda w: f"/staff/orgs/{staff_org(w)}/people",
        {"member": "BOB", "role": "organiser"},
    ),
    "/staff/orgs/<org_id>/people/<member_id>/remove": (
        "admin",
        lambda w: f"/staff/orgs/{staff_org(w)}/people/{w.bob_id}/remove",
        {},
    ),
    "/staff/catalogue": ("admin", lambda w: "/staff/catalogue", ITEM_DATA),
    "/staff/catalogue/starter": ("admin", lambda w: "/staff/catalogue/starter", {}),
    "/staff/catalogue/<item_id>": (
        "admin",
        lambda w: f"/staff/catalogue/{staff_item(w)}",
        {**ITEM_DATA, "name": "Beans"},
    ),
    "/staff/catalogue/<item_id>/active": (
        "admin",
        lambda w: f"/staff/catalogue/{staff_item(w)}/active",
        {"active": "0"},
    ),
    "/food/needs/new": (
        "admin",
        lambda w: food_setup(w) and "/food/needs/new",
        {
            "org": "BANK",
            "title": "Forged need",
            "needed_by": "2027-03-24",
            "item-0": "BEANS",
            "qty-0": "3",
        },
    ),
    "/food/supplies/new": (
        "admin",
        lambda w: food_setup(w) and "/food/supplies/new",
        {"org": "BANK", "title": "Forged supply", "item-0": "BEANS", "qty-0": "3"},
    ),
    "/food/posts/<post_id>/pledge": (
        "bob",
        lambda w: f"/food/posts/{food_setup(w)['NEED']}/pledge",
        {"item": "BEANS", "qty": "2"},
    ),
    "/food/pledges/<pledge_id>/withdraw": (
        "alice",
        lambda w: f"/food/pledges/{food_setup(w)['PLEDGE']}/withdraw",
        {},
    ),
    "/food/posts/<post_id>/claim": (
        "admin",
        lambda w: f"/food/posts/{food_setup(w)['SUPPLY']}/claim",
        {"org": "BANK", "item": "BEANS", "qty": "2"},
    ),
    "/food/claims/<claim_id>/withdraw": (
        "admin",
        lambda w: f"/food/claims/{food_setup(w)['CLAIM']}/withdraw",
        {},
    ),
}


# --- community travel (issue 6) -----------------------------------------------------

# Dates around the web tests' clock (2027-03-17): seen before it, running out after it.
DRIVER_DATA = {
    "seen-licence": "2027-01-10",
    "expires-licence": "2030-01-01",
    "seen-insurance": "2027-03-01",
    "expires-insurance": "2028-02-28",
    "seen-dbs": "2026-05-01",
    "expires-dbs": "2029-05-01",
    "seats": "4",
    "wheelchair": "1",
}
# A ride three days after the web tests' fixed clock.
RIDE_DATA = {
    "from_address": "1 Forged Row",
    "to_address": "2 Forged Street",
    "from_area": "Millbrook",
    "to_area": "City Hospital",
    "date": "2027-03-20",
    "time": "09:30",
    "time_is": "pickup",
    "window": "15",
    "repeat": "none",
    "return_at": "",
    "passengers": "1",
    "notes": "",
}
DRIVING_RIDE = {
    "from_area": "Millbrook",
    "to_area": "City Hospital",
    "from_address": "12 Mill Lane",
    "to_address": "City Hospital",
    "date": "2027-03-22",  # a Monday
    "time": "10:00",
    "repeat": "weekly",
    "passengers": "1",
}


def vouched_driver(w: World) -> str:
    """Record Bob's checks as the admin (through the service); return his id."""
    box = w.admin.client.application.extensions["kith_box"]
    checks = {
        c: (DRIVER_DATA[f"seen-{c}"], DRIVER_DATA[f"expires-{c}"])
        for c in ("licence", "insurance", "dbs")
    }
    drivers.vouch(box, actor(box, ADMIN), w.bob_id, checks, {"seats": "4"})
    return w.bob_id


def alice_ride(w: World) -> str:
    """Ask for a ride as Alice; return its id."""
    box = w.alice.client.application.extensions["kith_box"]
    return rides.request_ride(box, actor(box, "Alice"), RIDE_DATA)


def driving_setup(w: World) -> dict:
    """Bob vouched as a driver; Alice's weekly ride from Monday 22 March and her ride
    today (Wednesday 17 March) at 18:00, which Bob took; a paid service (made once)."""
    if not hasattr(w, "driving"):
        box = w.admin.client.application.extensions["kith_box"]
        admin, alice, bob = actor(box, ADMIN), actor(box, "Alice"), actor(box, "Bob")
        checks = {c["slug"]: ("2027-01-04", "2028-01-31") for c in travel_lists.driver_checks(box)}
        car = {"seats": "4", "wheelchair": False, "folded_chair": False, "dogs": False}
        drivers.vouch(box, admin, w.bob_id, checks, car)
        weekly = rides.request_ride(box, alice, DRIVING_RIDE)
        today = rides.request_ride(
            box, alice, {**DRIVING_RIDE, "date": "2027-03-17", "time": "18:00", "repeat": "none"}
        )
        driving.take(box, bob, weekly, "2027-03-29")
        driving.take(box, bob, today, "2027-03-17")
        travel_lists.set_provider(box, admin, {"name": "Millbrook Taxis"})
        w.driving = {"WEEKLY": weekly, "TODAY": today}
    return w.driving


CASES.update(
    {
        "/staff/drivers/<member_id>": (
            "admin",
            lambda w: f"/staff/drivers/{w.bob_id}",
            DRIVER_DATA,
        ),
        "/staff/drivers/<member_id>/withdraw": (
            "admin",
            lambda w: f"/staff/drivers/{vouched_driver(w)}/withdraw",
            {"reason": "Forged"},
        ),
        "/staff/travel/needs": (
            "admin",
            lambda w: "/staff/travel/needs",
            {"need-label": "Forged need", "need-requires": "dogs"},
        ),
        "/staff/travel/checks": (
            "admin",
            lambda w: "/staff/travel/checks",
            {"check-label": "Forged"},
        ),
        "/staff/travel/providers": (
            "admin",
            lambda w: "/staff/travel/providers",
            {"provider-name": "Forged Taxis"},
        ),
        "/rides/new": ("alice", lambda w: "/rides/new", RIDE_DATA),
        "/rides/<ride_id>/cancel": (
            "alice",
            lambda w: f"/rides/{alice_ride(w)}/cancel",
            {"reason": "Forged cancel"},
        ),
        "/driving/<ride_id>/take": (
            "bob",
            lambda w: f"/driving/{driving_setup(w)['WEEKLY']}/take",
            {"date": "2027-03-22"},
        ),
        "/driving/<ride_id>/hand-back": (
            "bob",
            lambda w: f"/driving/{driving_setup(w)['WEEKLY']}/hand-back",
            {"date": "2027-03-29"},
        ),
        "/driving/<ride_id>/start": (
            "bob",
            lambda w: f"/driving/{driving_setup(w)['TODAY']}/start",
            {"date": "2027-03-17"},
        ),
        "/driving/<ride_id>/done": (
            "bob",
            lambda w: f"/driving/{driving_setup(w)['TODAY']}/done",
            {"date": "2027-03-17", "miles": "6"},
        ),
        "/coordinate/<ride_id>/paid": (
            "admin",
            lambda w: f"/coordinate/{driving_setup(w)['WEEKLY']}/paid",
            {
                "date": "2027-03-22",
                "provider": "millbrook-taxis",
                "cost": "12.50",
                "reference": "T-1",
            },
        ),
    }
)


# --- governance, moderation and personal data (issue 7) ---------------------------------


def conduct_published(w: World) -> bool:
    """Publish a code of conduct (version 1) as the admin."""
    box = w.admin.client.application.extensions["kith_box"]
    conduct.publish_conduct(box, actor(box, ADMIN), "Be kind.")
    return True


def open_proposal(w: World) -> str:
    """Alice's proposal to hide posts after 5 flags, open for votes; return its id."""
    box = w.alice.client.application.extensions["kith_box"]
    return proposals.propose(
        box, actor(box, "Alice"), "Five flags", "Busy board", "rule", rule="flags_to_hide", value=5
    )


def vouched_elsewhere(w: World) -> str:
    """East Centre (trusted) verified Bob; return Bob's id (East's key is filled in as EAST)."""
    box = w.admin.client.application.extensions["kith_box"]
    east = recordmaker().Origin("East Centre", start_ms=box.log.now_ms() - 3_600_000)
    box.log.append("trust.granted", {"origin": east.origin, "name": "East Centre"})
    assert box.log.ingest([east.make("member.verified", {}, subject=w.bob_id).line]).ok
    w.governance = {"EAST": east.origin}
    return w.bob_id


def moderation_setup(w: World) -> dict:
    """Alice's resolved post hidden by the admin, Bob's flag on her open post, and a
    paired centre whose hide waits for review here (made once)."""
    if not hasattr(w, "moderation"):
        box = w.admin.client.application.extensions["kith_box"]
        admin = actor(box, ADMIN)
        moderation.set_post_hidden(box, admin, w.resolved_post, True, "Advert")
        moderation.flag(box, actor(box, "Bob"), w.open_post, None, "spam")
        maker = recordmaker()
        east = maker.Origin("east-centre", start_ms=box.log.now_ms())
        box.log.append("trust.granted", {"origin": east.origin, "name": "East Centre"})
        moderation.set_peer_policy(box, admin, east.origin, "review")
        post = east.make("post.created", maker.post_body("need", "East need"), author="e" * 64)
        staff = east.make("role.granted", {"role": "staff", "expires": None}, subject="f" * 64)
        east.tick(60_000)
        hide = east.make(
            "post.hidden", {"reason": "Advert", "rule": "spam"}, subject=post.id, author="f" * 64
        )
        assert box.log.ingest([post.line, staff.line, hide.line]).ok
        w.moderation = {"HIDDEN": w.resolved_post, "PEER_HIDE": hide.id, "PEER": east.origin}
    return w.moderation


def moderation_appeal(w: World) -> str:
    """Alice's appeal against the hiding of her resolved post (made once); return its id."""
    setup = moderation_setup(w)
    if "APPEAL" not in setup:
        box = w.admin.client.application.extensions["kith_box"]
        setup["APPEAL"] = moderation.appeal(box, actor(box, "Alice"), setup["HIDDEN"], None, "Real")
    return setup["APPEAL"]


def asked_post(w: World) -> str:
    """Alice's open post, asked "still needed?" as the sweep asks."""
    box = w.alice.client.application.extensions["kith_box"]
    box.log.append("post.stale_check", {}, subject=w.open_post)
    return w.open_post


def quiet_post(w: World) -> str:
    """Alice's open post, asked and gone quiet."""
    box = w.alice.client.application.extensions["kith_box"]
    box.log.append("post.staled", {}, subject=asked_post(w))
    return w.open_post


def alice_token(w: World) -> str:
    """A personal API token of Alice's; return its id."""
    box = w.alice.client.application.extensions["kith_box"]
    return api_tokens.create_token(box, actor(box, "Alice"), "Script", 90)["id"]


CASES.update(
    {
        "/account/tokens": (
            "alice",
            lambda w: "/account/tokens",
            {"name": "Forged tool", "days": "90"},
        ),
        "/account/tokens/<token_id>/revoke": (
            "alice",
            lambda w: f"/account/tokens/{alice_token(w)}/revoke",
            {},
        ),
        "/conduct/accept": (
            "alice",
            lambda w: conduct_published(w) and "/conduct/accept",
            {"version": "1"},
        ),
        "/staff/conduct": ("admin", lambda w: "/staff/conduct", {"text": "Forged rules"}),
        "/proposals/new": (
            "alice",
            lambda w: "/proposals/new",
            {
                "title": "Forged",
                "reason": "Why",
                "change": "rule",
                "rule": "flags_to_hide",
                "value": "5",
            },
        ),
        "/proposals/<proposal_id>/vote": (
            "bob",
            lambda w: f"/proposals/{open_proposal(w)}/vote",
            {"choice": "agree", "reason": ""},
        ),
        "/staff/members/<member_id>/vouches/review": (
            "admin",
            lambda w: f"/staff/members/{vouched_elsewhere(w)}/vouches/review",
            {"origin": "EAST", "accepted": "1"},
        ),
        "/posts/<post_id>/flag": (
            "bob",
            lambda w: f"/posts/{w.open_post}/flag",
            {"flag_reason": "spam", "flag_note": ""},
        ),
        "/posts/<post_id>/appeal": (
            "alice",
            lambda w: f"/posts/{moderation_setup(w)['HIDDEN']}/appeal",
            {"appeal": "It is a real need"},
        ),
        "/staff/moderation/posts/<post_id>/hide": (
            "admin",
            lambda w: f"/staff/moderation/posts/{w.open_post}/hide",
            {"rule": "spam", "reason": "x"},
        ),
        "/staff/moderation/posts/<post_id>/restore": (
            "admin",
            lambda w: f"/staff/moderation/posts/{moderation_setup(w)['HIDDEN']}/restore",
            {"reason": "x"},
        ),
        "/staff/moderation/posts/<post_id>/clear": (
            "admin",
            lambda w: moderation_setup(w) and f"/staff/moderation/posts/{w.open_post}/clear",
            {"reason": ""},
        ),
        "/staff/moderation/appeals/<appeal_id>": (
            "admin",
            lambda w: f"/staff/moderation/appeals/{moderation_appeal(w)}",
            {"outcome": "upheld", "reason": "x"},
        ),
        "/staff/moderation/peer-hides/<hide_id>": (
            "admin",
            lambda w: f"/staff/moderation/peer-hides/{moderation_setup(w)['PEER_HIDE']}",
            {"decision": "accept"},
        ),
        "/staff/moderation/peers": (
            "admin",
            lambda w: moderation_setup(w) and "/staff/moderation/peers",
            {"origin": "PEER", "mode": "ignore"},
        ),
        "/posts/<post_id>/still-needed": (
            "alice",
            lambda w: f"/posts/{asked_post(w)}/still-needed",
            {"answer": "yes"},
        ),
        "/posts/<post_id>/revive": ("bob", lambda w: f"/posts/{quiet_post(w)}/revive", {}),
        "/account/erase": (
            "alice",
            lambda w: "/account/erase",
            {"mode": "keep", "password": PASSWORD},
        ),
        "/staff/members/<member_id>/erase": (
            "admin",
            lambda w: f"/staff/members/{w.bob_id}/erase",
            {"mode": "keep", "confirm": "yes"},
        ),
    }
)


def fill(world: World, data: dict) -> dict:
    values = {
        "BOB": world.bob_id,
        "POST": world.open_post,
        "ORG": world.org,
        **getattr(world, "food", {}),
        **getattr(world, "governance", {}),
        **getattr(world, "moderation", {}),
    }
    return {k: values.get(v, v) for k, v in data.items()}


def signed_in(b: Browser) -> bool:
    return b.client.get("/me").status_code == 200


# Open311 (web/open311.py) authenticates by the api_key form field, never by the session
# cookie, so its POSTs take no CSRF token; tests/web/test_open311.py
# (test_a_signed_in_browser_cannot_post_with_its_cookie) shows a cookie alone is refused
# with 403 and changes nothing. The catch-all only answers Open311's error array.
TOKEN_ONLY = {
    "/open311/",
    "/open311/<path:rest>",
    "/open311/v2/requests.json",
    "/open311/v2/requests.xml",
}


def test_every_post_route_is_covered(app):
    # JSON API routes (/api/) are covered for every area at once by
    # tests/web/test_api_board.py::test_every_api_post_signed_by_cookie_needs_the_csrf_header.
    post_rules = {
        r.rule
        for r in app.url_map.iter_rules()
        if "POST" in r.methods and not r.rule.startswith("/api/")
    }
    assert post_rules == set(CASES) | TOKEN_ONLY, "a new POST route needs a CSRF case here"


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
    # A new API token is shown once, on the answer itself (201), never behind a redirect.
    expected = 201 if rule == "/account/tokens" else 302
    assert response.status_code == expected, response.get_data(as_text=True)[:2000]
    if rule == "/login":
        assert signed_in(b)
    elif rule == "/logout":
        assert not signed_in(b)
    elif rule == "/staff/assisted/<post_id>/forget":  # local details only, never a record
        assert "07700" not in b.get("/staff/assisted").html
    elif rule.startswith("/account/tokens"):  # tokens are local rows, never records
        made = ApiToken.revoked_ms.is_null(False) if rule.endswith("revoke") else None
        made = made if made is not None else ApiToken.name == "Forged tool"
        assert ApiToken.select().where(made).count() == 1
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
    admin = actor(box, ADMIN)
    org = orgs.create_org(box, admin, {"name": "Food Bank", "type": "foodbank", "place": "Hall"})
    orgs.set_org_role(box, admin, org, member_id("Alice"), "organiser")
    shift = shifts.create_shift(box, actor(box, "Alice"), {**SHIFT_DATA, "org": org})
    shifts.join(box, actor(box, "Bob"), shift)
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
        (alice, "/food"),
        (alice, f"/food/orgs/{org}"),
        (alice, "/food/needs/new"),
        (alice, "/food/shifts"),
        (alice, "/food/shifts/new"),
        (alice, f"/food/shifts/{shift}"),
        (bob, "/food/shifts"),
        (bob, f"/food/shifts/{shift}"),
        (bob, "/food/balance"),
        (bob, "/food/trends"),
        (bob, "/food/appeal"),
        (bob, "/food/appeal/poster"),
        (bob, "/food/export"),
        (staff_client, "/staff/orgs"),
        (staff_client, "/staff/catalogue"),
        (staff_client, "/travel/insight"),
        (staff_client, "/coordinate"),
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
