"""No ride detail reaches anyone who may not see it: every GET route of the app, as
every kind of person, before and after a driver takes the ride.

Rosa asks for a weekly wheelchair ride from Quillford to Zanthorpe Clinic (addresses
"12 Secret Lane" and "99 Hidden Road", notes "door code 4321"). Then every GET route
the app has (read from app.url_map, so a new route is fetched too) is asked for as:
a visitor, a plain member, another rider, an authorised driver whose car cannot take
a wheelchair, a driver whose checks have lapsed, a driver with a suitable van (before
and after she takes the ride), Rosa, a coordinator and staff. Each URL parameter is
filled with the ride's id, members' ids, the feeds' tokens and the like, and each id
slot is also tried with the ride's id, so no page that looks records up by id can
show it. A route with a parameter this test cannot fill fails the test, and every
route without a ride parameter is named in NO_RIDE_PARAM, so nothing new slips by.

Who may see what (appliance/services/ride_access.py): the rider, coordinators, staff
and the driver who took the ride see everything; a suitable driver sees the areas and
the time, never the addresses, notes, needs or the rider's name, until she takes it;
everyone else sees nothing of it, not even that it exists. The public surfaces (the
board, search, the public API, Open311, the open formats, the kiosk, the food pages and
exports) never show a ride, to anyone. Travel insight (/travel/insight) is for
coordinators and staff and names nobody.
"""

from __future__ import annotations

import html
import itertools
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import pytest
from pagetools import ADMIN, DAY_MS, Browser, actor, member_id, new_post, record_count

from appliance.services import (
    calendar_feeds,
    drivers,
    driving,
    food_charts,
    hsds,
    members,
    open_dump,
    orgs,
    ride_calendar,
    rides,
    shifts,
    should_insight,
    travel_insight,
)
from appliance.services.food_export_columns import DATASETS
from appliance.services.open_data_columns import DATASETS as OPEN_DATASETS
from web import create_app

# The web tests' clock: Wednesday 2027-03-17 12:00 UTC. The ride starts next Tuesday.
RIDE = {
    "from_address": "12 Secret Lane",
    "to_address": "99 Hidden Road",
    "from_area": "Quillford",
    "to_area": "Zanthorpe Clinic",
    "date": "2027-03-23",
    "time": "09:30",
    "time_is": "pickup",
    "window": "15",
    "repeat": "weekly",
    "return_at": "12:00",
    "passengers": "1",
    "needs": ["wheelchair-stays"],
    "notes": "door code 4321",
}
OTHER_RIDE = {
    **RIDE,
    "from_address": "44 Other Street",
    "to_address": "Otterby Surgery, 1 Main Road",
    "from_area": "Otterby",
    "to_area": "Otterby Surgery",
    "date": "2027-03-24",
    "repeat": "none",
    "needs": [],
    "notes": "",
}
FIRST_DATE = "2027-03-23"
RIDER = "Rosa Rider"
ADDRESSES = ("12 Secret Lane", "99 Hidden Road")
NOTES = ("door code 4321",)
# The end of the need's label, "Wheelchair user, stays in the chair" (a calendar feed
# escapes the comma).
NEEDS = ("stays in the chair",)
AREAS = ("Quillford", "Zanthorpe Clinic")
CAR = {"seats": 3, "wheelchair": False, "folded_chair": True, "dogs": False}
VAN = {"seats": 6, "wheelchair": True, "folded_chair": True, "dogs": True}

# Everyone, in the order the matrix asks as them, with the member's name (None: visitor).
PEOPLE = {
    "visitor": None,
    "member": "Mo Member",
    "other_rider": "Otto Other",
    "unsuitable_driver": "Carl Car",
    "lapsed_driver": "Lou Lapsed",
    "suitable_driver": "Vera Van",
    "rider": RIDER,
    "coordinator": "Cora Coordinator",
    "staff": "Sam Staff",
}
# Whoever sees nothing of Rosa's ride, whether a driver took it or not.
NOBODY = ("visitor", "member", "other_rider", "unsuitable_driver", "lapsed_driver")

