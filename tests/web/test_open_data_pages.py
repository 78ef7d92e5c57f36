"""The open data page, downloads and dumps as a visitor (not signed in) gets them:
labelled filters with their errors beside them, the column dictionary, CSV and JSON
with the dictionary's headers, JSON errors, the signed dumps, and nobody's name."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from pagetools import ADMIN, actor, new_post, record_count

from appliance.models import Member
from appliance.services import board, open_data, open_dump
from appliance.services.open_data_columns import COLUMNS, DATASETS

CONTACT = "alice.home@example.org"


@pytest.fixture
def posted(box, new_browser):
    """Alice's "somebody should" on High Street and need at the Hall; Bob is on the first."""
    alice = new_browser("Alice Walker", contact=CONTACT)
    bob = new_browser("Bob Byrne")
    should = new_post(
        alice, type="should", title="Mend the bench", place="High Street", category="local-fix"
    )
    need = new_post(alice, type="need", title="Chairs", place="Hall", category="household")
    board.offer_help(box, actor(box, "Bob Byrne"), should, "on_it")
    return {"should": should, "need": need, "browsers": (alice, bob)}


def fetch(browser, url: str):
    """GET url and return the response with its body read and the file it sent closed."""
    response = browser.client.get(url)
    response.get_data()
    response.close()
    return response


def labelled(page, control) -> bool:
    return page.find("label", for_=control.attrs["id"]) is not None


def test_the_page_explains_every_dataset_with_its_columns_and_links(browser, posted):
    page = browser.get("/open/data")
    assert page.one("h1").text() == "Open data"
    text = page.text()
    assert "nobody's name" in text and "nothing at all about rides" in text
    levels = [int(h.tag[1]) for h in page.find_all() if re.fullmatch(r"h[1-6]", h.tag or "")]
    assert levels[0] == 1 and all(b - a <= 1 for a, b in zip(levels, levels[1:], strict=False))
    form = page.one("form", action="/open/data", method="get")
    for name in ("place", "type", "category", "from", "to", "centre"):
        assert labelled(page, page.field(name)), name
        assert page.field(name).closest("form") is form
    links = page.links()
    for dataset in DATASETS:
        assert f"/open/data/{dataset}.csv" in links and f"/open/data/{dataset}.json" in links
        caption = page.find("section", **{"aria-labelledby": f"d-{dataset}"})
        shown = [th.text() for th in caption.find_all("th", scope="row")]
        assert shown == [name for name, _, _ in COLUMNS[dataset]]
    assert "/food/export" in links and "/open/data/dumps" in links
    assert "/open/data/columns.json" in links


def test_filters_carry_into_the_links_only_where_they_apply(browser, posted):
    page = browser.get("/open/data?place=High+Street&type=should&centre=here&to=2027-03-20")
    links = page.links()
    assert "/open/data/posts.csv?place=High+Street&type=should&to=2027-03-20&centre=here" in links
    assert "/open/data/should.csv?place=High+Street&to=2027-03-20&centre=here" in links
    assert "/open/data/moderation.json?to=2027-03-20&centre=here" in links
    assert "/open/data/places.csv?centre=here" in links
    assert page.field("type").value() == "should" and page.field("centre").value() == "here"


def test_a_bad_filter_shows_beside_its_field_and_is_left_out(browser, posted, box):
    before = record_count(box)
    page = browser.get("/open/data?from=yesterday&category=nope&place=Hall", status=400)
    assert "YYYY-MM-DD" in page.error_for("from")
    assert "no such category" in page.error_for("category")
    assert page.error_for("place") is None
    described = page.field("from").attrs["aria-describedby"]
    assert page.find(id=described) is not None and page.field("from").attrs["aria-invalid"]
    assert "/open/data/posts.csv?place=Hall" in page.links()
    page = browser.get("/open/data/should.csv?type=need&to=2027-01-01&from=2027-02-01", status=400)
    assert page.error_for("to") and page.error_for("type")
    assert record_count(box) == before


