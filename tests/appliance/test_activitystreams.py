"""Activity Streams 2.0 output (appliance/services/activitystreams.py): the vocabulary's
shapes, types for each kind of post, Tombstones for hidden and removed things, the
moderation log as Flags, paging, bad page values, and never a member."""

from __future__ import annotations

import datetime
import json

import pytest
from boxes import member, record_count

from appliance.errors import InvalidInput, NotFound
from appliance.services import activitystreams as streams
from appliance.services import board, moderation
from appliance.services import erasure as erasing

AS = "https://www.w3.org/ns/activitystreams"
POSTER = "Zebedee Featherstonehaugh"
HELPER = "Ottoline Brackenbury"
LEAVER = "Quentin Marchbanks-Leaving"
MINUTE_MS = 60_000


def link(name: str, **values) -> str:
    path = "/".join([name, *(str(v) for k, v in values.items() if k != "page")])
    return f"http://kith.test/{path}" + (f"?page={values['page']}" if "page" in values else "")


def when(text: str) -> datetime.datetime:
    moment = datetime.datetime.fromisoformat(text)
    assert moment.tzinfo is not None, text
    return moment


REQUIRED = {
    "OrderedCollection": ("totalItems",),
    "OrderedCollectionPage": ("partOf", "orderedItems"),
    "Tombstone": ("formerType", "deleted"),
    "Flag": ("actor", "object", "summary"),
    "Question": ("name", "content"),
}


def assert_shape(obj: dict) -> None:
    """Check what every object here must have, and each type's own required shape."""
    assert obj["@context"] == AS
    assert obj["type"] and obj["id"].startswith("http://kith.test/")
    for field in REQUIRED.get(obj["type"], ()):
        assert field in obj, (obj["type"], field)
    if obj["type"] == "OrderedCollection":
        assert "orderedItems" in obj or "first" in obj
    if obj["type"] == "Tombstone":
        when(obj["deleted"])
    for field in ("published", "updated"):
        if obj["type"] not in ("OrderedCollection", "OrderedCollectionPage"):
            when(obj[field])  # ISO 8601 with a zone
    if obj["type"] not in ("OrderedCollection", "OrderedCollectionPage", "Organization"):
        assert obj["attributedTo"] == "http://kith.test/centre"
    for item in obj.get("orderedItems", []):
        assert_shape(item)


def post(box, clock, who, kind, title, details="") -> str:
    clock.ms += MINUTE_MS
    data = {
        "type": kind,
        "title": title,
        "details": details,
        "category": "local-fix",
        "place": "Elm Road",
        "needed_by": "",
    }
    return board.create_post(box, who, data)


@pytest.fixture
def story(box, clock, staff):
    poster, helper = member(box, POSTER), member(box, HELPER)
    need = post(box, clock, poster, "need", "Ladder for the gutter", "Two storeys.\n\n<b>Soon</b>")
    offer = post(box, clock, poster, "offer", "Spare paint", "White, 2 tins")
    should = post(box, clock, poster, "should", "Fix the bench", "By the pond")
    spam = post(box, clock, helper, "offer", "Cheap watches", "Buy now")
    clock.ms += MINUTE_MS
    hello = board.add_comment(box, helper, need, "I have a long ladder")
    clock.ms += MINUTE_MS
    rude = board.add_comment(box, helper, need, "Rude words")
    clock.ms += MINUTE_MS
    board.offer_help(box, helper, need, "on_it")
    moderation.set_post_hidden(box, staff, spam, True, "Selling things", "spam")
    clock.ms += MINUTE_MS
    moderation.set_comment_hidden(box, staff, rude, True, "Not kind", "offensive")
    clock.ms += MINUTE_MS
    moderation.set_post_hidden(box, staff, should, True, "Checking", "other")
    clock.ms += MINUTE_MS
    moderation.set_post_hidden(box, staff, should, False, "Fine after all")
    return {
        "poster": poster,
        "helper": helper,
        "need": need,
        "offer": offer,
        "should": should,
        "spam": spam,
        "hello": hello,
        "rude": rude,
    }


def test_the_posts_collection_lists_public_posts_newest_first(box, story):
    collection = streams.posts(box, None, link)
    assert_shape(collection)
    assert collection["totalItems"] == 3  # the hidden offer is left out
    assert collection["first"] == "http://kith.test/posts?page=1"
    page = streams.posts(box, 1, link)
    assert_shape(page)
    assert [(i["type"], i["name"]) for i in page["orderedItems"]] == [
        ("Note", "Fix the bench"),
        ("Offer", "Spare paint"),
        ("Question", "Ladder for the gutter"),
    ]
    assert page["partOf"] == "http://kith.test/posts"
    assert "next" not in page and "prev" not in page


def test_pages_link_forward_and_back(box, story):
    box.settings["page_size"] = 2
    collection = streams.posts(box, None, link)
    assert collection["last"] == "http://kith.test/posts?page=2"
    first, second = streams.posts(box, 1, link), streams.posts(box, 2, link)
    for page in (first, second):
        assert_shape(page)
    assert first["next"] == second["id"] and second["prev"] == first["id"]
    assert len(first["orderedItems"]) == 2 and len(second["orderedItems"]) == 1
    assert "next" not in second
    beyond = streams.posts(box, 7, link)
    assert beyond["orderedItems"] == [] and "next" not in beyond and "prev" not in beyond


