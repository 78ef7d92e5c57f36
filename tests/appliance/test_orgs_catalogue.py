"""Organisations, their people and the item catalogue (appliance/services/orgs.py and
catalogue.py): staff only, only the owning box changes an entry, and bad input refused."""

from __future__ import annotations

import pytest
from boxes import record_count, trust
from recordmaker import Origin

from appliance.errors import Conflict, InvalidInput, NotAllowed, NotFound, NotSignedIn
from appliance.kinds import ITEM_CATEGORIES, QTY_MAX, UNITS
from appliance.models import Item, OrgRole
from appliance.services import catalogue, orgs

BANK = {"name": "Millbrook Food Bank", "type": "foodbank", "place": "Church Hall"}
BEANS = {"name": "Baked beans", "category": "tins", "unit": "items"}


def invalid_fields(excinfo) -> dict[str, str]:
    return excinfo.value.fields


@pytest.fixture
def bank(box, staff) -> str:
    return orgs.create_org(box, staff, BANK)


@pytest.fixture
def other():
    """Another centre's box, as the records it would send."""
    return Origin("riverside-centre")


@pytest.fixture
def foreign_org(box, other) -> str:
    """A food bank added by another centre's staff, synced to this box."""
    trust(box, other)
    made = other.make(
        "org.created",
        {"name": "Riverside Pantry", "type": "foodbank", "place": "Riverside Road"},
        author="b" * 64,
    )
    assert box.log.ingest([made.line]).ok
    return made.id


# --- organisations ---------------------------------------------------------------------


def test_staff_add_an_organisation_as_a_record_of_this_box(box, staff):
    before = record_count()
    org_id = orgs.create_org(box, staff, {**BANK, "name": "  Millbrook   Food Bank "})
    assert record_count() == before + 1
    org = orgs.get_org(org_id)
    assert (org.name, org.type, org.place, org.active) == (
        "Millbrook Food Bank",
        "foodbank",
        "Church Hall",
        True,
    )
    assert org.origin == box.origin
    assert [o.id for o in orgs.list_orgs(box)] == [org_id]
    assert orgs.ORG_TYPE_LABELS["foodbank"] == "Food bank"


def test_only_staff_add_change_or_staff_organisations(box, bank, alice, bob):
    before = record_count()
    for who, error in ((alice, NotAllowed), (None, NotSignedIn)):
        with pytest.raises(error):
            orgs.create_org(box, who, {**BANK, "name": "Another"})
        with pytest.raises(error):
            orgs.change_org(box, who, bank, BANK, active=False)
        with pytest.raises(error):
            orgs.set_org_role(box, who, bank, bob.id, "organiser")
    assert record_count() == before
    assert orgs.get_org(bank).active
    assert orgs.org_people(bank) == []


@pytest.mark.parametrize(
    "data, fields",
    [
        ({}, {"name", "type", "place"}),
        ({**BANK, "name": "   "}, {"name"}),
        ({**BANK, "name": "x" * 101}, {"name"}),
        ({**BANK, "type": "church"}, {"type"}),
        ({**BANK, "type": ""}, {"type"}),
        ({**BANK, "place": ""}, {"place"}),
        ({**BANK, "place": "y" * 81}, {"place"}),
    ],
)
def test_bad_organisation_details_are_refused(box, staff, bank, data, fields):
    before = record_count()
    with pytest.raises(InvalidInput) as excinfo:
        orgs.create_org(box, staff, data)
    assert set(invalid_fields(excinfo)) == fields
    with pytest.raises(InvalidInput) as excinfo:
        orgs.change_org(box, staff, bank, data)
    assert set(invalid_fields(excinfo)) == fields
    assert record_count() == before
    assert orgs.get_org(bank).name == BANK["name"]


def test_the_longest_name_and_place_fit(box, staff):
    org_id = orgs.create_org(box, staff, {**BANK, "name": "x" * 100, "place": "y" * 80})
    assert orgs.get_org(org_id).name == "x" * 100


