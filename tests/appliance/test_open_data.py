"""Open data exports of the public datasets: rows, filters, the column dictionary (which
only grows), CSV and JSON read back, bad filters, and no personal or ride data.

The box's clock starts at 2026-01-01 12:00 UTC (noon in London, GMT).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

import pytest
from boxes import PASSWORD, member, record_count, trust
from recordmaker import Origin, post_body

from appliance.errors import InvalidInput, NotFound
from appliance.models import Member
from appliance.services import accounts, board, centre, moderation, open_data, rides
from appliance.services.open_data_columns import COLUMNS, DATASETS

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

# The column dictionary as first published: a column may be added at the end of a
# dataset (add it here too), never renamed, retyped, moved or dropped.
FROZEN = {
    "posts": [
        ("id", "text"),
        ("centre", "text"),
        ("type", "text"),
        ("category", "text"),
        ("category_label", "text"),
        ("place", "text"),
        ("title", "text"),
        ("status", "text"),
        ("created", "datetime"),
        ("needed_by", "date"),
        ("resolved", "datetime"),
        ("first_help", "datetime"),
        ("comment_count", "integer"),
        ("helper_count", "integer"),
        ("gone_quiet", "boolean"),
        ("org", "text"),
    ],
    "thanks": [
        ("id", "text"),
        ("post", "text"),
        ("centre", "text"),
        ("created", "datetime"),
        ("message", "text"),
    ],
    "moderation": [
        ("at", "datetime"),
        ("entry", "text"),
        ("target", "text"),
        ("category", "text"),
        ("category_label", "text"),
        ("action", "text"),
        ("rule", "text"),
        ("by", "text"),
        ("centre", "text"),
        ("reason", "text"),
    ],
    "categories": [("centre", "text"), ("slug", "text"), ("label", "text"), ("active", "boolean")],
    "places": [("centre", "text"), ("name", "text"), ("active", "boolean")],
}
FROZEN["should"] = FROZEN["posts"]

# Personal values of the world below: none may appear in any public output.
CONTACT = "carol.private@example.org 07700 900461"
RIDE = {
    "from_address": "17 Quarry Close, Millbrook MB9 4ZZ",
    "to_address": "Larchfield Dental Surgery, 3 Orchard Row",
    "from_area": "Quarrybank Estate",
    "to_area": "Larchfield Clinic",
    "date": "2026-01-06",
    "time": "09:30",
    "time_is": "pickup",
    "window": "15",
    "repeat": "none",
    "return_at": "",
    "passengers": "1",
    "notes": "Blue door beside the postbox",
}


@dataclass
class World:
    should: str  # Alice's "somebody should" on High Street: helped, thanked, resolved
    need: str  # Alice's need at the Hall, with a comment
    hidden: str  # Bob's offer, hidden by staff (spam); his appeal upheld
    peer_should: str  # a "somebody should" from a synced centre, on Mill Lane
    thanks: str
    comment_hidden: str
    peer: Origin
    personal: list[str]  # names, contact, ride areas and addresses, member ids


def build_world(box, staff, alice, bob, clock) -> World:
    """Posts, help, thanks, moderation, a synced centre's post and a ride on one box."""
    centre.set_place(box, staff, "High Street")
    centre.set_place(box, staff, "Old Yard")
    centre.set_place(box, staff, "Old Yard", active=False)
    carol_id = accounts.sign_up(box, "Carol Quietly", PASSWORD, CONTACT)
    carol = accounts.actor_for(box, carol_id)
    ride = rides.request_ride(box, carol, RIDE)
    assert ride

    should = board.create_post(
        box,
        alice,
        {
            "type": "should",
            "title": "=Fix the lamp",
            "category": "local-fix",
            "place": "High Street",
        },
    )
    clock.advance(2 * HOUR_MS)  # 14:00: Bob can help; later he is on it instead
    board.offer_help(box, bob, should, "can_help")
    clock.advance(HOUR_MS)
    board.offer_help(box, bob, should, "on_it")
    thanks = board.thank(box, alice, should, bob.id, "The lamp works again, thank you")
    clock.advance(DAY_MS)  # 2026-01-02 15:00: resolved
    board.resolve(box, alice, should, "Fixed")

    need = board.create_post(
        box,
        alice,
        {"type": "need", "title": "Spare chairs", "category": "household", "place": "hall"},
    )
    board.add_comment(box, bob, need, "I have two")
    clock.advance(HOUR_MS)
    hidden = board.create_post(
        box, bob, {"type": "offer", "title": "Cheap watches", "category": "other", "place": "Hall"}
    )
    moderation.set_post_hidden(box, staff, hidden, True, "Advert posted twice", "spam")
    appeal = moderation.appeal(box, bob, hidden, None, "It was not an advert")
    clock.advance(HOUR_MS)
    moderation.decide_appeal(box, staff, appeal, "upheld", "It was an advert")
    comment = board.add_comment(box, alice, should, "Thanks Bob")
    moderation.set_comment_hidden(box, staff, comment, True, "Names a person", "personal_info")

    peer = Origin("peer", start_ms=clock.ms + 1000)
    trust(box, peer)
    made = [peer.make("centre.created", {"name": "Peer Centre", "timezone": "Europe/London"})]
    made.append(
        peer.make(
            "category.set",
            {"slug": "local-fix", "label": "Fix-ups", "active": True},
            subject=made[0].id,
        )
    )
    pat = peer.make("member.joined", {"name": "Pat Peerson"})
    post = peer.make(
        "post.created",
        post_body("should", "Clear the drain", category="local-fix", place="Mill Lane"),
    )
    made += [pat, post]
    assert box.log.ingest([m.line for m in made]).ok

    names = [m.name for m in Member.select()]
    personal = [
        *names,
        *(m.id for m in Member.select()),
        CONTACT,
        "07700 900461",
        *(RIDE[k] for k in ("from_address", "to_address", "from_area", "to_area", "notes")),
        "Thanks Bob",  # a hidden comment's text
        "It was not an advert",  # an appeal's text
        "It was an advert",  # staff's answer to it (only the author sees it)
        "Cheap watches",  # a hidden post's title
    ]
    return World(should, need, hidden, post.id, thanks, comment, peer, personal)