# Every GET route that takes no ride parameter. A new route fails
# test_every_get_route_is_classified until it is added here (or takes a ride_id, which
# the matrix fills itself), so nobody forgets to ask what it shows.
NO_RIDE_PARAM = {
    "/",
    "/account/data",
    "/account/data.json",
    "/account/erase",
    "/account/goodbye",
    "/account/tokens",
    "/api",
    "/api/v1/centre",
    "/api/v1/conduct",
    "/api/v1/coordinate",
    "/api/v1/driving",
    "/api/v1/food/appeal",
    "/api/v1/food/balance",
    "/api/v1/food/items",
    "/api/v1/food/needs",
    "/api/v1/food/orgs",
    "/api/v1/food/orgs/<org_id>",
    "/api/v1/food/shifts",
    "/api/v1/food/shifts/<shift_id>",
    "/api/v1/food/supplies",
    "/api/v1/food/trends",
    "/api/v1/insight",
    "/api/v1/insight/should",
    "/api/v1/insight/travel",
    "/api/v1/me",
    "/api/v1/me/data",
    "/api/v1/me/erase",
    "/api/v1/me/tokens",
    "/api/v1/moderation/log",
    "/api/v1/moderation/queue",
    "/api/v1/openapi.json",
    "/api/v1/posts",
    "/api/v1/posts/<post_id>",
    "/api/v1/posts/<post_id>/appeal",
    "/api/v1/proposals",
    "/api/v1/proposals/<proposal_id>",
    "/api/v1/rides",
    "/api/v1/setup/drivers",
    "/api/v1/setup/drivers/<member_id>",
    "/api/v1/setup/travel",
    "/api/v1/staff/centre/categories",
    "/api/v1/staff/members",
    "/api/v1/staff/members/<member_id>/data",
    "/api/v1/staff/members/<member_id>/vouches",
    "/api/v1/staff/moderation/peers",
    "/api/v1/sync/status",
    "/api/v1/thanks",
    "/conduct",
    "/conduct/<int:version>",
    "/coordinate",
    "/driving",
    "/driving/calendar/<member_id>/<token>.ics",
    "/food",
    "/food/appeal",
    "/food/appeal/poster",
    "/food/balance",
    "/food/calendar/<member_id>/<token>.ics",
    "/food/export",
    "/food/export/<dataset>.csv",
    "/food/export/<dataset>.json",
    "/food/needs/new",
    "/food/orgs/<org_id>",
    "/food/orgs/<org_id>/shifts.ics",
    "/food/shifts",
    "/food/shifts/<shift_id>",
    "/food/shifts/new",
    "/food/supplies/new",
    "/food/trends",
    "/food/trends/<chart>.svg",
    "/insight",
    "/insight/should",
    "/insight/should/<chart>.svg",
    "/insight/should/<table>.csv",
    "/kiosk",
    "/kiosk/qr.svg",
    "/kiosk/state",
    "/login",
    "/me",
    "/moderation",
    "/new",
    "/new/form",
    "/open",
    "/open/as/centre",
    "/open/as/comments/<comment_id>",
    "/open/as/moderation",
    "/open/as/posts",
    "/open/as/posts/<post_id>",
    "/open/as/posts/<post_id>/replies",
    "/open/data",
    "/open/data/<dataset>.csv",
    "/open/data/<dataset>.json",
    "/open/data/columns.json",
    "/open/data/dumps",
    "/open/data/dumps/<name>.json",
    "/open/data/dumps/<name>.sig",
    "/open/hsds/organizations",
    "/open/hsds/organizations/<org_id>",
    "/open/hsds/services",
    "/open/hsds/services/<service_id>",
    "/open311/",
    "/open311/<path:rest>",
    "/open311/v2/discovery.json",
    "/open311/v2/discovery.xml",
    "/open311/v2/requests.json",
    "/open311/v2/requests.xml",
    "/open311/v2/requests/<post_id>.json",
    "/open311/v2/requests/<post_id>.xml",
    "/open311/v2/services.json",
    "/open311/v2/services.xml",
    "/open311/v2/services/<service_code>.json",
    "/open311/v2/services/<service_code>.xml",
    "/posts/<post_id>",
    "/posts/<post_id>/appeal",
    "/proposals",
    "/proposals/<proposal_id>",
    "/proposals/new",
    "/rides",
    "/rides/new",
    "/signup",
    "/staff/assisted",
    "/staff/assisted/new",
    "/staff/catalogue",
    "/staff/centre",
    "/staff/conduct",
    "/staff/drivers",
    "/staff/drivers/<member_id>",
    "/staff/health",
    "/staff/members",
    "/staff/members/<member_id>/data",
    "/staff/members/<member_id>/data.json",
    "/staff/members/<member_id>/vouches",
    "/staff/moderation",
    "/staff/moderation/peers",
    "/staff/orgs",
    "/staff/orgs/<org_id>",
    "/staff/travel",
    "/thanks",
    "/travel/insight",
    "/travel/insight/<chart>.svg",
}
SKIPPED = {"/static/<path:filename>"}  # the box's own CSS and scripts: no data in them
# Query strings the routes above take, tried as well: search above all.
# Query strings the routes above take, tried as well: search above all. Searches use
# part of a secret, as a page may say back what was searched for.
EXTRA = (
    "/?q=Secret",
    "/?q=Quill",
    "/?q=4321",
    "/?q=Rosa",
    "/?q=Zanthorpe&status=all",
    "/?q=Hidden&type=need",
    "/api/v1/posts?q=Secret",
    "/api/v1/posts?q=Quill",
    "/food/export?q=Secret",
    "/kiosk/state?since=0",
    "/coordinate?days=366",
    "/travel/insight?weeks=52",
    "/open311/v2/requests.json?service_code=travel",
    "/open311/v2/requests.xml?start_date=2027-01-01&end_date=2027-03-31",
)
# Public surfaces: no ride, whoever asks (staff too).
PUBLIC = (
    "/api/",
    "/open311/",
    "/open/",
    "/kiosk",
    "/food",
    "/thanks",
    "/posts/",
    "/login",
    "/signup",
    "/new",
)
# The travel API answers as the travel pages do (ride_access decides), and the staff
# set-up API as the staff pages do, so they are no public surface: each person sees
# there what their level allows, as on /rides or /staff/drivers.
TRAVEL_API = (
    "/api/v1/rides",
    "/api/v1/driving",
    "/api/v1/coordinate",
    "/api/v1/setup",
    "/api/v1/staff",
    "/api/v1/me/",
)