def test_csv_and_json_downloads_have_the_dictionary_headers(browser, posted, box):
    for dataset in DATASETS:
        response = browser.client.get(f"/open/data/{dataset}.csv")
        assert response.status_code == 200
        assert response.content_type == "text/csv; charset=utf-8"
        assert "attachment" in response.headers["Content-Disposition"]
        table = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
        assert table[0] == open_data.column_names(dataset)
        body = browser.client.get(f"/open/data/{dataset}.json").get_json()
        assert body["dataset"] == dataset and body["columns"] == table[0]
        assert set(body) == {"dataset", "generated", "filters", "columns", "rows"}
        assert len(body["rows"]) == len(table) - 1
    body = browser.client.get("/open/data/should.json?place=high+street").get_json()
    assert [r["id"] for r in body["rows"]] == [posted["should"]]
    assert body["filters"] == {"place": "high street"}
    assert body["rows"][0]["first_help"] is not None and body["rows"][0]["helper_count"] == 1


def test_json_errors_say_what_and_which_field(browser, posted, box):
    before = record_count(box)
    response = browser.client.get("/open/data/posts.json?from=2027-03-20&to=2027-03-01")
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] and set(body["fields"]) == {"to"}
    assert "before the start" in body["fields"]["to"]
    response = browser.client.get("/open/data/rides.json")
    assert response.status_code == 404 and "no such dataset" in response.get_json()["error"]
    assert browser.client.get("/open/data/rides.csv").status_code == 404
    assert record_count(box) == before


def test_the_column_dictionary_is_served_as_json(browser):
    body = browser.client.get("/open/data/columns.json").get_json()
    assert set(body["datasets"]) == set(DATASETS)
    for dataset, about in body["datasets"].items():
        assert [(c["name"], c["type"]) for c in about["columns"]] == [
            (name, type_) for name, type_, _ in COLUMNS[dataset]
        ]
        assert all(c["meaning"] and c["type"] in body["types"] for c in about["columns"])
        assert about["filters"] == list(DATASETS[dataset]["filters"])


def test_dumps_are_listed_served_and_explained(browser, posted, box):
    page = browser.get("/open/data/dumps")
    assert "no copy yet" in page.text()
    path = open_dump.write_dump(box)
    page = browser.get("/open/data/dumps")
    assert page.one("h1").text() == "Signed daily copies of the open data"
    assert box.origin in page.text()
    assert f"kith dump --verify {path.stem}.json" in page.text()
    assert "Ed25519PublicKey.from_public_bytes" in page.text()
    assert f"/open/data/dumps/{path.stem}.json" in page.links()
    data = fetch(browser, f"/open/data/dumps/{path.stem}.json")
    assert data.status_code == 200 and data.get_data() == path.read_bytes()
    assert data.content_type.startswith("application/json")
    sig = fetch(browser, f"/open/data/dumps/{path.stem}.sig")
    assert sig.status_code == 200 and sig.get_data() == path.with_suffix(".sig").read_bytes()
    front = browser.get("/open/data")
    assert f"/open/data/dumps/{path.stem}.sig" in front.links()
    for bad in ("kith-open-data-2020-01-01.json", "box.key", "..%2Fbox.key", "x.sig"):
        assert fetch(browser, f"/open/data/dumps/{bad}").status_code == 404, bad


def test_no_name_or_contact_in_any_public_output(browser, posted, box):
    open_dump.write_dump(box)
    staff = actor(box, ADMIN)
    board.add_comment(box, staff, posted["need"], "Call Alice Walker")
    names = [m.name for m in Member.select()] + [m.id for m in Member.select()]
    urls = ["/open/data", "/open/data/dumps", "/open/data/columns.json"]
    for dataset in DATASETS:
        urls += [f"/open/data/{dataset}.csv", f"/open/data/{dataset}.json"]
    urls += [f"/open/data/dumps/{d['name']}.json" for d in open_dump.list_dumps(box)]
    for url in urls:
        text = fetch(browser, url).get_data(as_text=True)
        for value in [*names, CONTACT, "Call Alice"]:
            assert value not in text, (url, value)
    assert json.loads(browser.client.get("/open/data/posts.json").get_data())["rows"]