def test_a_centre_cannot_have_two_organisations_of_one_name(box, staff, bank, foreign_org):
    before = record_count()
    with pytest.raises(InvalidInput) as excinfo:
        orgs.create_org(box, staff, {**BANK, "type": "shop", "place": "High Street"})
    assert invalid_fields(excinfo) == {
        "name": "This centre already has an organisation of that name."
    }
    assert record_count() == before
    # Another centre's organisation of that name does not stand in the way.
    assert orgs.create_org(box, staff, {**BANK, "name": "Riverside Pantry"})


def test_change_retire_and_bring_back_an_organisation(box, staff, bank):
    changed = {"name": "Millbrook Pantry", "type": "group", "place": "Mill Lane"}
    orgs.change_org(box, staff, bank, changed)
    org = orgs.get_org(bank)
    assert (org.name, org.type, org.place, org.active) == (*changed.values(), True)

    orgs.change_org(box, staff, bank, changed, active=False)
    assert not orgs.get_org(bank).active
    assert orgs.list_orgs(box) == []
    assert [o.id for o in orgs.list_orgs(box, active_only=False)] == [bank]

    orgs.change_org(box, staff, bank, changed, active=True)
    assert [o.id for o in orgs.list_orgs(box)] == [bank]


def test_list_orgs_by_name_and_type(box, staff, bank, foreign_org):
    shop = orgs.create_org(box, staff, {"name": "Corner Shop", "type": "shop", "place": "High St"})
    assert [o.name for o in orgs.list_orgs(box)] == [
        "Corner Shop",
        "Millbrook Food Bank",
        "Riverside Pantry",
    ]
    assert [o.id for o in orgs.list_orgs(box, types=("shop",))] == [shop]


def test_unknown_organisation_is_not_found(box, staff, alice):
    before = record_count()
    with pytest.raises(NotFound):
        orgs.get_org("f" * 64)
    with pytest.raises(NotFound):
        orgs.change_org(box, staff, "f" * 64, BANK)
    with pytest.raises(NotFound):
        orgs.set_org_role(box, staff, "f" * 64, alice.id, "member")
    assert record_count() == before


def test_another_centres_organisation_is_read_only_here(box, staff, alice, foreign_org):
    org = orgs.get_org(foreign_org)
    assert org.origin != box.origin
    before = record_count()
    with pytest.raises(NotAllowed) as excinfo:
        orgs.change_org(box, staff, foreign_org, BANK)
    assert excinfo.value.message == (
        "Only the staff of the centre that added this organisation can change it."
    )
    with pytest.raises(NotAllowed):
        orgs.set_org_role(box, staff, foreign_org, alice.id, "organiser")
    assert record_count() == before
    assert orgs.get_org(foreign_org).name == "Riverside Pantry"
    assert not orgs.is_organiser(alice, foreign_org)


def test_the_owning_centre_sets_roles_on_its_own_organisation(box, alice, other, foreign_org):
    role = other.make(
        "org.role.set",
        {"member": alice.id, "role": "organiser"},
        subject=foreign_org,
        author="b" * 64,
    )
    assert box.log.ingest([role.line]).ok
    assert orgs.org_people(foreign_org) == [{"id": alice.id, "name": "Alice", "role": "organiser"}]
    assert orgs.is_organiser(alice, foreign_org)


def test_records_from_another_origin_cannot_change_this_centres_organisation(
    box, staff, alice, bob, bank, other
):
    orgs.set_org_role(box, staff, bank, bob.id, "organiser")
    trust(box, other)
    sneaky = [
        other.make(
            "org.role.set",
            {"member": alice.id, "role": "organiser"},
            subject=bank,
            author="b" * 64,
        ),
        other.make("org.role.set", {"member": bob.id, "role": None}, subject=bank, author="b" * 64),
        other.make(
            "org.changed",
            {"name": "Taken Over", "type": "shop", "place": "Elsewhere", "active": False},
            subject=bank,
            author="b" * 64,
        ),
    ]
    # The records are valid and stored; the fold leaves them out of the organisation.
    assert box.log.ingest([r.line for r in sneaky]).ok
    org = orgs.get_org(bank)
    assert (org.name, org.type, org.place, org.active) == (*BANK.values(), True)
    assert orgs.org_people(bank) == [{"id": bob.id, "name": "Bob", "role": "organiser"}]
    assert not orgs.is_organiser(alice, bank)
    assert orgs.is_organiser(bob, bank)


