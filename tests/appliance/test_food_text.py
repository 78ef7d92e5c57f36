"""Text is measured as it will be stored: in Unicode NFC.

Records store strings in NFC, and NFC can make text longer: U+0958 (DEVANAGARI LETTER
QA) is a composition exclusion, so each one is stored as two code points. Text that
fits before normalising but not after must get the field's "too long" message and leave
no record, never reach the log and fail there.
"""

from __future__ import annotations

import unicodedata
from types import SimpleNamespace

import pytest
from boxes import record_count

from appliance.errors import InvalidInput
from appliance.services import board, catalogue, food, orgs, shifts
from appliance.text import clean_text, one_line, plain

QA = "\u0958"  # one code point typed, two once normalised


def long_once_stored(limit: int) -> str:
    """Text within `limit` as typed, over it once normalised."""
    text = QA * (limit // 2 + 1)
    assert len(text) <= limit < len(unicodedata.normalize("NFC", text))
    return text


def test_the_helpers_normalise_before_anything_is_measured():
    assert one_line(f"  {QA}\t two \r\n  words ") == "\u0915\u093c two words"
    assert clean_text(f"  line one\r\nline {QA}  \n") == "line one\nline \u0915\u093c"
    assert one_line(None) == clean_text(None) == ""
    assert plain("%(n)d left", n=3) == "3 left" and plain("100%") == "100%"


@pytest.fixture
def org(box, staff) -> str:
    return orgs.create_org(box, staff, {"name": "Bank", "type": "foodbank", "place": "Hall"})


@pytest.fixture
def organiser(box, staff, org, alice):
    orgs.set_org_role(box, staff, org, alice.id, "organiser")
    return alice


POST = {"type": "need", "title": "Kettle", "details": "", "category": "food", "place": "Hall"}


@pytest.fixture
def post_id(box, bob) -> str:
    return board.create_post(box, bob, POST)


SHIFT = {
    "title": "Sorting",
    "date": "2026-01-03",
    "start": "09:30",
    "end": "12:00",
    "place": "",
    "people": "2",
    "bring": "",
}
CASES = {
    "post title": (lambda w: board.create_post(w.box, w.bob, {**POST, "title": w.long(120)})),
    "post details": (lambda w: board.create_post(w.box, w.bob, {**POST, "details": w.long(4000)})),
    "post place": (lambda w: board.create_post(w.box, w.bob, {**POST, "place": w.long(80)})),
    "comment": (lambda w: board.add_comment(w.box, w.bob, w.post, w.long(2000))),
    "resolve note": (lambda w: board.resolve(w.box, w.bob, w.post, w.long(1000))),
    "organisation name": (
        lambda w: orgs.create_org(
            w.box, w.staff, {"name": w.long(100), "type": "shop", "place": "Hall"}
        )
    ),
    "organisation place": (
        lambda w: orgs.create_org(
            w.box, w.staff, {"name": "Shop", "type": "shop", "place": w.long(80)}
        )
    ),
    "item name": (
        lambda w: catalogue.add_item(
            w.box, w.staff, {"name": w.long(60), "category": "tins", "unit": "items"}
        )
    ),
    "shift title": (
        lambda w: shifts.create_shift(
            w.box, w.organiser, {**SHIFT, "org": w.org, "title": w.long(120)}
        )
    ),
    "shift place": (
        lambda w: shifts.create_shift(
            w.box, w.organiser, {**SHIFT, "org": w.org, "place": w.long(80)}
        )
    ),
    "shift bring": (
        lambda w: shifts.create_shift(
            w.box, w.organiser, {**SHIFT, "org": w.org, "bring": w.long(500)}
        )
    ),
    "food need title": (
        lambda w: food.create_need(
            w.box,
            w.organiser,
            {"org": w.org, "title": w.long(120), "needed_by": "2026-01-10", "task": "1"},
            [],
        )
    ),
}
FIELDS = {
    "post title": ("title", "Please keep the title under 120 characters."),
    "post details": ("details", "Please keep the details under 4000 characters."),
    "post place": ("place", "Please keep the place under 80 characters."),
    "comment": ("text", "Please keep comments under 2000 characters."),
    "resolve note": ("note", "Please keep the note under 1000 characters."),
    "organisation name": ("name", "Please keep the name under 100 characters."),
    "organisation place": ("place", "Please keep the place under 80 characters."),
    "item name": ("name", "Please keep the name under 60 characters."),
    "shift title": ("title", "Please keep the title under 120 characters."),
    "shift place": ("place", "Please keep the place under 80 characters."),
    "shift bring": ("bring", "Please keep “what to bring” under 500 characters."),
    "food need title": ("title", "Please keep the title under 120 characters."),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_text_that_grows_when_normalised_is_refused_as_too_long(
    box, staff, bob, org, organiser, post_id, case
):
    world = SimpleNamespace(
        box=box,
        staff=staff,
        bob=bob,
        org=org,
        organiser=organiser,
        post=post_id,
        long=long_once_stored,
    )
    before = record_count()
    with pytest.raises(InvalidInput) as excinfo:
        CASES[case](world)
    field, message = FIELDS[case]
    assert excinfo.value.fields == {field: message}
    assert record_count() == before


def test_thanks_and_a_shift_cancellation_are_measured_once_normalised(
    box, bob, alice, org, organiser, post_id
):
    board.offer_help(box, alice, post_id, "can_help")
    shift_id = shifts.create_shift(box, organiser, {**SHIFT, "org": org})
    before = record_count()
    with pytest.raises(InvalidInput) as excinfo:
        board.thank(box, bob, post_id, alice.id, long_once_stored(1000))
    assert excinfo.value.fields == {"message": "Please keep it under 1000 characters."}
    with pytest.raises(InvalidInput) as excinfo:
        shifts.cancel_shift(box, organiser, shift_id, long_once_stored(500))
    assert excinfo.value.fields == {"reason": "Please keep the reason under 500 characters."}
    assert record_count() == before


def test_text_that_fits_once_normalised_is_stored_normalised(box, bob):
    title = QA * 60  # 120 once normalised: just fits
    post_id = board.create_post(box, bob, {**POST, "title": title})
    assert board.visible_post(bob, post_id).title == unicodedata.normalize("NFC", title)
