"""Exports of food bank data: rows, filters, the column dictionary, CSV and JSON parsed
back, no personal data, bad filters, and the export page and downloads over HTTP."""

from __future__ import annotations

import csv
import datetime
import io
import json
from dataclasses import dataclass

import pytest
from boxes import member, record_count, trust
from recordmaker import Origin

from appliance.errors import InvalidInput, NotFound
from appliance.models import Member
from appliance.services import catalogue, food, food_export, moderation, orgs, shifts
from appliance.services.accounts import Actor
from web import create_app

DAY_MS = 86_400_000
DATASETS = ("needs", "supplies", "pledges", "shifts")


@dataclass
class Food:
    """A small food bank world on one box (clock at 2026-01-01 12:00 UTC)."""

    olu: Actor
    elm: str
    mill: str
    shop: str
    beans: str
    pasta: str
    nappies: str
    need: str
    task: str
    nappy_need: str
    hidden: str
    supply: str
    shift: str
    mill_shift: str
    pledges: dict[str, str]
    peer_pledge: str
    claim: str


def _org(box, staff, name, type_, place):
    return orgs.create_org(box, staff, {"name": name, "type": type_, "place": place})


def _item(box, staff, name, category, unit):
    return catalogue.add_item(box, staff, {"name": name, "category": category, "unit": unit})


def _shift(box, organiser, org, date, people):
    data = {"org": org, "title": f"Sorting {date}", "date": date, "start": "09:30"}
    data.update(end="12:00", place="", people=str(people), bring="Gloves")
    return shifts.create_shift(box, organiser, data)


@pytest.fixture
def world(box, staff, alice, bob, clock) -> Food:
    elm = _org(box, staff, "Elm Food Bank", "foodbank", "Elm Road")
    mill = _org(box, staff, "Mill Pantry", "foodbank", "Mill Lane")
    shop = _org(box, staff, "Corner Shop", "shop", "High Street")
    olu = member(box, "Olu Organiser")
    sam = member(box, "Sam Shopkeeper")
    for org, person in ((elm, olu), (mill, olu), (shop, sam)):
        orgs.set_org_role(box, staff, org, person.id, "organiser")
    beans = _item(box, staff, "Baked beans", "tins", "items")
    pasta = _item(box, staff, "Pasta", "dry", "packs")
    nappies = _item(box, staff, "Nappies", "baby", "packs")

    # 2026-01-01: Elm needs beans and pasta; a volunteer task; a need staff will hide.
    need = food.create_need(
        box,
        olu,
        {"org": elm, "title": "=2+2 tins please", "details": "", "needed_by": "2026-01-10"},
        [(beans, "25"), (pasta, "10")],
    )
    clock.advance(60_000)  # the rest a minute later, so the order by time is plain
    task = food.create_need(
        box,
        olu,
        {"org": elm, "title": "Drivers on Saturday", "needed_by": "2026-01-03", "task": "1"},
        [],
    )
    hidden = food.create_need(
        box,
        olu,
        {"org": elm, "title": "Spam", "details": "", "needed_by": "2026-01-10"},
        [(pasta, "3")],
    )
    supply = food.create_supply(
        box,
        sam,
        {"org": shop, "title": "Beans near their date", "details": "", "use_by": "2026-02-01"},
        [(beans, "40")],
    )
    pledges = {
        "alice": food.pledge(box, alice, need, beans, "20", "2026-01-05"),
        "bob": food.pledge(box, bob, need, pasta, "4"),
        "hidden": food.pledge(box, alice, hidden, pasta, "1"),
    }
    claim = food.claim(box, olu, supply, elm, beans, "30")
    moderation.set_post_hidden(box, staff, hidden, True, "Posted twice")

    # A member at a peer box pledged 15 beans while apart: only 5 of them count here.
    peer = Origin("peer", start_ms=clock.ms + 1000)
    trust(box, peer)
    pat = peer.make("member.joined", {"name": "Pat Peer"})
    peer_pledge = peer.make(
        "pledge.made", {"item": beans, "qty": 15, "bring_on": None}, subject=need, author=pat.id
    )

    shift = _shift(box, olu, elm, "2026-01-03", 2)
    shifts.join(box, alice, shift)
    shifts.join(box, bob, shift)
    joined = peer.make("shift.joined", {}, subject=shift, author=pat.id)  # a third, apart
    assert box.log.ingest([pat.line, peer_pledge.line, joined.line]).ok

    # 2026-01-03: Mill needs nappies; Mill has a shift on the 6th.
    clock.advance(2 * DAY_MS)
    nappy_need = food.create_need(
        box,
        olu,
        {"org": mill, "title": "Nappies", "details": "", "needed_by": "2026-01-09"},
        [(nappies, "6")],
    )
    pledges["nappies"] = food.pledge(box, alice, nappy_need, nappies, "2")
    mill_shift = _shift(box, olu, mill, "2026-01-06", 3)
    return Food(
        olu=olu,
        elm=elm,
        mill=mill,
        shop=shop,
        beans=beans,
        pasta=pasta,
        nappies=nappies,
        need=need,
        task=task,
        nappy_need=nappy_need,
        hidden=hidden,
        supply=supply,
        shift=shift,
        mill_shift=mill_shift,
        pledges=pledges,
        peer_pledge=peer_pledge.id,
        claim=claim,
    )


