"""The open formats over HTTP: the /open page, HSDS 3 and Activity Streams 2.0 answers
(valid, absolute addresses on the host asked, every id fetchable), JSON errors for bad
pages and unknown ids that change nothing, and no member anywhere."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from pagetools import ADMIN, PHONE, actor, member_id, new_post, record_count

from appliance.services import board, moderation, orgs, shifts

SCHEMAS = Path(__file__).resolve().parent.parent / "standards" / "hsds-3"
AS = "https://www.w3.org/ns/activitystreams"
MEDIA = "application/activity+json"
HOST = "http://board.centre.example"
# The HSDS API reference's list header, then its contents.
PAGE_SCHEMA = {
    "type": "object",
    "required": [
        "total_items",
        "total_pages",
        "page_number",
        "size",
        "first_page",
        "last_page",
        "empty",
        "contents",
    ],
    "properties": {
        "total_items": {"type": "integer", "minimum": 0},
        "total_pages": {"type": "integer", "minimum": 1},
        "page_number": {"type": "integer", "minimum": 1},
        "size": {"type": "integer", "minimum": 0},
        "first_page": {"type": "boolean"},
        "last_page": {"type": "boolean"},
        "empty": {"type": "boolean"},
        "contents": {"type": "array"},
    },
}


def validate(schema_name: str | dict, instance) -> None:
    schema = (
        schema_name
        if isinstance(schema_name, dict)
        else json.loads((SCHEMAS / schema_name).read_text())
    )
    errors = list(
        Draft202012Validator(schema, format_checker=FormatChecker()).iter_errors(instance)
    )
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


@pytest.fixture
def world(box, alice, bob):
    """A food bank with a shift Bob signed up to, a retired group, Alice's posts (one
    hidden by the admin) and Bob's comment."""
    admin = actor(box, ADMIN)
    bank = orgs.create_org(
        box, admin, {"name": "Millbrook Food Bank", "type": "foodbank", "place": "Church Hall"}
    )
    gone = orgs.create_org(box, admin, {"name": "Old Group", "type": "group", "place": "Hut"})
    orgs.change_org(box, admin, gone, {"name": "Old Group", "type": "group", "place": "Hut"}, False)
    orgs.set_org_role(box, admin, bank, member_id("Alice"), "organiser")
    shift = shifts.create_shift(
        box,
        actor(box, "Alice"),
        {
            "org": bank,
            "title": "Sorting",
            "date": "2027-03-20",
            "start": "09:30",
            "end": "12:00",
            "place": "",
            "people": "2",
            "bring": "",
        },
    )
    shifts.join(box, actor(box, "Bob"), shift)
    need = new_post(alice, title="Ladder for the gutter", type="need")
    spam = new_post(alice, title="Cheap watches", type="offer")
    comment = board.add_comment(box, actor(box, "Bob"), need, "I have one")
    moderation.set_post_hidden(box, admin, spam, True, "Selling things", "spam")
    return {"bank": bank, "gone": gone, "need": need, "spam": spam, "comment": comment}


def get_json(client, path: str, status: int = 200, mimetype: str = "application/json"):
    response = client.get(path, base_url=HOST)
    assert response.status_code == status, (path, response.status_code, response.text[:300])
    assert response.mimetype == mimetype, (path, response.mimetype)
    return response.get_json()


def path_of(url: str) -> str:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == HOST, url
    return parts.path + ("?" + parts.query if parts.query else "")


# --- the page ------------------------------------------------------------------------------


def test_the_open_page_lists_every_format_for_a_visitor_on_a_phone(new_browser, world):
    visitor = new_browser(headers=PHONE)
    page = visitor.get("/open")
    headings = [h.tag for h in page.find_all() if h.tag in ("h1", "h2", "h3")]
    assert headings[0] == "h1" and "h3" not in headings
    links = page.links()
    for path in (
        "/api",
        "/api/v1/openapi.json",
        "/open311/v2/discovery.json",
        "/open/hsds/organizations",
        "/open/hsds/services",
        "/open/as/posts",
        "/open/as/moderation",
        "/open/as/centre",
        f"/food/orgs/{world['bank']}/shifts.ics",
        "/food/shifts",
        "/driving",
        "/open/data",
        "/insight",
    ):
        assert path in links, path
    assert f"/food/orgs/{world['gone']}/shifts.ics" not in links  # retired
    text = page.text()
    assert "Shifts of Millbrook Food Bank" in text
    assert "driver" in text and "volunteer" in text
    # Its own links to this blueprint's formats and the shift feed answer.
    for path in links:
        if path.startswith(("/open/hsds", "/open/as", "/food/orgs/")):
            assert visitor.client.get(path).status_code == 200, path


def test_the_open_page_shows_addresses_on_the_host_asked(client, world):
    html = client.get("/open", base_url=HOST).get_data(as_text=True)
    assert f"{HOST}/open/hsds/organizations" in html
    assert f"{HOST}/food/orgs/{world['bank']}/shifts.ics" in html


# --- HSDS ----------------------------------------------------------------------------------


