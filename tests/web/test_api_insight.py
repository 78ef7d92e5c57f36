"""The insight JSON API (web/api_insight.py) against web/openapi/insight.yaml: the same
figures and suppression as the insight pages, travel figures for coordinators and staff
on the box only, a member's own data and erasure, and staff's copy of a member's data.

The "somebody should" posts are those of tests/web/test_insight_pages.py (the web tests'
clock, Wednesday 2027-03-17 12:00 UTC): three "local fixes" at Mill Lane on Monday 22 to
Wednesday 24 March, offered help after 2, 4 and 6 hours and resolved after 10, 20 and
30 hours; one "household" post at Park Road the same Monday, still open. Read on
Wednesday 31 March: medians 4 hours to a first helper and 20 hours to resolution.
"""

from __future__ import annotations

import pytest
from apitools import ApiClient, assert_documented, session_api, token_for
from pagetools import (
    ADMIN,
    ADMIN_PASSWORD,
    DAY_MS,
    PASSWORD,
    Browser,
    actor,
    member_id,
    new_post,
    record_count,
)

from appliance.models import ApiToken, LoginSession, Member
from appliance.services import accounts, board, members, rides

HOUR_MS = 3_600_000
POSTER, HELPER = "Alice Walker", "Bob Jones"
NOT_COORDINATOR = "Only the centre's ride coordinators and staff can see this."
NO_STAFF_TOKEN = "A personal token cannot be used for staff work: sign in on the box instead."
ERASE_WITH_PASSWORD = "Erase your account while signed in on the box, with your password."
RIDE = {
    "from_address": "12 Secret Lane",
    "to_address": "99 Hidden Road",
    "from_area": "Quillford",
    "to_area": "Zanthorpe Clinic",
    "date": "2027-03-18",  # tomorrow
    "time": "09:30",
    "time_is": "pickup",
    "window": "15",
    "repeat": "",
    "return_at": "",
    "passengers": "1",
    "needs": [],
    "notes": "door code 4321",
}


def _at(clock, ms: int) -> None:
    assert ms >= clock.ms
    clock.ms = ms


@pytest.fixture
def posts(box, clock):
    """Make the posts above; the clock ends at Wednesday 31 March, noon."""
    start = clock.ms
    poster = accounts.actor_for(box, accounts.sign_up(box, POSTER, PASSWORD))
    helper = accounts.actor_for(box, accounts.sign_up(box, HELPER, PASSWORD))
    monday = start + 5 * DAY_MS
    _at(clock, monday - HOUR_MS)
    should = {"type": "should", "details": "", "needed_by": ""}
    ids = [
        board.create_post(
            box,
            poster,
            {**should, "title": "Fridge dumped", "category": "household", "place": "Park Road"},
        )
    ]
    events = []
    for n, (helped, resolved) in enumerate([(2, 10), (4, 20), (6, 30)]):
        created = monday + n * DAY_MS
        events += [(created, "post", n), (created + helped * HOUR_MS, "help", n)]
        events.append((created + resolved * HOUR_MS, "resolve", n))
    fixes = {}
    for when, what, n in sorted(events):
        _at(clock, when)
        if what == "post":
            fixes[n] = board.create_post(
                box,
                poster,
                {**should, "title": f"Pothole {n}", "category": "local-fix", "place": "Mill Lane"},
            )
        elif what == "help":
            board.offer_help(box, helper, fixes[n], "on_it")
        else:
            board.resolve(box, poster, fixes[n])
    _at(clock, start + 14 * DAY_MS)
    return ids + list(fixes.values())


@pytest.fixture
def visitor(client) -> ApiClient:
    return ApiClient(client)


@pytest.fixture
def stranger(app) -> ApiClient:
    """Someone sending a token the box never made."""
    return ApiClient(app.test_client(), "kith_not-a-token")


@pytest.fixture
def staff_api(staff_client) -> ApiClient:
    """Staff signed in on the box (the login cookie and its CSRF token)."""
    return session_api(staff_client)


@pytest.fixture
def staff_token(app, box, staff_client) -> ApiClient:
    """The same member of staff through a personal token: member work only."""
    return ApiClient(app.test_client(), token_for(box, "Sam Staff"))


def ok(api: ApiClient, url: str, status: int = 200, method: str = "GET", **kw):
    """Send a request, check its status and that the answer is documented; return it."""
    response = api.request(method, url, **kw)
    assert response.status_code == status, (url, response.get_data(as_text=True)[:1000])
    assert response.headers["Cache-Control"] == "no-store"
    return assert_documented(response)