@pytest.fixture
def world(box, staff, alice, bob, clock) -> World:
    return build_world(box, staff, alice, bob, clock)


def rows(box, dataset, **args):
    return open_data.export(box, dataset, args).rows


def by_id(rows_):
    return {r["id"]: r for r in rows_}


# --- the rows ---------------------------------------------------------------------------


def test_a_post_row_says_where_what_and_how_fast_without_names(box, world):
    posts = by_id(rows(box, "posts"))
    assert posts[world.should] == {
        "id": world.should,
        "centre": "Test Centre",
        "type": "should",
        "category": "local-fix",
        "category_label": "Local fixes",
        "place": "High Street",
        "title": "=Fix the lamp",
        "status": "resolved",
        "created": "2026-01-01T12:00:00+00:00",
        "needed_by": None,
        "resolved": "2026-01-02T15:00:00+00:00",
        "first_help": "2026-01-01T14:00:00+00:00",  # "I can help", before "I'm on it"
        "comment_count": 0,  # the one comment is hidden
        "helper_count": 1,
        "gone_quiet": False,
        "org": None,
    }
    need = posts[world.need]
    assert (need["status"], need["resolved"], need["first_help"]) == ("open", None, None)
    assert need["comment_count"] == 1
    assert world.hidden not in posts  # hidden from everyone but staff
    peer = posts[world.peer_should]
    assert (peer["centre"], peer["place"], peer["type"]) == ("Peer Centre", "Mill Lane", "should")
    assert list(posts) == [world.should, world.need, world.peer_should]  # oldest first


def test_first_help_counts_an_offer_even_after_it_was_withdrawn(box, world, alice, clock):
    clock.advance(HOUR_MS)
    post = board.create_post(
        box, alice, {"type": "need", "title": "Lift", "category": "travel", "place": "Hall"}
    )
    dan = member(box, "Dan")
    clock.advance(30 * 60_000)
    board.offer_help(box, dan, post, "on_it")
    helped_at = by_id(rows(box, "posts"))[post]["first_help"]
    clock.advance(HOUR_MS)
    board.withdraw_help(box, dan, post)
    row = by_id(rows(box, "posts"))[post]
    assert row["first_help"] == helped_at and row["helper_count"] == 0


def test_should_holds_only_should_posts_with_the_posts_columns(box, world):
    should = rows(box, "should")
    assert [r["id"] for r in should] == [world.should, world.peer_should]
    assert open_data.column_names("should") == open_data.column_names("posts")
    assert should == [r for r in rows(box, "posts") if r["type"] == "should"]