def test_staff_give_change_and_take_away_a_place_in_an_organisation(box, staff, alice, bob, bank):
    before = record_count()
    orgs.set_org_role(box, staff, bank, bob.id, "member")
    orgs.set_org_role(box, staff, bank, alice.id, "organiser")
    assert orgs.org_people(bank) == [
        {"id": alice.id, "name": "Alice", "role": "organiser"},
        {"id": bob.id, "name": "Bob", "role": "member"},
    ]
    assert OrgRole.get(OrgRole.member == alice.id).granted_by == staff.id

    orgs.set_org_role(box, staff, bank, bob.id, "organiser")
    orgs.set_org_role(box, staff, bank, alice.id, "member")
    assert {p["name"]: p["role"] for p in orgs.org_people(bank)} == {
        "Alice": "member",
        "Bob": "organiser",
    }
    orgs.set_org_role(box, staff, bank, alice.id, None)
    orgs.set_org_role(box, staff, bank, bob.id, "")  # an empty choice means remove too
    assert orgs.org_people(bank) == []
    assert record_count() == before + 6


def test_bad_role_changes_are_refused(box, staff, alice, bank):
    orgs.set_org_role(box, staff, bank, alice.id, "organiser")
    before = record_count()
    with pytest.raises(Conflict) as excinfo:
        orgs.set_org_role(box, staff, bank, alice.id, "organiser")
    assert str(excinfo.value) == "Nothing to change: Alice already has that place."
    with pytest.raises(InvalidInput) as excinfo:
        orgs.set_org_role(box, staff, bank, alice.id, "boss")
    assert invalid_fields(excinfo) == {"role": "Choose member or organiser."}
    with pytest.raises(NotFound):
        orgs.set_org_role(box, staff, bank, "e" * 64, "member")
    orgs.set_org_role(box, staff, bank, alice.id, None)
    before = record_count()
    with pytest.raises(Conflict):
        orgs.set_org_role(box, staff, bank, alice.id, None)
    assert record_count() == before


def test_organiser_checks(box, staff, alice, bob, bank):
    shop = orgs.create_org(box, staff, {"name": "Corner Shop", "type": "shop", "place": "High St"})
    orgs.set_org_role(box, staff, bank, alice.id, "organiser")
    orgs.set_org_role(box, staff, shop, alice.id, "organiser")
    orgs.set_org_role(box, staff, bank, bob.id, "member")

    assert orgs.is_organiser(alice, bank)
    assert not orgs.is_organiser(bob, bank)  # a member, not an organiser
    assert not orgs.is_organiser(staff, bank)  # staff grant the role, they do not hold it
    assert not orgs.is_organiser(None, bank)
    assert not orgs.is_organiser(alice, None)
    assert not orgs.is_organiser(alice, "")
    assert [o.name for o in orgs.organised_by(alice)] == ["Corner Shop", "Millbrook Food Bank"]
    assert orgs.organised_by(bob) == []
    assert orgs.organised_by(None) == []

    assert orgs.require_organiser(alice, bank).id == bank
    with pytest.raises(NotSignedIn):
        orgs.require_organiser(None, bank)
    with pytest.raises(InvalidInput) as excinfo:
        orgs.require_organiser(alice, "")
    assert invalid_fields(excinfo) == {"org": "Please choose the organisation."}
    with pytest.raises(NotFound):
        orgs.require_organiser(alice, "f" * 64)
    with pytest.raises(NotAllowed) as excinfo:
        orgs.require_organiser(bob, bank)
    assert str(excinfo.value) == "Only an organiser of Millbrook Food Bank can do that."