def rows(box, dataset, **args) -> list[dict]:
    return food_export.export(box, dataset, args).rows


def csv_rows(box, dataset, **args) -> tuple[list[str], list[dict]]:
    """Render a dataset as CSV and read it back with the csv module: (header, rows)."""
    text = food_export.as_csv(food_export.export(box, dataset, args))
    assert text.startswith("\ufeff")
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    return list(reader.fieldnames), list(reader)


# --- the rows ------------------------------------------------------------------------


def test_needs_have_a_row_per_item_with_what_is_missing(box, world):
    needs = rows(box, "needs")
    by_line = {(r["need"], r["item"]): r for r in needs}
    assert set(by_line) == {
        (world.need, "Baked beans"),
        (world.need, "Pasta"),
        (world.task, None),  # a volunteer task: one row, no items
        (world.nappy_need, "Nappies"),
    }
    beans = by_line[(world.need, "Baked beans")]
    assert beans == {
        "need": world.need,
        "title": "=2+2 tins please",
        "org_id": world.elm,
        "org": "Elm Food Bank",
        "org_centre": "Test Centre",
        "item": "Baked beans",
        "category": "tins",
        "unit": "items",
        "qty": 25,
        "covered": 25,  # Alice's 20 and 5 of the peer's 15
        "missing": 0,
        "needed_by": "2026-01-10",
        "status": "open",  # pasta is still short
        "created": "2026-01-01T12:00:00+00:00",
    }
    pasta = by_line[(world.need, "Pasta")]
    assert (pasta["qty"], pasta["covered"], pasta["missing"]) == (10, 4, 6)
    task = by_line[(world.task, None)]
    assert (task["qty"], task["covered"], task["missing"], task["category"]) == (None,) * 4
    assert by_line[(world.nappy_need, "Nappies")]["created"] == "2026-01-03T12:01:00+00:00"
    # Oldest first, and a post's lines in the order it lists them.
    assert [r["need"] for r in needs] == [world.need, world.need, world.task, world.nappy_need]


def test_supplies_show_offered_claimed_and_left(box, world):
    assert rows(box, "supplies") == [
        {
            "supply": world.supply,
            "title": "Beans near their date",
            "org_id": world.shop,
            "org": "Corner Shop",
            "org_centre": "Test Centre",
            "place": "High Street",
            "item": "Baked beans",
            "category": "tins",
            "unit": "items",
            "offered": 40,
            "claimed": 30,
            "left": 10,
            "use_by": "2026-02-01",
            "status": "open",
            "created": "2026-01-01T12:01:00+00:00",
        }
    ]