def test_thanks_rows_keep_the_message_and_drop_the_names(box, world, alice, bob, staff):
    assert rows(box, "thanks") == [
        {
            "id": world.thanks,
            "post": world.should,
            "centre": "Test Centre",
            "created": "2026-01-01T15:00:00+00:00",
            "message": "The lamp works again, thank you",
        }
    ]
    moderation.set_post_hidden(box, staff, world.should, True, "Wrong board", "off_topic")
    assert rows(box, "thanks") == []  # thanks on a hidden post go with it


def test_moderation_rows_are_the_public_log_without_who_or_what(box, world):
    log = rows(box, "moderation")
    assert log == [
        {
            "at": "2026-01-02T16:00:00+00:00",
            "entry": "decision",
            "target": "post",
            "category": "other",
            "category_label": "Something else",
            "action": "hidden",
            "rule": "spam",
            "by": "staff",
            "centre": "Test Centre",
            "reason": "Advert posted twice",
        },
        {
            "at": "2026-01-02T17:00:00+00:00",
            "entry": "appeal",
            "target": "post",
            "category": "other",
            "category_label": "Something else",
            "action": "upheld",
            "rule": None,
            "by": "staff",
            "centre": "Test Centre",
            "reason": None,
        },
        {
            "at": "2026-01-02T17:00:00+00:00",
            "entry": "decision",
            "target": "comment",
            "category": None,  # as on the public log: nothing about a comment
            "category_label": None,
            "action": "hidden",
            "rule": "personal_info",
            "by": "staff",
            "centre": "Test Centre",
            "reason": "Names a person",
        },
    ]


def test_categories_and_places_per_centre(box, world):
    categories = rows(box, "categories")
    assert {"centre": "Peer Centre", "slug": "local-fix", "label": "Fix-ups", "active": True} in (
        categories
    )
    ours = [r for r in categories if r["centre"] == "Test Centre"]
    assert {r["slug"] for r in ours} == {s for s, _ in centre.DEFAULT_CATEGORIES}
    assert rows(box, "places") == [
        {"centre": "Test Centre", "name": "High Street", "active": True},
        {"centre": "Test Centre", "name": "Old Yard", "active": False},
    ]
    assert all(r["centre"] == "Test Centre" for r in rows(box, "categories", centre="here"))


# --- filters ----------------------------------------------------------------------------


def test_filters_narrow_by_place_type_category_dates_and_centre(box, world):
    def ids(dataset="posts", **args):
        return [r["id"] for r in rows(box, dataset, **args)]

    assert ids(place="HIGH street") == [world.should]  # capitals or not
    assert ids(place="Nowhere") == []
    assert ids(type="need") == [world.need]
    assert ids(category="local-fix") == [world.should, world.peer_should]
    assert ids(**{"from": "2026-01-02"}) == [world.need, world.peer_should]
    assert ids(to="2026-01-01") == [world.should]
    assert ids(**{"from": "2026-01-01", "to": "2026-01-01"}) == [world.should]
    assert ids(centre="here") == [world.should, world.need]
    assert ids(centre="all") == ids()
    assert ids("should", centre="here", place="High Street") == [world.should]
    assert ids("thanks", type="need") == []
    assert ids("thanks", place="high street") == [world.thanks]
    moderated = rows(box, "moderation", category="other")
    assert [r["entry"] for r in moderated] == ["decision", "appeal"]
    assert rows(box, "moderation", to="2025-12-31") == []


def test_export_records_the_filters_and_when_it_was_made(box, world):
    data = open_data.export(box, "posts", {"place": " High Street ", "centre": "here"})
    assert data.filters.as_args() == {"place": "High Street", "centre": "here"}
    assert data.generated == "2026-01-02T17:00:00+00:00"


BAD = [
    ("posts", {"type": "ride"}, "type"),
    ("posts", {"category": "no-such"}, "category"),
    ("posts", {"from": "01/02/2026"}, "from"),
    ("posts", {"to": "2026-02-30"}, "to"),
    ("posts", {"from": "2026-03-02", "to": "2026-03-01"}, "to"),
    ("posts", {"centre": "elsewhere"}, "centre"),
    ("posts", {"place": "x" * 81}, "place"),
    ("should", {"type": "need"}, "type"),
    ("moderation", {"place": "High Street"}, "place"),
    ("categories", {"from": "2026-01-01"}, "from"),
    ("places", {"category": "food"}, "category"),
]


