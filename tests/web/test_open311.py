"""Open311 GeoReport v2 (web/open311.py): every endpoint in JSON and XML, the filters,
bad input (each answered with the spec's error array and changing nothing), and no
member's name or id in any answer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from xml.etree import ElementTree as ET

import pytest
from pagetools import ADMIN, DAY_MS, PASSWORD, START_MS, actor, record_count

from appliance.models import Post
from appliance.services import accounts, api_tokens, board, centre, conduct, moderation

BASE = "/open311/v2"
FORMATS = ("json", "xml")
HIDDEN_TITLE = "Hidden job nobody may see"
NEED_TITLE = "Need a lift to the clinic"
NAME = "Alice Quillfeather"  # searched for in every answer


@dataclass
class World:
    ids: dict[str, str]  # post name -> id
    members: list[str]  # every member id
    token: str  # Alice's api_key


def should(box, who, title, category="local-fix", place="Mill Lane", details="", kind="should"):
    data = {"type": kind, "title": title, "details": details, "category": category}
    return board.create_post(box, who, {**data, "place": place, "needed_by": ""})


@pytest.fixture
def world(box, clock) -> World:
    """Alice's posts: an old one (100 days ago), three visible "should" posts (open, on
    it, resolved), a hidden one and a need; Bob helps; Alice has a token."""
    clock.ms = START_MS - 100 * DAY_MS
    alice_id = accounts.sign_up(box, NAME, PASSWORD)
    bob_id = accounts.sign_up(box, "Bob Marsh", PASSWORD)
    alice, bob, admin = actor(box, NAME), actor(box, "Bob Marsh"), actor(box, ADMIN)
    ids = {"old": should(box, alice, "Mend the old gate", place="Church Street")}
    clock.ms = START_MS - 2 * DAY_MS
    ids["bench"] = should(box, alice, "Fix the broken bench", details="The slats are loose.")
    clock.advance(3600_000)
    ids["drain"] = should(box, alice, "Clear the drain", category="household", place="Park Road")
    clock.advance(3600_000)
    ids["fence"] = should(box, alice, "Paint the fence")
    ids["hidden"] = should(box, alice, HIDDEN_TITLE)
    ids["need"] = should(box, alice, NEED_TITLE, category="travel", kind="need")
    clock.ms = START_MS - DAY_MS
    board.offer_help(box, bob, ids["drain"], "on_it")
    board.resolve(box, alice, ids["fence"], "Done by the youth club")
    moderation.set_post_hidden(box, admin, ids["hidden"], True, "Not for here", "off_topic")
    clock.ms = START_MS
    token = api_tokens.create_token(box, alice, "Phone app", 90)["token"]
    return World(ids, [alice_id, bob_id, admin.id], token)


def get(client, path: str, fmt: str = "json", expect: int = 200, **args):
    response = client.get(f"{BASE}/{path}.{fmt}", query_string=args)
    assert response.status_code == expect, response.get_data(as_text=True)
    return parse(response, fmt)


def parse(response, fmt: str):
    """Return the answer as Python: JSON as it is, XML as (root tag, [item dicts] or dict)."""
    if fmt == "json":
        assert response.mimetype == "application/json"
        return response.get_json()
    assert response.mimetype == "text/xml"
    body = response.get_data()
    assert body.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    return ET.fromstring(body)


def items(root: ET.Element) -> list[dict]:
    """Return the flat items of an XML list answer as {tag: text}."""
    return [{child.tag: child.text or "" for child in item} for item in root]


def errors_of(response, fmt: str) -> list[dict]:
    """Return the Open311 error array of an answer, JSON or XML, checking its shape."""
    if fmt == "json":
        body = parse(response, fmt)
        assert isinstance(body, list) and body, body
        assert all(set(e) == {"code", "description"} for e in body), body
        return body
    root = parse(response, fmt)
    assert root.tag == "errors" and all(e.tag == "error" for e in root), response.data
    return [{"code": int(e["code"]), "description": e["description"]} for e in items(root)]


def no_one_named(text: str, w: World) -> None:
    assert NAME not in text and "Bob Marsh" not in text
    for member in w.members:
        assert member not in text


# --- discovery and services ----------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_discovery_names_this_box_and_its_formats(client, fmt):
    body = get(client, "discovery", fmt)
    if fmt == "json":
        assert body["contact"] == "Ask the staff at Test Centre."
        assert "http://localhost/account/tokens" in body["key_service"]
        [endpoint] = body["endpoints"]
        assert endpoint["url"] == "http://localhost/open311/v2"
        assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
        assert endpoint["type"] == "production"
        assert endpoint["formats"] == ["application/json", "text/xml"]
        assert endpoint["changeset"] == body["changeset"]
    else:
        assert body.tag == "discovery"
        assert body.findtext("contact") == "Ask the staff at Test Centre."
        endpoint = body.find("endpoints/endpoint")
        assert endpoint.findtext("url") == "http://localhost/open311/v2"
        assert [f.text for f in endpoint.find("formats")] == ["application/json", "text/xml"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_services_are_the_active_categories(box, client, fmt):
    admin = actor(box, ADMIN)
    centre.set_category(box, admin, "Food", active=False, slug="food")
    body = get(client, "services", fmt)
    rows = body if fmt == "json" else items(body)
    if fmt == "xml":
        assert body.tag == "services" and all(s.tag == "service" for s in body)
    codes = [s["service_code"] for s in rows]
    assert codes == [c.slug for c in centre.categories(box)]
    assert "food" not in codes and "local-fix" in codes
    fix = next(s for s in rows if s["service_code"] == "local-fix")
    assert fix["service_name"] == "Local fixes"
    assert fix["group"] == "somebody should"
    assert fix["type"] == "realtime"
    assert fix["metadata"] in (True, "true")
    assert "Local fixes" in fix["description"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_service_definition_offers_the_places_and_asks_for_a_title(box, client, fmt):
    admin = actor(box, ADMIN)
    for name in ("Mill Lane", "Park Road", "Old Depot"):
        centre.set_place(box, admin, name)
    centre.set_place(box, admin, "Old Depot", active=False)
    body = get(client, "services/local-fix", fmt)
    if fmt == "json":
        assert body["service_code"] == "local-fix"
        place, title = body["attributes"]
        assert [v["key"] for v in place["values"]] == ["Mill Lane", "Park Road"]
        assert [v["name"] for v in place["values"]] == ["Mill Lane", "Park Road"]
    else:
        assert body.tag == "service_definition"
        assert body.findtext("service_code") == "local-fix"
        place, title = (dict((c.tag, c) for c in a) for a in body.find("attributes"))
        place = {k: v.text for k, v in place.items()} | {
            "values": [{"key": v.findtext("key")} for v in place["values"]]
        }
        title = {k: v.text for k, v in title.items()}
        assert [v["key"] for v in place["values"]] == ["Mill Lane", "Park Road"]
        place["required"] = place["required"] == "true"
        title["required"] = title["required"] == "true"
    assert place["code"] == "place" and place["datatype"] == "singlevaluelist"
    assert place["required"] is False
    assert title["code"] == "title" and title["datatype"] == "string"
    assert title["required"] is True
    assert title["description"] == "What should somebody do?"


def test_a_centre_without_places_asks_only_for_the_title(client):
    body = get(client, "services/local-fix")
    assert [a["code"] for a in body["attributes"]] == ["title"]


@pytest.mark.parametrize("code", ["no-such-thing", "food"])
def test_an_unknown_or_retired_service_is_a_404_error_array(box, client, code):
    centre.set_category(box, actor(box, ADMIN), "Food", active=False, slug="food")
    for fmt in FORMATS:
        response = client.get(f"{BASE}/services/{code}.{fmt}")
        assert response.status_code == 404
        [error] = errors_of(response, fmt)
        assert error["code"] == 404
        assert code in error["description"]


# --- requests ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_requests_list_the_visible_should_posts_of_the_last_90_days(client, world, fmt):
    body = get(client, "requests", fmt)
    if fmt == "xml":
        assert body.tag == "service_requests" and all(r.tag == "request" for r in body)
        body = items(body)
    ids = world.ids
    assert [r["service_request_id"] for r in body] == [ids["fence"], ids["drain"], ids["bench"]]
    fence, drain, bench = body
    assert (fence["status"], drain["status"], bench["status"]) == ("closed", "open", "open")
    assert fence["status_notes"] == "Done by the youth club"
    assert bench["status_notes"] == ""
    assert bench["description"] == "Fix the broken bench\n\nThe slats are loose."
    assert drain["description"] == "Clear the drain"
    assert (bench["service_code"], bench["service_name"]) == ("local-fix", "Local fixes")
    assert (drain["service_code"], drain["service_name"]) == ("household", "Household items")
    assert drain["address"] == "Park Road"
    assert bench["agency_responsible"] == "Test Centre"
    # 2027-03-15 12:00 UTC is noon in London (GMT): the zone is always written out.
    assert bench["requested_datetime"] == "2027-03-15T12:00:00+00:00"
    assert bench["updated_datetime"] == bench["requested_datetime"]
    # Bob said "I'm on it" and the fence was resolved a day before now.
    assert drain["updated_datetime"] == fence["updated_datetime"] == "2027-03-16T12:00:00+00:00"
    for r in body:
        assert r["service_notice"] == r["address_id"] == r["zipcode"] == r["media_url"] == ""
        assert "lat" not in r and "long" not in r
        assert r.get("expected_datetime") in (None, "")


def test_no_hidden_post_other_kind_or_member_appears_in_any_answer(client, world, box):
    urls = [
        f"{BASE}/requests.{fmt}?{query}"
        for fmt in ("json", "xml")
        for query in (
            "",
            "start_date=2026-12-01T00:00:00Z&end_date=2027-02-28T00:00:00Z",
            "service_request_id=" + ",".join(world.ids.values()),
        )
    ]
    urls += [
        f"{BASE}/requests/{post}.{fmt}" for post in world.ids.values() for fmt in ("json", "xml")
    ]
    for url in urls:
        response = client.get(url)
        text = response.get_data(as_text=True)
        assert HIDDEN_TITLE not in text and NEED_TITLE not in text
        if "/requests/" in url:
            assert world.ids["hidden"] not in text and world.ids["need"] not in text
        no_one_named(text, world)
    # Staff signed in see no more here than anyone: this is a public output.
    moderation.set_post_hidden(box, actor(box, ADMIN), world.ids["bench"], True, "x", "spam")
    listed = [r["service_request_id"] for r in get(client, "requests")]
    assert world.ids["bench"] not in listed


def test_another_centres_posts_are_not_this_jurisdictions(client, world):
    Post.update(origin="another-box").where(Post.id == world.ids["bench"]).execute()
    listed = [r["service_request_id"] for r in get(client, "requests")]
    assert world.ids["bench"] not in listed
    get(client, f"requests/{world.ids['bench']}", expect=404)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_filters_by_code_status_dates_and_ids(client, world, fmt):
    ids = world.ids

    def listed(**args):
        body = get(client, "requests", fmt, **args)
        return [r["service_request_id"] for r in (body if fmt == "json" else items(body))]

    assert listed(service_code="household") == [ids["drain"]]
    assert listed(service_code="household,local-fix") == [ids["fence"], ids["drain"], ids["bench"]]
    assert listed(status="open") == [ids["drain"], ids["bench"]]
    assert listed(status="closed") == [ids["fence"]]
    assert listed(status="open,closed", service_code="local-fix") == [ids["fence"], ids["bench"]]
    # The 100-day-old post, found with a window around it; the window ends inclusive.
    old = "2026-12-07T12:00:00Z"
    assert listed(start_date="2026-12-01T00:00:00Z", end_date=old) == [ids["old"]]
    assert listed(start_date="2026-12-08") == []  # only a start: the 90 days after it
    assert listed(end_date="2026-12-08T00:00:00+00:00") == [ids["old"]]  # the 90 days before
    assert listed(start_date="2027-03-15T14:00:00+01:00") == [ids["fence"], ids["drain"]]
    # A time without a zone is the centre's time (London, GMT in March).
    assert listed(start_date="2027-03-15T12:00:01", end_date="2027-03-15T13:00:00") == [
        ids["drain"]
    ]
    # service_request_id overrides every other filter (the old post is found too);
    # unknown, hidden and other kinds of post are left out.
    wanted = [ids["old"], ids["bench"], ids["hidden"], ids["need"], "f" * 64, "nonsense"]
    assert listed(service_request_id=",".join(wanted), status="closed") == [
        ids["bench"],
        ids["old"],
    ]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"status": "pending"}, "status"),
        ({"status": "open,maybe"}, "status"),
        ({"service_code": "potholes"}, "service_code"),
        ({"start_date": "yesterday"}, "start_date"),
        ({"start_date": "2027-02-30T00:00:00Z"}, "start_date"),
        ({"end_date": "20270301"}, "end_date"),
        ({"start_date": "2027-03-10", "end_date": "2027-03-01"}, "end_date"),
        ({"start_date": "2026-01-01", "end_date": "2027-03-01"}, "end_date"),
        ({"service_request_id": ",".join(["a"] * 101)}, "service_request_id"),
    ],
)
def test_bad_filters_are_a_400_error_array(client, world, box, args, field):
    before = record_count(box)
    for fmt in FORMATS:
        response = client.get(f"{BASE}/requests.{fmt}", query_string=args)
        assert response.status_code == 400
        [error] = errors_of(response, fmt)
        assert error["code"] == 400
        assert error["description"].startswith(f"{field}: ")
    assert record_count(box) == before


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_one_request_is_a_list_of_one(client, world, fmt):
    body = get(client, f"requests/{world.ids['fence']}", fmt)
    if fmt == "xml":
        assert body.tag == "service_requests"
        body = items(body)
    [one] = body
    assert one["service_request_id"] == world.ids["fence"]
    assert one["status"] == "closed"


@pytest.mark.parametrize("which", ["hidden", "need", "unknown", "nonsense"])
def test_an_unknown_or_unseen_request_is_a_404_error_array(client, world, which):
    post_id = {"unknown": "0" * 64, "nonsense": "not-an-id"}.get(which) or world.ids[which]
    for fmt in FORMATS:
        response = client.get(f"{BASE}/requests/{post_id}.{fmt}")
        assert response.status_code == 404
        [error] = errors_of(response, fmt)
        assert error["code"] == 404
        text = response.get_data(as_text=True)
        assert HIDDEN_TITLE not in text and NEED_TITLE not in text


def test_updated_datetime_follows_a_visible_comment_but_not_a_hidden_one(client, world, box, clock):
    bob, admin = actor(box, "Bob Marsh"), actor(box, ADMIN)
    clock.ms = START_MS + 3600_000
    board.add_comment(box, bob, world.ids["bench"], "I have a screwdriver")
    clock.advance(3600_000)
    hidden = board.add_comment(box, bob, world.ids["bench"], "Rude words")
    moderation.set_comment_hidden(box, admin, hidden, True, "Rude", "offensive")
    [bench] = get(client, f"requests/{world.ids['bench']}")
    assert bench["updated_datetime"] == "2027-03-17T13:00:00+00:00"


def test_times_carry_the_centres_summer_offset(client, world, box, clock):
    clock.ms = START_MS + 30 * DAY_MS  # 2027-04-16 12:00 UTC: 13:00 in London (BST)
    post = should(box, actor(box, NAME), "Weed the planters")
    [one] = get(client, f"requests/{post}")
    assert one["requested_datetime"] == "2027-04-16T13:00:00+01:00"


# --- creating a request --------------------------------------------------------------


def form(world: World, **change) -> dict:
    data = {
        "api_key": world.token,
        "service_code": "local-fix",
        "address_string": "Mill Lane",
        "description": "Somebody should fix the street light\nIt has been out for a week.",
    }
    data.update(change)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_token_holder_creates_a_request(client, world, box, fmt):
    before = record_count(box)
    response = client.post(f"{BASE}/requests.{fmt}", data=form(world))
    assert response.status_code == 201, response.get_data(as_text=True)
    if fmt == "json":
        [made] = parse(response, fmt)
        assert made["account_id"] is None
    else:
        root = parse(response, fmt)
        assert root.tag == "service_requests"
        [made] = items(root)
        assert made["account_id"] == ""
    assert made["service_notice"] == ""
    post = Post.get_by_id(made["service_request_id"])
    assert (post.type, post.category, post.place) == ("should", "local-fix", "Mill Lane")
    assert post.title == "Somebody should fix the street light"
    assert post.details == "It has been out for a week."
    assert post.author == world.members[0]
    assert record_count(box) == before + 1
    [listed] = get(client, f"requests/{post.id}")
    assert listed["description"] == (
        "Somebody should fix the street light\n\nIt has been out for a week."
    )
    no_one_named(response.get_data(as_text=True), world)


def test_a_request_with_a_title_and_a_place_attribute(client, world, box):
    centre.set_place(box, actor(box, ADMIN), "Park Road")
    data = form(world, address_string=None, **{"attribute[title]": "Fix the light"})
    data["attribute[place]"] = "Park Road"
    response = client.post(f"{BASE}/requests.json", data=data)
    assert response.status_code == 201, response.get_data(as_text=True)
    post = Post.get_by_id(response.get_json()[0]["service_request_id"])
    assert (post.title, post.place) == ("Fix the light", "Park Road")
    assert post.details.startswith("Somebody should fix the street light\n")


def test_a_long_first_line_is_cut_to_a_title_and_kept_whole_in_the_details(client, world):
    words = "Somebody should repaint every single line in the car park " * 4
    response = client.post(f"{BASE}/requests.json", data=form(world, description=words))
    assert response.status_code == 201, response.get_data(as_text=True)
    post = Post.get_by_id(response.get_json()[0]["service_request_id"])
    assert len(post.title) <= 120 and post.title.endswith("…")
    assert post.details == words.strip()


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"service_code": None}, "service_code", "Please send service_code"),
        ({"service_code": "potholes"}, "service_code", "not one of the services"),
        ({"service_code": "food-retired"}, "service_code", "not one of the services"),
        ({"description": None}, "description", "Please send a description"),
        ({"description": "   "}, "description", "Please send a description"),
        ({"description": "x" * 4100}, "description", "4000"),
        ({"attribute[title]": "x" * 121}, "attribute[title]", "120"),
        ({"address_string": None}, "address_string", "send address_string or attribute[place]"),
        ({"address_string": None, "lat": "51.5", "long": "-0.1"}, "address_string", "coordinates"),
        ({"address_string": "x" * 81}, "address_string", "80"),
        ({"attribute[place]": "Nowhere"}, "attribute[place]", "centre's places"),
    ],
)
def test_a_bad_request_is_a_400_error_array_and_changes_nothing(
    client, world, box, change, field, words
):
    centre.set_category(box, actor(box, ADMIN), "Old", active=False, slug="food-retired")
    before, posts = record_count(box), Post.select().count()
    for fmt in FORMATS:
        response = client.post(f"{BASE}/requests.{fmt}", data=form(world, **change))
        assert response.status_code == 400, response.get_data(as_text=True)
        errors = errors_of(response, fmt)
        error = next(e for e in errors if e["description"].startswith(f"{field}: "))
        assert error["code"] == 400
        assert words in error["description"]
    assert (record_count(box), Post.select().count()) == (before, posts)


@pytest.mark.parametrize("which", ["missing", "unknown", "revoked", "expired"])
def test_a_missing_or_dead_api_key_is_a_403_error_array(client, world, box, clock, which):
    alice = actor(box, NAME)
    key = {"missing": None, "unknown": "kith_not-a-token"}.get(which)
    if which == "revoked":
        made = api_tokens.create_token(box, alice, "Old tool", 90)
        api_tokens.revoke_token(box, alice, made["id"])
        key = made["token"]
    if which == "expired":
        key = api_tokens.create_token(box, alice, "Short tool", 30)["token"]
        clock.advance(31 * DAY_MS)
    before, posts = record_count(box), Post.select().count()
    for fmt in FORMATS:
        response = client.post(f"{BASE}/requests.{fmt}", data=form(world, api_key=key))
        assert response.status_code == 403
        [error] = errors_of(response, fmt)
        assert error["code"] == 403
        expected = {"missing": "api_key", "unknown": "not known", "revoked": "revoked"}
        assert expected.get(which, "expired") in error["description"]
        assert "/account/tokens" in error["description"]
    assert (record_count(box), Post.select().count()) == (before, posts)


def test_a_signed_in_browser_cannot_post_with_its_cookie(new_browser, world, box):
    """The route takes no CSRF token because a cookie gives no right here: only api_key."""
    carol = new_browser("Carol")
    assert carol.client.get("/me").status_code == 200
    before = record_count(box)
    data = form(world, api_key=None)
    for extra in ({}, {"csrf_token": carol.token("/me")}):
        response = carol.client.post(f"{BASE}/requests.json", data={**data, **extra})
        assert response.status_code == 403
        assert "api_key" in errors_of(response, "json")[0]["description"]
    assert record_count(box) == before


def test_the_code_of_conduct_must_be_accepted_first(client, world, box):
    conduct.publish_conduct(box, actor(box, ADMIN), "Be kind to each other.")
    before = record_count(box)
    response = client.post(f"{BASE}/requests.xml", data=form(world))
    assert response.status_code == 403
    [error] = errors_of(response, "xml")
    assert "/conduct" in error["description"]
    assert record_count(box) == before
    conduct.accept_conduct(box, actor(box, NAME), 1)
    assert client.post(f"{BASE}/requests.xml", data=form(world)).status_code == 201


def test_posting_is_rate_limited_per_member(client, world, box):
    for n in range(10):
        response = client.post(f"{BASE}/requests.json", data=form(world, description=f"Job {n}"))
        assert response.status_code == 201, response.get_data(as_text=True)
    # A refused request does not count against the limit.
    before = record_count(box)
    response = client.post(f"{BASE}/requests.json", data=form(world, description="One more"))
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    [error] = errors_of(response, "json")
    assert error["code"] == 429 and "posted 10 times" in error["description"]
    assert record_count(box) == before


def test_refused_requests_do_not_use_up_the_limit(client, world):
    for _ in range(12):
        bad = client.post(f"{BASE}/requests.json", data=form(world, description=None))
        assert bad.status_code == 400
    assert client.post(f"{BASE}/requests.json", data=form(world)).status_code == 201


# --- every other error under /open311/ -----------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/open311/v2/nothing", 404),
        ("get", "/open311/v3/services", 404),
        ("post", "/open311/v2/services", 405),
        ("delete", "/open311/v2/requests", 405),
        ("put", "/open311/v2/discovery", 405),
    ],
)
def test_other_addresses_and_methods_answer_the_error_array(client, box, method, path, status):
    before = record_count(box)
    for fmt in FORMATS:
        response = getattr(client, method)(f"{path}.{fmt}")
        assert response.status_code == status
        [error] = errors_of(response, fmt)
        assert error["code"] == status
        if status == 405:
            assert "GET" in response.headers["Allow"]
    assert record_count(box) == before


def test_too_large_a_post_is_an_error_array(client, world, box):
    before = record_count(box)
    response = client.post(f"{BASE}/requests.json", data=form(world, description="x" * 300_000))
    assert response.status_code == 413
    assert errors_of(response, "json")[0]["code"] == 413
    assert record_count(box) == before


def test_json_answers_are_utf8_and_xml_drops_characters_it_cannot_carry(client, world, box):
    post = should(box, actor(box, NAME), "Tidy the café garden", details="Bell \x07 rang")
    response = client.get(f"{BASE}/requests/{post}.xml")
    assert "Bell  rang" in ET.fromstring(response.data).findtext("request/description")
    assert "café" in json.loads(client.get(f"{BASE}/requests/{post}.json").data)[0]["description"]