@dataclass
class World:
    box: object
    browsers: dict[str, Browser]
    ids: dict[str, str]  # role -> member id
    ride: str  # Rosa's ride
    other_ride: str  # Otto's
    post: str
    org: str
    shift: str
    taken: bool = False


def vouch(box, name: str, vehicle: dict, expires: str) -> None:
    """Record the admin's vouch for a driver, as the staff pages do (driver.vouched)."""
    check = {"check": "licence", "label": "Driving licence seen", "seen": "2026-06-01"}
    body = {"checks": [{**check, "expires": expires}], "vehicle": vehicle}
    box.log.append("driver.vouched", body, subject=member_id(name), author=member_id(ADMIN))


@pytest.fixture
def world(box, app, new_browser, staff_client, browser) -> World:
    browsers = {"visitor": browser, "staff": staff_client}
    for role, name in PEOPLE.items():
        if role not in browsers:
            browsers[role] = new_browser(name)
            browsers[role].get("/")  # shows the "welcome" note, once
    admin = actor(box, ADMIN)
    members.grant_role(box, admin, member_id("Cora Coordinator"), "coordinator")
    vouch(box, "Vera Van", VAN, "2028-01-31")
    vouch(box, "Carl Car", CAR, "2028-01-31")
    vouch(box, "Lou Lapsed", VAN, "2027-03-01")  # ran out two weeks ago
    ride = rides.request_ride(box, actor(box, RIDER), RIDE)
    other_ride = rides.request_ride(box, actor(box, "Otto Other"), OTHER_RIDE)
    post = new_post(browsers["member"], title="Spare garden tools", details="Rakes and a spade")
    browsers["member"].get("/")  # shows the "your post is on the board" note, once
    org = orgs.create_org(box, admin, {"name": "Food Bank", "type": "foodbank", "place": "Hall"})
    orgs.set_org_role(box, admin, org, admin.id, "organiser")
    shift = shifts.create_shift(
        box,
        admin,
        {
            "org": org,
            "title": "Sorting",
            "date": "2027-03-20",
            "start": "09:30",
            "end": "12:00",
            "place": "",
            "people": "5",
            "bring": "",
        },
    )
    shifts.join(box, actor(box, "Mo Member"), shift)
    ids = {role: member_id(name) for role, name in PEOPLE.items() if name}
    return World(box, browsers, ids, ride, other_ride, post, org, shift)