def test_a_retired_organisation_has_no_working_organisers(box, staff, alice, bank):
    orgs.set_org_role(box, staff, bank, alice.id, "organiser")
    orgs.change_org(box, staff, bank, BANK, active=False)
    with pytest.raises(Conflict) as excinfo:
        orgs.require_organiser(alice, bank)
    assert str(excinfo.value) == "Millbrook Food Bank is no longer active here."
    assert orgs.organised_by(alice) == []
    # The role is kept: bringing the organisation back brings its organisers back.
    assert orgs.is_organiser(alice, bank)
    orgs.change_org(box, staff, bank, BANK, active=True)
    assert orgs.require_organiser(alice, bank).id == bank


# --- the item catalogue -------------------------------------------------------------------


def test_staff_add_an_item_to_the_catalogue(box, staff):
    before = record_count()
    item_id = catalogue.add_item(box, staff, {**BEANS, "name": "  Baked   beans "})
    assert record_count() == before + 1
    item = catalogue.get_item(item_id)
    assert (item.name, item.category, item.unit, item.active) == (
        "Baked beans",
        "tins",
        "items",
        True,
    )
    assert item.origin == box.origin
    assert item.match_key == "baked beans|items"


def test_only_staff_change_the_catalogue(box, staff, alice):
    item_id = catalogue.add_item(box, staff, BEANS)
    before = record_count()
    for who, error in ((alice, NotAllowed), (None, NotSignedIn)):
        with pytest.raises(error):
            catalogue.add_item(box, who, {**BEANS, "name": "Soup"})
        with pytest.raises(error):
            catalogue.change_item(box, who, item_id, BEANS, active=False)
        with pytest.raises(error):
            catalogue.add_starter_items(box, who)
    assert record_count() == before
    assert catalogue.get_item(item_id).active


@pytest.mark.parametrize(
    "data, fields",
    [
        ({}, {"name", "category", "unit"}),
        ({**BEANS, "name": " "}, {"name"}),
        ({**BEANS, "name": "x" * 61}, {"name"}),
        ({**BEANS, "category": "sweets"}, {"category"}),
        ({**BEANS, "category": ""}, {"category"}),
        ({**BEANS, "unit": "dozen"}, {"unit"}),
        ({**BEANS, "unit": "Items"}, {"unit"}),
        ({**BEANS, "unit": None}, {"unit"}),
    ],
)
def test_bad_catalogue_entries_are_refused(box, staff, data, fields):
    item_id = catalogue.add_item(box, staff, {**BEANS, "name": "Soup"})
    before = record_count()
    with pytest.raises(InvalidInput) as excinfo:
        catalogue.add_item(box, staff, data)
    assert set(invalid_fields(excinfo)) == fields
    with pytest.raises(InvalidInput) as excinfo:
        catalogue.change_item(box, staff, item_id, data)
    assert set(invalid_fields(excinfo)) == fields
    assert record_count() == before
    assert catalogue.get_item(item_id).name == "Soup"


def test_every_category_and_unit_has_a_label(box, staff):
    assert set(catalogue.CATEGORY_LABELS) == set(ITEM_CATEGORIES)
    assert set(catalogue.UNIT_LABELS) == set(UNITS)
    for category in ITEM_CATEGORIES:
        for unit in UNITS:
            catalogue.add_item(
                box, staff, {"name": f"{category} in {unit}", "category": category, "unit": unit}
            )
    assert Item.select().count() == len(ITEM_CATEGORIES) * len(UNITS)


def test_the_same_item_in_the_same_unit_is_refused(box, staff, other):
    catalogue.add_item(box, staff, BEANS)
    before = record_count()
    with pytest.raises(InvalidInput) as excinfo:
        catalogue.add_item(box, staff, {**BEANS, "name": "BAKED  Beans", "category": "other"})
    assert invalid_fields(excinfo) == {"name": "The catalogue already has that item in that unit."}
    assert record_count() == before
    # In another unit it is another entry.
    assert catalogue.add_item(box, staff, {**BEANS, "unit": "trays"})
    # Another centre's entry counts too: both centres then use the one entry.
    trust(box, other)
    soup = other.make("item.created", {**BEANS, "name": "Soup"}, author="b" * 64)
    assert box.log.ingest([soup.line]).ok
    with pytest.raises(InvalidInput):
        catalogue.add_item(box, staff, {**BEANS, "name": "soup"})