def test_pledges_show_what_counts_and_claims_their_organisation(box, world):
    pledges = {r["id"]: r for r in rows(box, "pledges")}
    assert set(pledges) == {
        world.pledges["alice"],
        world.pledges["bob"],
        world.pledges["nappies"],
        world.peer_pledge,
        world.claim,
    }  # not the pledge on the hidden need
    assert pledges[world.peer_pledge] == {
        "id": world.peer_pledge,
        "post": world.need,
        "kind": "pledge",
        "org_id": world.elm,
        "org": "Elm Food Bank",
        "item": "Baked beans",
        "category": "tins",
        "unit": "items",
        "qty": 15,
        "counted": 5,  # the line lacked only 5 when its turn came
        "bring_on": None,
        "date": "2026-01-01",
        "claim_org_id": None,
        "claim_org": None,
    }
    assert pledges[world.pledges["alice"]]["bring_on"] == "2026-01-05"
    claim = pledges[world.claim]
    assert (claim["kind"], claim["org"], claim["claim_org_id"], claim["claim_org"]) == (
        "claim",
        "Corner Shop",
        world.elm,
        "Elm Food Bank",
    )
    assert (claim["qty"], claim["counted"]) == (30, 30)
    assert pledges[world.pledges["nappies"]]["date"] == "2026-01-03"


def test_shifts_have_times_with_their_zone_and_who_is_coming_in_numbers(box, world):
    shift_rows = rows(box, "shifts")
    assert [r["id"] for r in shift_rows] == [world.shift, world.mill_shift]
    elm = shift_rows[0]
    assert elm == {
        "id": world.shift,
        "org_id": world.elm,
        "org": "Elm Food Bank",
        "org_centre": "Test Centre",
        "title": "Sorting 2026-01-03",
        "start": "2026-01-03T09:30:00+00:00",
        "end": "2026-01-03T12:00:00+00:00",
        "place": "Elm Road",
        "bring": "Gloves",
        "people": 2,
        "coming": 2,
        "waiting": 1,  # the peer's volunteer, who signed up while apart
        "cancelled": False,
    }
    start = datetime.datetime.fromisoformat(elm["start"])
    assert start.utcoffset() is not None
    assert start == datetime.datetime(2026, 1, 3, 9, 30, tzinfo=datetime.UTC)


def test_times_are_in_the_centres_zone_in_summer_too(box, world, clock):
    clock.advance(180 * DAY_MS)  # 2026-07-02: London is on summer time
    summer = _shift(box, world.olu, world.elm, "2026-07-04", 1)
    row = next(r for r in rows(box, "shifts") if r["id"] == summer)
    assert (row["start"], row["end"]) == ("2026-07-04T09:30:00+01:00", "2026-07-04T12:00:00+01:00")


# --- filters -------------------------------------------------------------------------


def test_bank_filter_keeps_one_organisations_rows(box, world):
    assert {r["need"] for r in rows(box, "needs", bank=world.mill)} == {world.nappy_need}
    assert rows(box, "supplies", bank=world.elm) == []
    assert [r["supply"] for r in rows(box, "supplies", bank=world.shop)] == [world.supply]
    # Pledges on the bank's needs, and claims made for it on others' supplies.
    elm_pledges = {r["id"] for r in rows(box, "pledges", bank=world.elm)}
    assert elm_pledges == {
        world.pledges["alice"],
        world.pledges["bob"],
        world.peer_pledge,
        world.claim,
    }
    assert {r["id"] for r in rows(box, "pledges", bank=world.shop)} == {world.claim}
    assert [r["id"] for r in rows(box, "shifts", bank=world.mill)] == [world.mill_shift]