# --- filling in URL parameters -------------------------------------------------------------


def _ids_with_the_ride(w: World, real: str) -> list[str]:
    return [real, w.ride]


def _members(w: World, role: str) -> list[str]:
    own = [w.ids[role]] if role in w.ids else []
    return [*own, w.ids["rider"], w.ids["suitable_driver"], w.ride]


# Parameter name -> its values, for whoever asks.
FILLERS = {
    "ride_id": lambda w, role: [w.ride],
    "date": lambda w, role: [FIRST_DATE],
    "post_id": lambda w, role: _ids_with_the_ride(w, w.post),
    "org_id": lambda w, role: _ids_with_the_ride(w, w.org),
    "shift_id": lambda w, role: _ids_with_the_ride(w, w.shift),
    "member_id": _members,
    "dataset": lambda w, role: sorted(DATASETS),
    "version": lambda w, role: [1],
    "proposal_id": lambda w, role: [w.ride],
    "comment_id": lambda w, role: [w.ride],
    "service_code": lambda w, role: ["local-fix", w.ride],
    "rest": lambda w, role: [f"v2/requests/{w.ride}", f"v2/rides/{w.ride}.xml"],
    "service_id": lambda w, role: [hsds.hsds_id("service", f"{w.org}/posts"), w.ride],
}


def _feed_urls(w: World, role: str, prefix: str, token_of) -> list[str]:
    """A member's own feed, someone else's with the member's token, and a made-up token."""
    box = w.box
    urls = [f"{prefix}/{w.ids['suitable_driver']}/{'0' * 64}.ics"]
    if role in w.ids:
        mine = token_of(box, w.ids[role])
        urls += [f"{prefix}/{w.ids[role]}/{mine}.ics", f"{prefix}/{w.ids['rider']}/{mine}.ics"]
    return urls


# Endpoint -> its URLs, where parameters go together (a feed's member and token) or
# depend on the route (chart names).
CUSTOM = {
    "should_insight.chart_svg": lambda w, role: (
        [f"/insight/should/{c}.svg" for c in should_insight.CHARTS]
        + ["/insight/should/categories.svg?scope=all"]
    ),
    "should_insight.table_csv": lambda w, role: (
        [f"/insight/should/{t}.csv" for t in should_insight.TABLES]
        + ["/insight/should/unresolved.csv?scope=all"]
    ),
    "open_formats.hsds_organization": lambda w, role: [
        f"/open/hsds/organizations/{hsds.hsds_id('organization', w.org)}",
        f"/open/hsds/organizations/{w.ride}",
    ],
    "open_data.download_csv": lambda w, role: [
        f"/open/data/{d}.csv" for d in sorted(OPEN_DATASETS)
    ],
    "open_data.download_json": lambda w, role: [
        f"/open/data/{d}.json" for d in sorted(OPEN_DATASETS)
    ],
    "open_data.dump_json": lambda w, role: [
        f"/open/data/dumps/{open_dump.write_dump(w.box).stem}.json"
    ],
    "open_data.dump_sig": lambda w, role: [
        f"/open/data/dumps/{open_dump.write_dump(w.box).stem}.sig"
    ],
    "driving.calendar": lambda w, role: _feed_urls(
        w, role, "/driving/calendar", ride_calendar.calendar_token
    ),
    "shifts.volunteer_calendar": lambda w, role: _feed_urls(
        w, role, "/food/calendar", calendar_feeds.calendar_token
    ),
    "food_insight.chart_svg": lambda w, role: [
        f"/food/trends/{c}.svg" for c in food_charts.chart_names()
    ],
    "travel_insight.chart_svg": lambda w, role: (
        [f"/travel/insight/{c}.svg" for c in travel_insight.chart_names()]
        + ["/travel/insight/demand.svg?weeks=52"]
    ),
}