def test_a_retired_item_can_be_added_again(box, staff):
    item_id = catalogue.add_item(box, staff, BEANS)
    catalogue.change_item(box, staff, item_id, BEANS, active=False)
    again = catalogue.add_item(box, staff, BEANS)
    assert again != item_id
    assert [i.id for i in catalogue.list_items()] == [again]


def test_change_retire_and_bring_back_an_item(box, staff):
    item_id = catalogue.add_item(box, staff, BEANS)
    catalogue.change_item(
        box, staff, item_id, {"name": "Beans", "category": "tins", "unit": "trays"}
    )
    item = catalogue.get_item(item_id)
    assert (item.name, item.unit, item.match_key, item.active) == (
        "Beans",
        "trays",
        "beans|trays",
        True,
    )
    catalogue.change_item(box, staff, item_id, BEANS, active=False)
    assert not catalogue.get_item(item_id).active
    assert catalogue.list_items() == []
    assert [i.id for i in catalogue.list_items(active_only=False)] == [item_id]
    catalogue.change_item(box, staff, item_id, BEANS)
    assert catalogue.get_item(item_id).active


def test_another_centres_items_are_read_only_here(box, staff, other):
    own = catalogue.add_item(box, staff, BEANS)
    trust(box, other)
    theirs = other.make("item.created", {**BEANS, "name": "Soup"}, author="b" * 64)
    sneaky = other.make(
        "item.changed", {**BEANS, "name": "Renamed", "active": False}, subject=own, author="b" * 64
    )
    assert box.log.ingest([theirs.line, sneaky.line]).ok
    # Their change to this centre's entry is stored but does not count.
    item = catalogue.get_item(own)
    assert (item.name, item.active) == ("Baked beans", True)
    before = record_count()
    with pytest.raises(NotAllowed) as excinfo:
        catalogue.change_item(box, staff, theirs.id, {**BEANS, "name": "Soup"}, active=False)
    assert (
        excinfo.value.message == "Only the staff of the centre that added this item can change it."
    )
    with pytest.raises(NotFound):
        catalogue.change_item(box, staff, "f" * 64, BEANS)
    assert record_count() == before
    assert catalogue.get_item(theirs.id).active


def test_the_catalogue_lists_by_category_then_name(box, staff):
    for name, category, unit in [
        ("Nappies", "baby", "packs"),
        ("soup", "tins", "items"),
        ("Baked beans", "tins", "items"),
        ("Pasta", "dry", "packs"),
        ("Pasta", "dry", "kg"),
    ]:
        catalogue.add_item(box, staff, {"name": name, "category": category, "unit": unit})
    listed = [(i.category, i.name, i.unit) for i in catalogue.list_items()]
    assert listed == [
        ("tins", "Baked beans", "items"),
        ("tins", "soup", "items"),
        ("dry", "Pasta", "kg"),
        ("dry", "Pasta", "packs"),
        ("baby", "Nappies", "packs"),
    ]


def test_the_usual_items_are_added_once(box, staff):
    beans = catalogue.add_item(box, staff, BEANS)
    before = record_count()
    added = catalogue.add_starter_items(box, staff)
    assert added == len(catalogue.STARTER_ITEMS) - 1  # it had the beans already
    assert record_count() == before + added
    keys = {i.match_key for i in catalogue.list_items()}
    assert len(keys) == len(catalogue.STARTER_ITEMS)
    assert Item.select().where(Item.match_key == "baked beans|items").count() == 1
    assert catalogue.get_item(beans).name == "Baked beans"
    assert catalogue.add_starter_items(box, staff) == 0
    assert record_count() == before + added