def refused(box, api: ApiClient, url: str, status: int, method: str = "GET", **kw) -> dict:
    """Send a request that must be refused; check it changed nothing; return the error."""
    before = record_count(box), Member.select().where(Member.erased == True).count()  # noqa: E712
    found = ok(api, url, status, method, **kw)
    assert found["error"]
    assert (record_count(box), Member.select().where(Member.erased == True).count()) == before  # noqa: E712
    return found


# --- the overview ---------------------------------------------------------------------------


def test_the_overview_gives_each_reader_the_page_s_figures(posts, visitor, staff_api, staff_token):
    public = ok(visitor, "/api/v1/insight")
    assert public["exact"] is False and public["travel"] is None
    should = public["should"]
    assert (should["from"], should["to"]) == ("2027-01-11", "2027-03-31")
    assert should["reported"] == {"value": 4, "suppressed": False}
    assert should["resolved"] == {"value": 3, "suppressed": False}
    assert should["resolution"] == {"value": 20.0, "suppressed": False}
    assert public["food"] == {
        "open_needs": {"value": 0, "suppressed": False},
        "covered_month": {"value": 0, "suppressed": False},
        "rising": [],
    }
    staff = ok(staff_api, "/api/v1/insight")
    assert staff["exact"] is True
    assert staff["travel"]["journeys"] == {"value": 0, "suppressed": False}
    # A token carries no staff role: the reader is a member like any other.
    assert ok(staff_token, "/api/v1/insight") == public


def test_a_bad_token_is_refused_even_where_visitors_may_read(box, stranger):
    for url in ("/api/v1/insight", "/api/v1/insight/should"):
        assert "token" in refused(box, stranger, url, 401)["error"]


# --- "somebody should" ----------------------------------------------------------------------


def test_should_figures_suppress_small_counts_for_the_public(posts, visitor):
    data = ok(visitor, "/api/v1/insight/should")
    assert (data["exact"], data["scope"], data["min_count"]) == (False, "here", 3)
    fixes = next(c for c in data["categories"] if c["slug"] == "local-fix")
    assert fixes["label"] == "Local fixes"
    assert (fixes["reported"]["value"], fixes["resolved"]["value"]) == (3, 3)
    assert fixes["helper"]["median"] == {"value": 4.0, "suppressed": False}
    assert fixes["helper"]["p75"] == {"value": 5.0, "suppressed": False}
    assert fixes["resolution"]["median"] == {"value": 20.0, "suppressed": False}
    assert fixes["resolution"]["p75"] == {"value": 25.0, "suppressed": False}
    household = next(c for c in data["categories"] if c["slug"] == "household")
    assert household["reported"] == {"value": None, "suppressed": True}
    assert [(p["place"], p["reported"]) for p in data["places"]] == [
        ("Mill Lane", {"value": 3, "suppressed": False}),
        ("Park Road", {"value": None, "suppressed": True}),
    ]
    assert [(u["id"], u["title"]) for u in data["unresolved"]] == [(posts[0], "Fridge dumped")]
    assert data["open_total"] == 1
    assert data["totals"]["resolved_share"] == {"value": 75, "suppressed": False}
    assert [w["label"] for w in data["weekdays"]][:2] == ["Monday", "Tuesday"]
    assert data["recurring"][0]["place"] == "Mill Lane"
    assert POSTER not in str(data) and HELPER not in str(data)


def test_staff_on_the_box_see_exact_figures_a_staff_token_does_not(
    posts, staff_api, staff_token, visitor
):
    staff = ok(staff_api, "/api/v1/insight/should")
    assert staff["exact"] is True
    household = next(c for c in staff["categories"] if c["slug"] == "household")
    assert household["reported"] == {"value": 1, "suppressed": False}
    assert ok(staff_token, "/api/v1/insight/should") == ok(visitor, "/api/v1/insight/should")


def test_should_filters_narrow_the_figures(posts, visitor):
    data = ok(visitor, "/api/v1/insight/should?place=mill+lane&category=local-fix&scope=all")
    assert data["filters"] == {
        "from": "2027-01-11",
        "to": "2027-03-31",
        "category": "local-fix",
        "place": "Mill Lane",
        "scope": "all",
    }
    assert [p["place"] for p in data["places"]] == ["Mill Lane"]
    assert data["totals"]["reported"]["value"] == 3 and data["unresolved"] == []


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("category=nope", "category", "There is no such category."),
        ("place=Atlantis", "place", "No “somebody should” was ever posted at that place."),
        ("from=17-03-2027", "from", "Please give the date as YYYY-MM-DD."),
        ("from=2024-01-01&to=2027-03-01", "to", "Please choose dates at most 2 years apart."),
        ("scope=everywhere", "scope", "Please choose this centre or all centres."),
    ],
)
def test_bad_should_filters_are_400_naming_the_field(box, posts, visitor, query, field, message):
    found = refused(box, visitor, f"/api/v1/insight/should?{query}", 400)
    assert found["fields"] == {field: message}
    assert found["error"] == "Some filters were not understood."


