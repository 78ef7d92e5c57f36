"""The code of conduct: versions staff publish, members accepting them, the posting gate,
Markdown rendered safely, and first-boot setup publishing version 1."""

from __future__ import annotations

import json

import pytest
from boxes import record_count, trust
from recordmaker import Origin

from appliance.errors import Conflict, InvalidInput, NotAllowed, NotSignedIn
from appliance.kinds import CONDUCT_MAX, NOTE_MAX
from appliance.models import Conduct, Member, StoredRecord
from appliance.services import board, conduct, setup
from appliance.services.conduct import ConductNotAccepted

CODE = "# Our rules\n\nBe kind.\n"
POST = {
    "type": "need",
    "title": "Lift to the shops",
    "details": "",
    "category": "travel",
    "place": "Mill Lane",
    "needed_by": "",
}


def last_record(kind: str) -> dict:
    row = (
        StoredRecord.select()
        .where(StoredRecord.kind == kind)
        .order_by(StoredRecord.seq.desc())
        .first()
    )
    return json.loads(bytes(row.raw))


# --- publishing ----------------------------------------------------------------------


def test_staff_publish_versions_in_order(box, staff, clock):
    assert conduct.current_conduct(box) is None
    assert conduct.publish_conduct(box, staff, "  " + CODE + "\n\n") == 1
    clock.advance(1000)
    assert conduct.publish_conduct(box, staff, "Be kind.\r\nNo adverts.", note="No adverts") == 2

    current = conduct.current_conduct(box)
    assert current["version"] == 2
    assert current["text"] == "Be kind.\nNo adverts."  # trimmed, Windows line ends made \n
    assert current["note"] == "No adverts"
    assert current["published_ms"] == clock()
    assert "<p>Be kind.\nNo adverts.</p>" in current["html"]
    assert [v["version"] for v in conduct.conduct_history(box)] == [2, 1]
    assert conduct.conduct_version(box, 1)["text"] == CODE.strip()
    assert conduct.conduct_version(box, 3) is None
    record = last_record("conduct.published")
    assert record["scope"] == "federation"  # other centres may show it
    assert record["subject"] == box.centre.id
    assert record["author"] == staff.id
    assert record["body"] == {"version": 2, "text": "Be kind.\nNo adverts.", "note": "No adverts"}


def test_text_is_stored_in_nfc(box, staff):
    conduct.publish_conduct(box, staff, "Cafe\u0301 rules")
    assert conduct.current_conduct(box)["text"] == "Caf\u00e9 rules"


@pytest.mark.parametrize(
    ("text", "note", "field", "message"),
    [
        ("", "", "text", "Please write the code of conduct."),
        (" \n\t ", "", "text", "Please write the code of conduct."),
        ("r" * (CONDUCT_MAX + 1), "", "text", "under 20,000 characters"),
        (CODE, "n" * (NOTE_MAX + 1), "note", "under 1000 characters"),
    ],
)
def test_bad_text_is_refused_and_changes_nothing(box, staff, text, note, field, message):
    before = record_count()
    with pytest.raises(InvalidInput) as caught:
        conduct.publish_conduct(box, staff, text, note)
    assert message in caught.value.fields[field]
    assert record_count() == before
    assert conduct.current_conduct(box) is None


def test_the_longest_code_fits(box, staff):
    assert conduct.publish_conduct(box, staff, "r" * CONDUCT_MAX) == 1


def test_only_staff_publish(box, alice, staff):
    before = record_count()
    with pytest.raises(NotAllowed):
        conduct.publish_conduct(box, alice, CODE)
    with pytest.raises(NotSignedIn):
        conduct.publish_conduct(box, None, CODE)
    assert record_count() == before


def test_publishing_the_same_text_again_is_a_conflict(box, staff):
    conduct.publish_conduct(box, staff, CODE)
    before = record_count()
    with pytest.raises(Conflict):
        conduct.publish_conduct(box, staff, "\n" + CODE + "  ")
    assert record_count() == before
    assert conduct.current_version(box) == 1


def test_another_centres_code_is_not_this_centres(box, staff):
    east = Origin("east")
    trust(box, east.origin)
    centre = east.make("centre.created", {"name": "East", "timezone": "Europe/London"})
    code = east.make(
        "conduct.published",
        {"version": 4, "text": "East's rules", "note": ""},
        subject=centre.id,
    )
    assert box.log.ingest([centre.line, code.line]).ok
    assert Conduct.select().count() == 1  # stored, for East's pages
    assert conduct.current_conduct(box) is None
    conduct.publish_conduct(box, staff, CODE)
    assert conduct.current_version(box) == 1


# --- accepting and the gate ----------------------------------------------------------


def test_without_a_code_nothing_is_required(box, alice):
    assert not conduct.needs_acceptance(box, alice)
    conduct.require_accepted(box, alice)
    assert board.create_post(box, alice, POST)
    with pytest.raises(Conflict):
        conduct.accept_conduct(box, alice, 1)