def test_hsds_lists_and_items_are_valid_and_absolute(client, world):
    orgs_page = get_json(client, "/open/hsds/organizations")
    validate(PAGE_SCHEMA, orgs_page)
    assert orgs_page["total_items"] == 2 and orgs_page["first_page"] and orgs_page["last_page"]
    for org in orgs_page["contents"]:
        validate("organization_list.json", org)
        validate("organization.json", org)
        assert get_json(client, f"/open/hsds/organizations/{org['id']}") == org
    bank = orgs_page["contents"][1]
    assert bank["website"] == f"{HOST}/food/orgs/{world['bank']}"
    services = get_json(client, "/open/hsds/services?per_page=2&page=2")
    validate(PAGE_SCHEMA, services)
    assert (services["total_items"], services["total_pages"], services["size"]) == (4, 2, 2)
    for service in services["contents"]:
        validate("service_list.json", service)
        validate("service.json", service)
        assert get_json(client, f"/open/hsds/services/{service['id']}") == service
    [schedule] = services["contents"][1]["schedules"]
    assert schedule["schedule_link"].startswith(f"{HOST}/food/shifts/")
    assert client.get(path_of(schedule["schedule_link"])).status_code == 200


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("page=0", {"page"}),
        ("page=abc", {"page"}),
        ("per_page=1000", {"per_page"}),
        ("per_page=-5", {"per_page"}),
        ("page=1.5&per_page=x", {"page", "per_page"}),
    ],
)
def test_hsds_bad_paging_is_a_json_400_that_changes_nothing(client, box, world, query, fields):
    before = record_count(box)
    for path in ("/open/hsds/organizations", "/open/hsds/services"):
        body = get_json(client, f"{path}?{query}", status=400)
        assert set(body["fields"]) == fields and body["error"]
    assert record_count(box) == before


def test_hsds_unknown_ids_are_json_404s(client, world):
    for path in (
        "/open/hsds/organizations/0d5d1bd6-7d8a-4b43-a1f6-6f0e4a8b2c11",
        f"/open/hsds/organizations/{world['bank']}",
        "/open/hsds/services/nonsense",
    ):
        assert get_json(client, path, status=404)["error"]


# --- Activity Streams ----------------------------------------------------------------------


def walk_ids(client, obj: dict, seen: set) -> None:
    """Fetch every object's id and every address it links, as a federating client would."""
    assert obj["@context"] == AS and obj["type"] and obj["id"].startswith(HOST)
    path = path_of(obj["id"].split("#")[0])
    if path not in seen:
        seen.add(path)
        fetched = get_json(client, path, mimetype="application/activity+json")
        if "#" not in obj["id"]:
            assert fetched["id"] == obj["id"]
        walk_ids(client, fetched, seen)
    links = [obj.get(k) for k in ("first", "next", "partOf", "attributedTo", "inReplyTo", "object")]
    links.append(obj.get("replies", {}).get("id"))
    for url in links:
        if isinstance(url, str):
            target = path_of(url)
            if target not in seen:
                seen.add(target)
                walk_ids(client, get_json(client, target, mimetype=MEDIA), seen)
    for item in obj.get("orderedItems", []):
        walk_ids(client, item, seen)


def test_every_activity_streams_id_is_fetchable_on_the_host_asked(client, world):
    seen: set[str] = set()
    collection = get_json(client, "/open/as/posts", mimetype=MEDIA)
    assert collection["type"] == "OrderedCollection" and collection["totalItems"] == 1
    walk_ids(client, collection, seen)
    walk_ids(client, get_json(client, "/open/as/moderation?page=1", mimetype=MEDIA), seen)
    assert f"/open/as/posts/{world['need']}" in seen
    assert f"/open/as/comments/{world['comment']}" in seen
    assert f"/open/as/posts/{world['spam']}" in seen  # the Flag's object
    assert "/open/as/centre" in seen and "/open/as/posts?page=1" in seen
    tomb = get_json(client, f"/open/as/posts/{world['spam']}", mimetype=MEDIA)
    assert (tomb["type"], tomb["formerType"]) == ("Tombstone", "Offer")


def test_staff_get_the_same_public_answer_and_no_member_appears(client, admin_client, world):
    paths = [
        "/open/as/posts",
        "/open/as/posts?page=1",
        "/open/as/moderation?page=1",
        f"/open/as/posts/{world['need']}",
        f"/open/as/posts/{world['spam']}",
        f"/open/as/posts/{world['need']}/replies",
        f"/open/as/comments/{world['comment']}",
        "/open/as/centre",
        "/open/hsds/organizations",
        "/open/hsds/services",
    ]
    for path in paths:
        public = client.get(path, base_url=HOST)
        assert admin_client.client.get(path, base_url=HOST).data == public.data, path
        text = public.get_data(as_text=True)
        for name in ("Alice", "Bob", ADMIN):
            assert name not in text and member_id(name) not in text, (path, name)
    assert "Cheap watches" not in client.get("/open/as/posts?page=1").get_data(as_text=True)


@pytest.mark.parametrize("query", ["page=0", "page=x", "page=", "page=12345678"])
def test_activity_streams_bad_page_is_a_json_400_that_changes_nothing(client, box, world, query):
    before = record_count(box)
    for path in ("/open/as/posts", "/open/as/moderation"):
        body = get_json(client, f"{path}?{query}", status=400)
        assert set(body["fields"]) == {"page"}
    assert record_count(box) == before


def test_activity_streams_unknown_and_hidden_threads_are_json_404s(client, world):
    for path in (
        "/open/as/posts/" + "f" * 64,
        "/open/as/comments/" + "f" * 64,
        f"/open/as/posts/{world['spam']}/replies",
        f"/open/as/posts/{member_id('Alice')}",
    ):
        assert get_json(client, path, status=404)["error"]