# --- travel -----------------------------------------------------------------------------------


@pytest.fixture
def coordinator(box, new_browser) -> ApiClient:
    """Cora, a ride coordinator, signed in on the box."""
    accounts.sign_up(box, "Cora Coord", PASSWORD)
    members.grant_role(box, actor(box, ADMIN), member_id("Cora Coord"), "coordinator")
    b = new_browser()
    assert b.login("Cora Coord").status_code == 302
    return session_api(b)


@pytest.fixture
def ride(box, clock) -> str:
    """Rosa's ride tomorrow morning, nobody drove it; the clock ends the day after."""
    accounts.sign_up(box, "Rosa Rider", PASSWORD)
    ride_id = rides.request_ride(box, actor(box, "Rosa Rider"), RIDE)
    _at(clock, clock.ms + 2 * DAY_MS)
    return ride_id


def test_coordinators_and_staff_on_the_box_see_travel_figures(box, ride, coordinator, staff_api):
    data = ok(coordinator, "/api/v1/insight/travel?weeks=4")
    assert (data["weeks"], data["from"]) == (4, "2027-02-22")
    # One rider's journey: counted by the people behind it, so suppressed.
    assert data["totals"]["journeys"] == {"value": None, "suppressed": True}
    assert data["needs"][-1]["label"] == "No access needs stated"
    assert [d["label"] for d in data["demand"]["days"]][:1] == ["Monday"]
    assert ok(staff_api, "/api/v1/insight/travel?weeks=4") == data
    text = str(data)
    for secret in ("Rosa Rider", "12 Secret Lane", "Quillford", "door code"):
        assert secret not in text


def test_travel_figures_are_refused_to_members_tokens_and_visitors(
    box, app, ride, coordinator, visitor, staff_token, new_browser
):
    url = "/api/v1/insight/travel"
    member = ApiClient(app.test_client(), token_for(box, "Rosa Rider"))
    cora = ApiClient(app.test_client(), token_for(box, "Cora Coord"))
    for api in (member, cora, staff_token):
        assert refused(box, api, url, 403)["error"] == NOT_COORDINATOR
    signed_in = new_browser("Mo Member")
    assert refused(box, session_api(signed_in), url, 403)["error"] == NOT_COORDINATOR
    assert refused(box, visitor, url, 401)["error"] == "Please log in or sign up first."
    bad = refused(box, coordinator, url + "?weeks=5", 400)
    assert bad["fields"] == {"weeks": "Please choose 4, 8, 12, 26 or 52 weeks."}


# --- a member's own data and erasure ----------------------------------------------------------


@pytest.fixture
def zeb(box, new_browser):
    """Zeb, signed up with contact details, who posted once and commented on Bob's post."""
    b = new_browser("Zeb Quill", contact="zq@example.org")
    bob = new_browser("Bob")
    theirs = new_post(bob, title="A shelf to put up")
    board.add_comment(box, actor(box, "Zeb Quill"), theirs, "I have a drill")
    new_post(b, title="Loan of a ladder")
    return b


def test_a_member_reads_their_own_data_with_a_token(box, app, zeb, visitor):
    api = ApiClient(app.test_client(), token_for(box, "Zeb Quill"))
    data = ok(api, "/api/v1/me/data")
    assert data["format"] == "kith-member-export/1"
    assert data["profile"]["name"] == "Zeb Quill"
    assert data["profile"]["contact"] == "zq@example.org"
    assert [p["title"] for p in data["posts"]] == ["Loan of a ladder"]
    assert [(c["text"], c["post_title"]) for c in data["comments"]] == [
        ("I have a drill", "A shelf to put up")
    ]
    # The post's title, not who wrote it.
    assert "Bob" not in str(data["comments"]) and member_id("Bob") not in str(data)
    assert ok(session_api(zeb), "/api/v1/me/data")["profile"] == data["profile"]
    refused(box, visitor, "/api/v1/me/data", 401)


def test_the_erase_preview_says_what_would_go(box, app, zeb, visitor, admin_client):
    api = ApiClient(app.test_client(), token_for(box, "Zeb Quill"))
    preview = ok(api, "/api/v1/me/erase")
    assert preview == {
        "member": member_id("Zeb Quill"),
        "name": "Zeb Quill",
        "posts": 1,
        "comments": 1,
        "others_comments": 0,
        "rides": 0,
        "shifts": 0,
        "contact": True,
        "last_admin": False,
        "remove_allowed": True,
    }
    assert ok(session_api(admin_client), "/api/v1/me/erase")["last_admin"] is True
    refused(box, visitor, "/api/v1/me/erase", 401)