def test_the_usual_items_are_added_all_or_none(box, staff, monkeypatch):
    """A failure half way (a full disk, say) leaves the catalogue as it was."""
    append, made = box.log.append, []

    def append_until_the_disk_fills(kind, body, **where):
        if len(made) == 5:
            raise OSError("No space left on device")
        made.append(kind)
        return append(kind, body, **where)

    monkeypatch.setattr(box.log, "append", append_until_the_disk_fills)
    before = record_count()
    with pytest.raises(OSError):
        catalogue.add_starter_items(box, staff)
    assert made == ["item.created"] * 5
    assert record_count() == before and Item.select().count() == 0
    monkeypatch.setattr(box.log, "append", append)
    assert catalogue.add_starter_items(box, staff) == len(catalogue.STARTER_ITEMS)
    assert record_count() == before + len(catalogue.STARTER_ITEMS)


# --- quantities and item lines ------------------------------------------------------------


@pytest.fixture
def items(box, staff) -> dict[str, str]:
    """Three catalogue entries, one of them retired: {name: id}."""
    found = {}
    for name in ("Beans", "Soup", "Old stock"):
        found[name] = catalogue.add_item(box, staff, {**BEANS, "name": name})
    catalogue.change_item(
        box, staff, found["Old stock"], {**BEANS, "name": "Old stock"}, active=False
    )
    return found


def test_parse_lines_reads_a_form(items):
    lines = catalogue.parse_lines(
        [(items["Beans"], " 12 "), ("", ""), (items["Soup"], str(QTY_MAX)), ("  ", " ")]
    )
    assert lines == [{"item": items["Beans"], "qty": 12}, {"item": items["Soup"], "qty": QTY_MAX}]


@pytest.mark.parametrize(
    "rows, message",
    [
        ([("f" * 64, "3")], "Please choose items from the catalogue."),
        ([("", "3")], "Please choose items from the catalogue."),
        ([("Old stock", "3")], "Please choose items from the catalogue."),
        ([("Beans", "2"), ("Beans", "3")], "Each item once, please: add the quantities together."),
        ([("Beans", "0")], "The quantity must be at least 1."),
        ([("Beans", "-3")], "The quantity must be at least 1."),
        ([("Beans", "ten")], "Please give a whole number, like 12."),
        ([("Beans", "2.5")], "Please give a whole number, like 12."),
        ([("Beans", "")], "Please give a whole number, like 12."),
        ([("Beans", str(QTY_MAX + 1))], "That is more than any one post can hold (100,000)."),
        ([], "Please add at least one item and how many."),
        ([("", ""), ("", "")], "Please add at least one item and how many."),
    ],
)
def test_parse_lines_refuses_bad_rows(items, rows, message):
    rows = [(items.get(item, item), qty) for item, qty in rows]
    with pytest.raises(InvalidInput) as excinfo:
        catalogue.parse_lines(rows)
    assert invalid_fields(excinfo) == {"lines": message}


def test_parse_lines_takes_at_most_thirty_items(box, staff):
    ids = [catalogue.add_item(box, staff, {**BEANS, "name": f"Item {n}"}) for n in range(31)]
    assert len(catalogue.parse_lines([(i, "1") for i in ids[:30]])) == 30
    with pytest.raises(InvalidInput) as excinfo:
        catalogue.parse_lines([(i, "1") for i in ids])
    assert invalid_fields(excinfo) == {
        "lines": "Please list at most 30 items; post again for more."
    }


def test_parse_quantity_names_its_field():
    assert catalogue.parse_quantity(" 7 ") == 7
    assert catalogue.parse_quantity(1) == 1
    with pytest.raises(InvalidInput) as excinfo:
        catalogue.parse_quantity(None, "qty")
    assert invalid_fields(excinfo) == {"qty": "Please give a whole number, like 12."}
    with pytest.raises(InvalidInput) as excinfo:
        catalogue.parse_quantity("100001", "claim")
    assert set(invalid_fields(excinfo)) == {"claim"}