def get_rules(app) -> list:
    return [r for r in app.url_map.iter_rules() if "GET" in r.methods and r.rule not in SKIPPED]


def urls_for(app, w: World, role: str) -> list[str]:
    """Every URL of every GET route, filled in for this person; fail on one we cannot fill."""
    urls = []
    routes = app.url_map.bind("localhost")
    for rule in get_rules(app):
        if rule.endpoint in CUSTOM:
            made = CUSTOM[rule.endpoint](w, role)
            for url in made:  # a CUSTOM entry must still reach its route as it is now
                assert routes.match(urlsplit(url).path)[0] == rule.endpoint, (rule.rule, url)
            urls += made
            continue
        names = sorted(rule.arguments)
        unknown = [n for n in names if n not in FILLERS]
        assert not unknown, f"{rule.rule}: cannot fill {unknown}; add a filler or a CUSTOM entry"
        choices = [FILLERS[n](w, role) for n in names]
        for values in itertools.product(*choices):
            urls.append(rule.build(dict(zip(names, values, strict=True)))[1])
    return urls + list(EXTRA)


def test_every_get_route_is_classified(app):
    rules = {r.rule: r for r in get_rules(app)}
    unclassified = {
        rule
        for rule, r in rules.items()
        if rule not in NO_RIDE_PARAM and "ride_id" not in r.arguments
    }
    assert not unclassified, "add these routes to NO_RIDE_PARAM (or give them a ride_id)"
    assert not NO_RIDE_PARAM - set(rules), "these routes are gone: take them out of NO_RIDE_PARAM"
    assert {r for r, rule in rules.items() if "ride_id" in rule.arguments} >= {"/rides/<ride_id>"}


def test_a_route_the_matrix_cannot_fill_fails_it(box, world):
    fresh = create_app(box, {"TESTING": True})
    fresh.add_url_rule("/rides/<ride_id>/by/<driver_nickname>", "made_up", lambda **kw: "")
    with pytest.raises(AssertionError, match="driver_nickname"):
        urls_for(fresh, world, "member")


# --- what each person must not see ---------------------------------------------------------


def level(role: str, taken: bool) -> str | None:
    """How much of Rosa's ride this person may see: "full", "area" or None."""
    if role in ("rider", "coordinator", "staff"):
        return "full"
    if role == "suitable_driver":
        return "full" if taken else "area"
    return None


def forbidden(w: World, role: str, url: str) -> tuple[str, ...]:
    """Return the strings this person must not find in this URL's answer."""
    details = (*ADDRESSES, *NOTES, *NEEDS)
    everything = (*details, RIDER, *AREAS, w.ride)
    path = urlsplit(url).path
    seen = level(role, w.taken)
    if path.startswith(("/travel/insight", "/api/v1/insight/travel")):
        # Figures only, whoever looks (its table lists every access need of the centre).
        found = (*ADDRESSES, *NOTES, RIDER, *AREAS, w.ride)
    elif path == "/" or (path.startswith(PUBLIC) and not path.startswith(TRAVEL_API)):
        found = everything  # never a ride on the board, the API, the kiosk or food pages
    elif seen is None:
        found = everything
    elif seen == "area":
        found = (*details, RIDER)
    else:
        found = ()
    said = unquote(url)  # a page may say back the address asked for: that is no leak
    own = PEOPLE[role]  # and everyone's own name is in the page's header
    return tuple(s for s in found if s not in said and s != own)


NEED_CHOICE = re.compile(r'<input id="([^"]+)" type="checkbox" name="needs"')


def readable(response) -> str:
    """Return what a person (or a program) can read in an answer: the HTML with the
    request form's list of access needs to choose from taken out (every member sees that
    list: it says nothing about a ride), or a calendar feed unfolded and unescaped."""
    body = response.get_data(as_text=True)
    if response.mimetype == "text/calendar":
        body = body.replace("\r\n ", "").replace("\\,", ",").replace("\\;", ";")
        return body.replace("\\n", "\n")
    if response.mimetype == "text/html":
        for choice in NEED_CHOICE.findall(body):
            body = re.sub(rf'<label for="{re.escape(choice)}">[^<]*</label>', "", body)
        body = html.unescape(body)
    return body