def test_members_and_staff_accept_the_current_version(box, alice, staff, clock):
    conduct.publish_conduct(box, staff, CODE)
    assert conduct.needs_acceptance(box, alice)
    assert conduct.needs_acceptance(box, staff)  # staff too
    assert not conduct.needs_acceptance(box, None)  # a visitor is asked to log in instead

    before = record_count()
    conduct.accept_conduct(box, alice, "1")  # as a form sends it
    assert record_count() == before + 1
    assert not conduct.needs_acceptance(box, alice)
    assert conduct.needs_acceptance(box, staff)
    assert Member.get(Member.id == alice.id).conduct_version == 1
    record = last_record("conduct.accepted")
    assert record["scope"] == "local"
    assert record["author"] == record["subject"] == alice.id
    assert record["body"] == {"version": 1}

    clock.advance(1000)
    conduct.publish_conduct(box, staff, CODE + "\nNo adverts.")
    assert conduct.needs_acceptance(box, alice)  # asked again when it changes
    conduct.accept_conduct(box, alice, 2)
    assert not conduct.needs_acceptance(box, alice)


def test_accepting_a_version_that_changed_meanwhile_is_refused(box, alice, staff):
    conduct.publish_conduct(box, staff, CODE)
    conduct.publish_conduct(box, staff, CODE + "\nNo adverts.")
    before = record_count()
    for version in (1, 3, "", "two", None):
        with pytest.raises(Conflict) as caught:
            conduct.accept_conduct(box, alice, version)
        assert caught.value.message == conduct.CHANGED
    assert record_count() == before
    assert conduct.needs_acceptance(box, alice)


def test_accepting_twice_is_a_conflict(box, alice, staff):
    conduct.publish_conduct(box, staff, CODE)
    conduct.accept_conduct(box, alice, 1)
    before = record_count()
    with pytest.raises(Conflict, match="already accepted"):
        conduct.accept_conduct(box, alice, 1)
    assert record_count() == before


def test_a_visitor_cannot_accept(box, staff):
    conduct.publish_conduct(box, staff, CODE)
    before = record_count()
    with pytest.raises(NotSignedIn):
        conduct.accept_conduct(box, None, 1)
    assert record_count() == before


def test_posting_and_commenting_wait_for_acceptance(box, alice, bob, staff):
    post_id = board.create_post(box, bob, POST)  # before there was a code
    conduct.publish_conduct(box, staff, CODE)
    before = record_count()
    with pytest.raises(ConductNotAccepted) as caught:
        board.create_post(box, alice, POST)
    assert caught.value.message == (
        "Please read and accept the centre's code of conduct before posting."
    )
    assert isinstance(caught.value, NotAllowed)
    with pytest.raises(ConductNotAccepted):
        board.add_comment(box, alice, post_id, "Can I help?")
    with pytest.raises(ConductNotAccepted):
        board.add_comment(box, staff, post_id, "Staff too")
    assert record_count() == before

    conduct.accept_conduct(box, alice, 1)
    assert board.create_post(box, alice, POST)
    assert board.add_comment(box, alice, post_id, "Can I help?")


def test_a_visitor_is_asked_to_sign_in_before_the_code(box, staff):
    conduct.publish_conduct(box, staff, CODE)
    with pytest.raises(NotSignedIn):
        board.create_post(box, None, POST)


# --- Markdown ------------------------------------------------------------------------


def test_markdown_renders_the_usual_things():
    html = conduct.render_markdown("# Rules\n\n- Be *kind*\n- [Ask staff](/staff)\n\n## More")
    assert "<h2>Rules</h2>" in html  # the page keeps its own h1
    assert "<h3>More</h3>" in html
    assert "<li>Be <em>kind</em></li>" in html
    assert '<a href="/staff" rel="nofollow noopener noreferrer">Ask staff</a>' in html


def test_markdown_escapes_html_and_refuses_dangerous_links():
    html = conduct.render_markdown(
        "<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n"
        "[a](javascript:alert(1)) [b](JavaScript:alert(1)) [c](data:text/html,hi) "
        "[d](vbscript:x) [e](//elsewhere.example/x) [f](file:///etc/passwd) <javascript:x>\n\n"
        "[web](https://example.org/) [mail](mailto:staff@example.org) [top](#top)"
    )
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    hrefs = [part.split('"', 1)[0] for part in html.split('href="')[1:]]
    assert hrefs == ["https://example.org/", "mailto:staff@example.org", "#top"]


def test_markdown_images_show_as_their_words_and_load_nothing():
    html = conduct.render_markdown(
        "![A *smiling* face](https://tracker.example/p.png) ![](/static/x.png)\n\n"
        '[![logo](https://cdn.example/l.png "t")](https://example.org)'
    )
    assert "<img" not in html and "src=" not in html
    assert "tracker.example" not in html and "cdn.example" not in html
    assert "A smiling face" in html
    assert '<a href="https://example.org" rel="nofollow noopener noreferrer">logo</a>' in html


# --- first boot ----------------------------------------------------------------------


def test_first_boot_setup_publishes_version_1_accepted_by_the_admin(tmp_path):
    plan = setup.check_answers(
        centre_name="Millbrook",
        admin_name="Sam Patel",
        password="correct horse battery",
        password_again="correct horse battery",
        categories="Food",
        places="Hall",
        conduct="# Our rules\r\n\r\nBe kind.  ",
    )
    made, admin_id = setup.set_up(tmp_path / "box", plan)
    current = conduct.current_conduct(made)
    assert current["version"] == 1
    assert current["text"] == "# Our rules\n\nBe kind."
    assert last_record("conduct.published")["author"] == admin_id
    admin = setup.accounts.actor_for(made, admin_id)
    assert not conduct.needs_acceptance(made, admin)
    assert setup.read_conduct(made.data_dir) == "# Our rules\n\nBe kind.\n"  # as before