def test_erasing_needs_the_login_cookie_and_the_password(box, app, zeb, visitor):
    url = "/api/v1/me/erase"
    body = {"mode": "keep", "password": PASSWORD}
    token = ApiClient(app.test_client(), token_for(box, "Zeb Quill"))
    assert refused(box, token, url, 403, "POST", json=body)["error"] == ERASE_WITH_PASSWORD
    me = session_api(zeb)
    wrong = refused(box, me, url, 400, "POST", json={**body, "password": "guess"})
    assert wrong["fields"] == {"password": "That is not your password. Nothing was erased."}
    bad_mode = refused(box, me, url, 400, "POST", json={**body, "mode": "shred"})
    assert set(bad_mode["fields"]) == {"mode"}
    refused(box, me, url, 400, "POST", json=["keep"])
    refused(box, me, url, 415, "POST", data="mode=keep")
    refused(box, visitor, url, 401, "POST", json=body)
    no_csrf = zeb.client.post(url, json=body)
    assert no_csrf.status_code == 400
    assert not Member.get(Member.id == member_id("Zeb Quill")).erased


def test_a_member_erases_their_account_and_the_session_ends(box, zeb):
    zeb_id = member_id("Zeb Quill")
    token_for(box, "Zeb Quill")
    before = record_count(box)
    done = ok(
        session_api(zeb),
        "/api/v1/me/erase",
        200,
        "POST",
        json={"mode": "keep", "password": PASSWORD},
    )
    assert (done["member"], done["mode"]) == (zeb_id, "keep")
    assert record_count(box) == before + 1
    assert Member.get(Member.id == zeb_id).erased
    assert LoginSession.select().where(LoginSession.member == zeb_id).count() == 0
    assert ApiToken.select().where(ApiToken.member == zeb_id).count() == 0
    assert zeb.client.get("/api/v1/me").status_code == 401


def test_the_last_admin_cannot_erase_their_account(box, admin_client):
    found = refused(
        box,
        session_api(admin_client),
        "/api/v1/me/erase",
        409,
        "POST",
        json={"mode": "keep", "password": ADMIN_PASSWORD},
    )
    assert "last admin" in found["error"]


# --- staff, for a member who asks at the desk -----------------------------------------------


def test_staff_on_the_box_read_a_member_s_data(box, app, zeb, staff_api, staff_token, visitor):
    zeb_id = member_id("Zeb Quill")
    url = f"/api/v1/staff/members/{zeb_id}/data"
    data = ok(staff_api, url)
    assert data["profile"]["id"] == zeb_id and len(data["posts"]) == 1
    assert refused(box, staff_api, "/api/v1/staff/members/" + "f" * 64 + "/data", 404)["error"]
    assert refused(box, staff_token, url, 403)["error"] == NO_STAFF_TOKEN
    bob = Browser(app.test_client())
    assert bob.login("Bob").status_code == 302
    bob = session_api(bob)
    assert refused(box, bob, url, 403)["error"] == "Only the centre's staff can do that."
    zeb_token = ApiClient(app.test_client(), token_for(box, "Zeb Quill"))
    assert refused(box, zeb_token, url, 403)["error"] == NO_STAFF_TOKEN
    refused(box, visitor, url, 401)


def test_staff_on_the_box_erase_a_member_who_asks_at_the_desk(box, zeb, staff_api, staff_token):
    zeb_id = member_id("Zeb Quill")
    url = f"/api/v1/staff/members/{zeb_id}/erase"
    for body, field in (({"mode": "keep"}, "confirm"), ({"mode": "gone", "confirm": True}, "mode")):
        found = refused(box, staff_api, url, 400, "POST", json=body)
        assert field in found["fields"], body
    assert (
        refused(box, staff_token, url, 403, "POST", json={"mode": "keep", "confirm": True})["error"]
        == NO_STAFF_TOKEN
    )
    before = record_count(box)
    response = staff_api.post(url, json={"mode": "keep", "confirm": True})
    done = assert_documented(response, "POST", "/api/v1/staff/members/{member_id}/erase")
    assert response.status_code == 200 and done["member"] == zeb_id and done["mode"] == "keep"
    assert record_count(box) == before + 1
    assert Member.get_by_id(zeb_id).erased
    again = refused(box, staff_api, url, 409, "POST", json={"mode": "keep", "confirm": True})
    assert again["error"]