def sweep(app, w: World) -> list[tuple]:
    """Fetch every URL as everyone; return (who, url, status, secret) for each leak."""
    leaks = []
    for role, b in w.browsers.items():
        for url in urls_for(app, w, role):
            response = b.client.get(url)
            assert response.status_code < 500, (role, url, response.status_code)
            text = readable(response)
            for secret in forbidden(w, role, url):
                if secret in text:
                    leaks.append((role, url, response.status_code, secret))
    return leaks


def page(w: World, role: str, url: str, status: int | None = 200) -> str:
    response = w.browsers[role].client.get(url)
    assert status is None or response.status_code == status, (role, url, response.status_code)
    return readable(response)


def test_everyone_is_who_the_matrix_says(world):
    for role, b in world.browsers.items():
        assert b.client.get("/me").status_code == (302 if role == "visitor" else 200), role
    box = world.box
    for role in ("suitable_driver", "unsuitable_driver"):
        assert drivers.authorisation(box, world.ids[role]) is not None, role
    assert drivers.authorisation(box, world.ids["lapsed_driver"]) is None
    assert drivers.lapsed_on(box, world.ids["lapsed_driver"]) == "2027-03-01"
    assert "44 Other Street" in page(world, "other_rider", f"/rides/{world.other_ride}")


# --- before a driver takes the ride --------------------------------------------------------


def test_before_anyone_takes_it_no_ride_detail_reaches_the_wrong_people(app, world):
    leaks = sweep(app, world)
    assert leaks == [], "\n".join(map(str, leaks))


def test_before_anyone_takes_it_each_person_sees_what_they_should(world):
    w = world
    ride_url = f"/rides/{w.ride}"
    for role in ("rider", "coordinator", "staff"):
        text = page(w, role, ride_url)
        for shown in (*ADDRESSES, *NOTES, *NEEDS, RIDER, *AREAS):
            assert shown in text, (role, shown)
    assert "Quillford" in page(w, "rider", "/rides")
    coordinate = page(w, "coordinator", "/coordinate")
    assert RIDER in coordinate and "Quillford" in coordinate
    # The suitable driver: the areas and the time, on her page and the ride's.
    for url in ("/driving", ride_url):
        text = page(w, "suitable_driver", url)
        assert "Quillford" in text and "Zanthorpe Clinic" in text, url
    assert "09:30" in page(w, "suitable_driver", ride_url)


def test_the_ride_page_of_someone_who_may_not_see_it_is_any_unknown_address(world):
    """A member cannot even tell that the ride exists: its page is the page of no ride."""
    w = world
    token = re.compile(r'name="csrf_token" value="[^"]*"')
    for role in NOBODY:
        b = w.browsers[role].client
        unknown = "f" * 64
        mine, nothing = b.get(f"/rides/{w.ride}"), b.get(f"/rides/{unknown}")
        assert mine.status_code == nothing.status_code == 404, role
        # The same page, but for the address it says back (a visitor's "log in" link).
        said = token.sub("", mine.get_data(as_text=True)).replace(w.ride, unknown)
        assert said == token.sub("", nothing.get_data(as_text=True)), role


def test_insight_is_for_coordinators_and_staff_only(world):
    w = world
    response = w.browsers["visitor"].client.get("/travel/insight")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"
    for role in (*NOBODY[1:], "suitable_driver", "rider"):
        page(w, role, "/travel/insight", 403)
        page(w, role, "/travel/insight/demand.svg", 403)
    for role in ("coordinator", "staff"):
        text = page(w, role, "/travel/insight")
        assert "Travel insight" in text
        assert page(w, role, "/travel/insight/needs.svg").startswith("<svg")