@pytest.mark.parametrize(("dataset", "args", "field"), BAD)
def test_a_bad_filter_is_named_and_changes_nothing(box, world, dataset, args, field):
    before = record_count()
    with pytest.raises(InvalidInput) as caught:
        open_data.export(box, dataset, args)
    assert set(caught.value.fields) == {field}
    assert caught.value.fields[field].strip()
    assert record_count() == before


def test_every_bad_filter_is_named_at_once(box, world):
    with pytest.raises(InvalidInput) as caught:
        open_data.export(box, "posts", {"type": "x", "category": "y", "from": "z", "centre": "q"})
    assert set(caught.value.fields) == {"type", "category", "from", "centre"}


def test_an_unknown_dataset_is_not_found(box, world):
    for name in ("rides", "members", "needs", ""):
        with pytest.raises(NotFound):
            open_data.export(box, name, {})


def test_the_form_keeps_good_filters_and_drops_those_a_dataset_does_not_take(box, world):
    filters, errors = open_data.read_filters({"place": "Hall", "type": "bad", "to": "2026-01-05"})
    assert set(errors) == {"type"}
    assert filters.as_args() == {"place": "Hall", "to": "2026-01-05"}
    assert open_data.for_dataset(filters, "moderation") == {"to": "2026-01-05"}
    assert open_data.for_dataset(filters, "places") == {}
    choices = open_data.filter_choices(box)
    assert choices["places"] == ["High Street", "Old Yard"]
    assert ("local-fix", "Local fixes") in choices["categories"]
    assert choices["centre"] == "Test Centre"


# --- the column dictionary and the two renderings -------------------------------------


def test_the_column_dictionary_only_grows():
    assert set(FROZEN) <= set(COLUMNS) == set(DATASETS)
    for dataset, frozen in FROZEN.items():
        now = [(name, type_) for name, type_, _ in COLUMNS[dataset]]
        assert now[: len(frozen)] == frozen, f"{dataset}: a column was renamed, moved or dropped"
        names = [n for n, _ in now]
        assert len(names) == len(set(names))
    for columns in COLUMNS.values():
        assert all(meaning.strip() for _, _, meaning in columns)


def test_every_header_is_the_dictionary_and_csv_reads_back_as_json(box, world):
    for dataset in DATASETS:
        data = open_data.export(box, dataset)
        names = [name for name, _, _ in COLUMNS[dataset]]
        text = open_data.as_csv(data)
        assert text.startswith("\ufeff")
        table = list(csv.reader(io.StringIO(text[1:])))
        assert table[0] == names
        body = json.loads(json.dumps(open_data.as_json(data)))
        assert body["columns"] == names and body["dataset"] == dataset
        assert len(table) - 1 == len(body["rows"]) == len(data.rows)
        for line, row in zip(table[1:], body["rows"], strict=True):
            assert list(row) == names
            back = dict(zip(names, line, strict=True))
            for name, value in row.items():
                expect = value
                if value is None:
                    expect = ""
                elif isinstance(value, bool):
                    expect = "true" if value else "false"
                elif isinstance(value, str) and value.startswith("="):
                    expect = "'" + value  # never a formula in a spreadsheet
                assert back[name] == str(expect), (dataset, name)
    assert "'=Fix the lamp" in open_data.as_csv(open_data.export(box, "posts"))


def test_the_dictionary_lists_names_types_and_meanings(box):
    shown = open_data.dictionary(str.upper)
    assert set(shown) == set(DATASETS)
    first = shown["posts"]["columns"][0]
    assert first == {"name": "id", "type": "text", "meaning": COLUMNS["posts"][0][2].upper()}
    assert shown["moderation"]["filters"] == ["category", "from", "to", "centre"]
    assert set(open_data.type_names()) == {t for c in COLUMNS.values() for _, t, _ in c}


# --- nothing personal -------------------------------------------------------------------


def test_no_name_contact_ride_or_hidden_text_in_any_dataset(box, world):
    assert len(world.personal) > 10
    for dataset in DATASETS:
        data = open_data.export(box, dataset)
        outputs = (open_data.as_csv(data), json.dumps(open_data.as_json(data), ensure_ascii=False))
        for text in outputs:
            for value in world.personal:
                assert value not in text, (dataset, value)