def test_category_filter_keeps_items_of_that_category(box, world):
    tins = rows(box, "needs", category="tins")
    assert [(r["need"], r["item"]) for r in tins] == [(world.need, "Baked beans")]
    assert rows(box, "needs", category="pet") == []
    assert [r["item"] for r in rows(box, "pledges", category="baby")] == ["Nappies"]
    assert [r["supply"] for r in rows(box, "supplies", category="tins")] == [world.supply]


def test_date_filters_use_the_posting_day_and_the_shift_start(box, world):
    later = {r["need"] for r in rows(box, "needs", **{"from": "2026-01-02"})}
    assert later == {world.nappy_need}
    first_day = {
        r["need"] for r in rows(box, "needs", **{"from": "2026-01-01", "to": "2026-01-01"})
    }
    assert first_day == {world.need, world.task}
    assert {r["id"] for r in rows(box, "pledges", to="2026-01-02")} == {
        world.pledges["alice"],
        world.pledges["bob"],
        world.peer_pledge,
        world.claim,
    }
    assert rows(box, "supplies", **{"from": "2026-01-02"}) == []
    # Shifts by when they start: the Mill shift on the 6th, though planned on the 3rd.
    assert [r["id"] for r in rows(box, "shifts", **{"from": "2026-01-04"})] == [world.mill_shift]
    assert [r["id"] for r in rows(box, "shifts", to="2026-01-03")] == [world.shift]


def test_filters_combine(box, world):
    picked = rows(box, "needs", bank=world.elm, category="dry", to="2026-01-01")
    assert [(r["need"], r["item"]) for r in picked] == [(world.need, "Pasta")]


@pytest.mark.parametrize(
    "dataset, args, field, words",
    [
        ("needs", {"bank": "nope"}, "bank", "no such organisation"),
        ("needs", {"category": "sweets"}, "category", "no such item category"),
        ("pledges", {"from": "1/2/2026"}, "from", "YYYY-MM-DD"),
        ("supplies", {"to": "2026-02-30"}, "to", "YYYY-MM-DD"),
        ("needs", {"from": "2026-02-01", "to": "2026-01-01"}, "to", "before the start"),
        ("shifts", {"category": "tins"}, "category", "Shifts have no items"),
    ],
)
def test_bad_filters_are_refused_with_a_clear_message(box, world, dataset, args, field, words):
    before = record_count()
    with pytest.raises(InvalidInput) as refused:
        food_export.export(box, dataset, args)
    assert list(refused.value.fields) == [field]
    assert words in refused.value.fields[field]
    assert record_count() == before


def test_an_unknown_dataset_is_not_found(box, world):
    with pytest.raises(NotFound, match="no such export"):
        food_export.export(box, "members", {})


# --- the files -----------------------------------------------------------------------


@pytest.mark.parametrize("dataset", DATASETS)
def test_column_dictionary_matches_the_csv_and_json_headers(box, world, dataset):
    names = [name for name, _meaning in food_export.COLUMNS[dataset]]
    assert len(set(names)) == len(names)
    assert all(meaning.strip() for _name, meaning in food_export.COLUMNS[dataset])
    header, parsed = csv_rows(box, dataset)
    assert header == names
    data = json.loads(json.dumps(food_export.as_json(food_export.export(box, dataset, {}))))
    assert data["dataset"] == dataset and data["columns"] == names
    assert data["rows"], f"{dataset} has rows to check"
    assert all(list(row) == names for row in data["rows"])
    assert len(parsed) == len(data["rows"])


def test_csv_reads_back_the_same_values_as_json(box, world):
    header, parsed = csv_rows(box, "needs")
    data = food_export.as_json(food_export.export(box, "needs", {}))
    for text_row, row in zip(parsed, data["rows"], strict=True):
        for name in header:
            value = row[name]
            expected = "" if value is None else str(value)
            if name == "title" and value.startswith("="):
                expected = "'" + value  # a spreadsheet must not run it as a formula
            assert text_row[name] == expected, name
    _header, shift_rows = csv_rows(box, "shifts")
    assert [r["cancelled"] for r in shift_rows] == ["false", "false"]