def test_insight_counts_journeys_once_they_happen_and_names_nobody(world, clock):
    w = world
    driving.take(w.box, actor(w.box, "Vera Van"), w.ride, None)
    clock.advance(21 * DAY_MS)  # Rosa's first three Tuesdays and Otto's Wednesday are past
    b = w.browsers["coordinator"]
    insight = b.get("/travel/insight")
    assert insight.one("h1").text() == "Travel insight"
    assert insight.field("weeks").value() == "12"
    dl = insight.one("dl", class_="totals")
    terms = [n.text() for n in dl.find_all("dt")]
    totals = dict(zip(terms, dl.find_all("dd"), strict=True))
    # Four journeys, but of two riders only: too few people to show. Read out as "fewer
    # than 3", shown as a star, like Rosa's three journeys with Vera and Otto's unmet one.
    for term in ("Journeys", "Covered by volunteers", "Left unmet"):
        assert totals[term].one(class_="visually-hidden").text() == "fewer than 3", term
        assert totals[term].one(aria_hidden="true").text() == "*"
    assert totals["Paid services cost"].text() == "£0.00"
    for secret in (*ADDRESSES, *NOTES, RIDER, "Otto Other", "Vera Van", *AREAS):
        assert secret not in insight.html, secret
    captions = [c.text() for c in insight.find_all("caption")]
    assert len(captions) == 5 and all(c for c in captions)
    for img in insight.find_all("img"):
        assert img.attrs["alt"] and img.attrs["src"].startswith("/travel/insight/"), img
        chart = b.client.get(img.attrs["src"])
        assert chart.status_code == 200 and chart.mimetype == "image/svg+xml"
        assert chart.headers["Cache-Control"] == "private, no-cache"
        assert "default-src 'none'" in chart.headers["Content-Security-Policy"]
        assert "Rosa" not in chart.get_data(as_text=True)
    # Nothing on the page needs an inline style or script (the CSP refuses them).
    assert not [n for n in insight.doc.iter() if "style" in n.attrs or n.tag in ("style", "script")]


@pytest.mark.parametrize("weeks", ["5", "0", "many", "-12"])
def test_insight_refuses_a_window_it_does_not_offer_beside_the_field(world, weeks):
    b = world.browsers["staff"]
    before = record_count(world.box)
    refused = b.get(f"/travel/insight?weeks={weeks}", status=400)
    assert refused.error_for("weeks") == "Please choose 4, 8, 12, 26 or 52 weeks."
    assert refused.field("weeks").attrs["aria-describedby"] == "e-weeks"
    assert refused.field("weeks").value() == "12"  # the default window is shown instead
    assert record_count(world.box) == before
    assert b.client.get(f"/travel/insight/demand.svg?weeks={weeks}").status_code == 400


# --- after the suitable driver takes it ----------------------------------------------------


@pytest.fixture
def taken(world) -> World:
    driving.take(world.box, actor(world.box, "Vera Van"), world.ride, None)
    world.taken = True
    return world


def test_after_a_driver_takes_it_no_ride_detail_reaches_the_wrong_people(app, taken):
    leaks = sweep(app, taken)
    assert leaks == [], "\n".join(map(str, leaks))


def test_the_driver_who_took_it_sees_the_addresses_and_needs(taken):
    w = taken
    text = page(w, "suitable_driver", f"/rides/{w.ride}")
    for shown in (*ADDRESSES, *NOTES, *NEEDS, *AREAS):
        assert shown in text, shown
    box = w.box
    feed_url = (
        f"/driving/calendar/{w.ids['suitable_driver']}/"
        f"{ride_calendar.calendar_token(box, w.ids['suitable_driver'])}.ics"
    )
    feed = page(w, "suitable_driver", feed_url)
    assert "12 Secret Lane" in feed and "door code 4321" in feed
    # The rider sees who is coming; the others still see nothing (the sweep above).
    assert "Vera Van" in page(w, "rider", f"/rides/{w.ride}")


def test_a_lapsed_or_unsuitable_driver_is_refused_the_ride_even_by_its_address(taken):
    for role in ("unsuitable_driver", "lapsed_driver"):
        page(taken, role, f"/rides/{taken.ride}", 404)
        text = page(taken, role, "/driving", None)
        for secret in (*AREAS, *ADDRESSES, RIDER):
            assert secret not in text, (role, secret)