def test_a_need_is_a_question_with_escaped_content_closed_when_resolved(box, story, clock):
    need = streams.post(box, story["need"], link)
    assert_shape(need)
    assert need["type"] == "Question"
    assert need["content"] == "<p>Two storeys.</p><p>&lt;b&gt;Soon&lt;/b&gt;</p>"
    assert need["location"] == {"type": "Place", "name": "Elm Road"}
    assert need["replies"]["totalItems"] == 1 and "closed" not in need
    clock.ms += MINUTE_MS
    board.resolve(box, story["poster"], story["need"], "Bob came round")
    closed = streams.post(box, story["need"], link)
    assert when(closed["closed"]) == when(closed["updated"])
    assert when(closed["updated"]) > when(closed["published"])


def test_a_hidden_post_is_a_tombstone_and_shown_again_it_is_back(box, story):
    spam = streams.post(box, story["spam"], link)
    assert_shape(spam)
    assert (spam["type"], spam["formerType"]) == ("Tombstone", "Offer")
    assert "name" not in spam and "content" not in spam
    should = streams.post(box, story["should"], link)
    assert should["type"] == "Note" and should["name"] == "Fix the bench"


def test_removed_posts_and_comments_are_tombstones(box, story, clock, staff):
    leaver = member(box, LEAVER)
    gone = post(box, clock, leaver, "need", "A lift to the tip")
    said = board.add_comment(box, leaver, story["offer"], "I could use the paint")
    clock.ms += MINUTE_MS
    erasing.erase_member(box, leaver, leaver.id, "remove")
    note = streams.comment(box, said, link)
    assert_shape(note)
    assert (note["type"], note["formerType"]) == ("Tombstone", "Note")
    assert "paint" not in json.dumps(note)
    tomb = streams.post(box, gone, link)
    assert_shape(tomb)
    assert (tomb["type"], tomb["formerType"]) == ("Tombstone", "Object")
    assert when(tomb["deleted"]).timestamp() * 1000 == clock.ms
    assert LEAVER not in json.dumps(tomb) and leaver.id not in json.dumps(tomb)


def test_unknown_ids_are_not_found(box, story):
    before = record_count()
    for wrong in ("f" * 64, "", story["poster"].id):
        with pytest.raises(NotFound):
            streams.post(box, wrong, link)
        with pytest.raises(NotFound):
            streams.comment(box, wrong, link)
        with pytest.raises(NotFound):
            streams.replies(box, wrong, link)
    with pytest.raises(NotFound):
        streams.comment(box, story["need"], link)  # a post's id is no comment's
    assert record_count() == before


def test_replies_are_the_visible_comments_as_notes(box, story):
    replies = streams.replies(box, story["need"], link)
    assert_shape(replies)
    assert replies["totalItems"] == 1
    [note] = replies["orderedItems"]
    assert note["type"] == "Note"
    assert note["inReplyTo"] == f"http://kith.test/post/{story['need']}"
    assert note["content"] == "<p>I have a long ladder</p>"
    assert streams.comment(box, story["hello"], link) == note
    with pytest.raises(NotFound):
        streams.replies(box, story["spam"], link)  # a hidden post has no public thread


def test_a_hidden_comment_is_a_tombstone(box, story):
    tomb = streams.comment(box, story["rude"], link)
    assert_shape(tomb)
    assert (tomb["type"], tomb["formerType"]) == ("Tombstone", "Note")
    assert "content" not in tomb


def test_the_moderation_log_is_flags_on_what_stays_hidden(box, story):
    log = streams.moderation(box, 1, link=link)
    assert_shape(log)
    flags = log["orderedItems"]
    # The bench was shown again, so its hide drops out: the log points at no public post.
    assert [(f["object"], f["summary"]) for f in flags] == [
        (f"http://kith.test/comment/{story['rude']}", "Offensive: Not kind"),
        (f"http://kith.test/post/{story['spam']}", "Spam: Selling things"),
    ]
    for flag in flags:
        assert flag["actor"] == "http://kith.test/centre"
        assert flag["id"].startswith("http://kith.test/moderation#")
    assert streams.moderation(box, None, link=link)["totalItems"] == 2


def test_the_centre_is_the_organization_behind_everything(box, story):
    centre = streams.centre(box, link=link)
    assert_shape(centre)
    assert (centre["type"], centre["name"]) == ("Organization", "Test Centre")


def test_no_member_name_or_id_appears(box, story, staff):
    everything = [
        streams.centre(box, link=link),
        streams.posts(box, None, link),
        streams.posts(box, 1, link),
        streams.moderation(box, 1, link=link),
        *(streams.post(box, story[k], link) for k in ("need", "offer", "should", "spam")),
        streams.replies(box, story["need"], link),
        *(streams.comment(box, story[k], link) for k in ("hello", "rude")),
    ]
    text = json.dumps(everything)
    for person in (story["poster"], story["helper"], staff):
        assert person.name not in text and person.id not in text


def test_page_values_are_read_and_bad_ones_refused():
    assert streams.read_page({}) is None
    assert streams.read_page({"page": "3"}) == 3
    for bad in ("", "0", "-2", "two", "1.5", "9999999"):
        with pytest.raises(InvalidInput) as caught:
            streams.read_page({"page": bad})
        assert set(caught.value.fields) == {"page"}


def test_a_synced_centres_posts_are_its_own_to_publish(box, story):
    from boxes import trust
    from recordmaker import Origin

    east = Origin("east-centre")
    trust(box, east)
    author = east.make("member.joined", {"name": "Edie East"})
    body = {"type": "should", "title": "East bench", "details": "", "category": "food"}
    post = east.make("post.created", {**body, "place": "Pier", "needed_by": None}, author=author.id)
    assert box.log.ingest([author.line, post.line]).ok
    listed = [item["id"] for item in streams.posts(box, 1, link)["orderedItems"]]
    assert len(listed) == 3 and not any(post.id in item for item in listed)
    with pytest.raises(NotFound):
        streams.post(box, post.id, link)