def test_exports_hold_no_member_names_or_ids(box, world):
    people = list(Member.select())
    assert len(people) >= 6  # staff, Alice, Bob, the organisers, the peer's volunteer
    for dataset in DATASETS:
        data = food_export.export(box, dataset, {})
        texts = food_export.as_csv(data) + json.dumps(food_export.as_json(data))
        for person in people:
            assert person.id not in texts, (dataset, person.name)
            assert person.name not in texts, (dataset, person.name)


def test_filename_carries_the_dataset_and_the_date(box, world):
    assert food_export.filename(box, "pledges", "csv") == "kith-food-pledges-2026-01-03.csv"


# --- the page and the downloads --------------------------------------------------------


@pytest.fixture
def client(box):
    return create_app(box, {"TESTING": True}).test_client()


def test_export_page_lists_every_dataset_with_its_columns_and_filters(client, world):
    response = client.get("/food/export")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for dataset in DATASETS:
        assert f"/food/export/{dataset}.csv" in page
        assert f"/food/export/{dataset}.json" in page
        for name, _meaning in food_export.COLUMNS[dataset]:
            assert f"<code>{name}</code>" in page
    for name in ("bank", "category", "from", "to"):
        assert f'<label for="{name}">' in page and f'id="{name}" name="{name}"' in page
    assert "Elm Food Bank (Test Centre)" in page


def test_export_page_carries_the_filters_into_the_download_links(client, world):
    page = client.get(f"/food/export?bank={world.elm}&category=tins").get_data(as_text=True)
    assert f"/food/export/needs.csv?bank={world.elm}&amp;category=tins" in page
    assert f'/food/export/shifts.csv?bank={world.elm}"' in page  # shifts have no category


def test_export_page_shows_a_bad_filter_next_to_its_field(client, world):
    response = client.get("/food/export?from=soon")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="e-from"' in page and 'aria-describedby="e-from"' in page
    assert "Please give the date as YYYY-MM-DD" in page


def test_csv_download_is_an_attachment_with_a_dated_name(client, world):
    response = client.get("/food/export/needs.csv?category=tins")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="kith-food-needs-2026-01-03.csv"'
    )
    reader = csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"), newline=""))
    assert [(r["need"], r["item"], r["missing"]) for r in reader] == [
        (world.need, "Baked beans", "0")
    ]


def test_json_download_parses_back(client, world):
    response = client.get(f"/food/export/shifts.json?bank={world.elm}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    data = response.get_json()
    assert data["dataset"] == "shifts"
    assert data["filters"] == {"bank": world.elm}
    assert data["columns"] == [name for name, _ in food_export.COLUMNS["shifts"]]
    assert [(r["id"], r["coming"], r["waiting"]) for r in data["rows"]] == [(world.shift, 2, 1)]


def test_bad_filter_downloads_answer_400_with_the_reason(client, world, box):
    before = record_count()
    response = client.get("/food/export/needs.json?category=sweets&to=2026-13-01")
    assert response.status_code == 400
    error = response.get_json()
    assert "category: There is no such item category" in error["error"]
    assert set(error["fields"]) == {"category", "to"}
    page = client.get("/food/export/needs.csv?bank=nope")
    assert page.status_code == 400
    assert page.headers["Content-Type"].startswith("text/html")
    assert "There is no such organisation" in page.get_data(as_text=True)
    assert record_count() == before


def test_unknown_datasets_and_formats_are_404(client, world):
    assert client.get("/food/export/members.csv").status_code == 404
    missing = client.get("/food/export/members.json")
    assert missing.status_code == 404 and "no such export" in missing.get_json()["error"]
    assert client.get("/food/export/needs.xml").status_code == 404