def test_the_sweep_finds_a_leak_when_there_is_one(app, world, monkeypatch):
    """The matrix has teeth: let every signed-in person see every ride in full, and the
    sweep names the pages that then show the ride to the wrong people."""
    from appliance.services import ride_access

    monkeypatch.setattr(ride_access, "level", lambda box, viewer, *a, **kw: viewer and "full")
    leaks = {(role, url, secret) for role, url, _, secret in sweep(app, world)}
    ride_page = f"/rides/{world.ride}"
    for role in ("member", "other_rider", "lapsed_driver"):
        assert (role, ride_page, "12 Secret Lane") in leaks
        assert (role, ride_page, "door code 4321") in leaks
        assert (role, ride_page, "stays in the chair") in leaks
    assert ("suitable_driver", ride_page, RIDER) in leaks


# --- the POST routes: no answer tells a stranger the ride exists -----------------------------

# Every POST route that names a ride, with a form that would make sense for it.
POSTS = (
    ("/driving/{ride}/take", {"date": FIRST_DATE}),
    ("/driving/{ride}/take", {"every": "1"}),
    ("/driving/{ride}/take", {"date": "2027-03-24"}),  # not one of its days
    ("/driving/{ride}/hand-back", {"date": FIRST_DATE}),
    ("/driving/{ride}/hand-back", {"every": "1"}),
    ("/driving/{ride}/start", {"date": FIRST_DATE}),
    ("/driving/{ride}/done", {"date": FIRST_DATE, "miles": "12"}),
    ("/rides/{ride}/cancel", {"date": FIRST_DATE, "reason": "No longer needed"}),
    ("/rides/{ride}/cancel", {"every": "1", "reason": "No longer needed"}),
    ("/coordinate/{ride}/paid", {"date": FIRST_DATE, "provider": "taxi", "cost": "12.50"}),
)
CSRF_VALUE = re.compile(r'name="csrf_token" value="[^"]*"')


def _answer(w: World, role: str, path: str, form: dict, token: str) -> tuple[int, str]:
    """POST as this person; return (status, body) with the csrf token and the ride's id
    (a "log in" link may say the address back) written the same way whatever was asked."""
    response = w.browsers[role].client.post(path, data={**form, "csrf_token": token})
    body = CSRF_VALUE.sub("", response.get_data(as_text=True)).replace(w.ride, "RIDE")
    return response.status_code, body.replace(UNKNOWN_RIDE, "RIDE")


UNKNOWN_RIDE = "f" * 64


def _same_answers_for_the_ride_and_no_ride(w: World) -> None:
    box = w.box
    for role in NOBODY:
        token = w.browsers[role].token("/signup")
        for template, form in POSTS:
            before = record_count(box)
            real = _answer(w, role, template.format(ride=w.ride), form, token)
            made_up = _answer(w, role, template.format(ride=UNKNOWN_RIDE), form, token)
            assert record_count(box) == before, (role, template)
            assert real[0] >= 300, (role, template, real[0])
            assert real == made_up, (role, template, form)
            for secret in (*AREAS, *ADDRESSES, RIDER):
                assert secret not in real[1], (role, template, secret)


def test_before_anyone_takes_it_a_post_answers_as_for_no_ride(world):
    _same_answers_for_the_ride_and_no_ride(world)


def test_after_a_driver_takes_it_a_post_answers_as_for_no_ride(taken):
    _same_answers_for_the_ride_and_no_ride(taken)


def test_an_unsuitable_driver_hears_nothing_of_the_ride_from_the_service(taken):
    """The reviewer's case: Carl's car cannot take a wheelchair. Before the fix he was
    told so (403), which said the ride exists; now it is as for an unknown ride."""
    from appliance.errors import NotFound

    box = taken.box
    carl = actor(box, "Carl Car")
    for ride in (taken.ride, UNKNOWN_RIDE):
        for date in (FIRST_DATE, "2027-03-24", None):
            with pytest.raises(NotFound) as refused:
                driving.take(box, carl, ride, date)
            assert str(refused.value) == "There is nothing at this address."
        for act in (driving.hand_back, driving.start_journey, driving.done):
            with pytest.raises(NotFound) as refused:
                act(box, carl, ride, FIRST_DATE)
            assert str(refused.value) == "There is nothing at this address."
