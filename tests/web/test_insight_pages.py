"""The insight pages as a visitor and as staff see them: the "somebody should" page with
its filters, charts and tables, each table's CSV equal to it, small counts suppressed
for the public and exact for staff, bad filters answered with a 400 page naming each
field, self-contained SVG, the overview of every area, and no member's name anywhere.

The posts (the web tests' clock: Wednesday 2027-03-17 12:00 UTC, London on GMT):
three "local fixes" at Mill Lane on Monday 22 to Wednesday 24 March, each offered help
after 2, 4 and 6 hours and resolved after 10, 20 and 30 hours; one "household" post at
Park Road the same Monday, still open. The pages are read on Wednesday 31 March.
"""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET

import pytest
from pagetools import ADMIN, DAY_MS, PASSWORD, actor, record_count

from appliance.services import accounts, board, should_insight

HOUR_MS = 3_600_000
SVG_NS = "http://www.w3.org/2000/svg"
NAMESPACES = {SVG_NS, "http://www.w3.org/1999/xlink"}
POSTER, HELPER = "Alice Walker", "Bob Jones"
NAMES = (POSTER, HELPER)


def _at(clock, ms: int) -> None:
    assert ms >= clock.ms
    clock.ms = ms


@pytest.fixture
def posts(box, clock):
    """Make the posts above; the clock ends at Wednesday 31 March, noon."""
    start = clock.ms
    poster = accounts.actor_for(box, accounts.sign_up(box, POSTER, PASSWORD))
    helper = accounts.actor_for(box, accounts.sign_up(box, HELPER, PASSWORD))
    monday = start + 5 * DAY_MS  # Monday 2027-03-22 12:00
    _at(clock, monday - HOUR_MS)
    household = {"type": "should", "title": "Fridge dumped", "details": "", "needed_by": ""}
    ids = [
        board.create_post(box, poster, {**household, "category": "household", "place": "Park Road"})
    ]
    events = []
    for n, (helped, resolved) in enumerate([(2, 10), (4, 20), (6, 30)]):
        created = monday + n * DAY_MS
        events += [(created, "post", n), (created + helped * HOUR_MS, "help", n)]
        events.append((created + resolved * HOUR_MS, "resolve", n))
    fixes = {}
    for when, what, n in sorted(events):
        _at(clock, when)
        if what == "post":
            data = {"type": "should", "title": f"Pothole {n}", "details": "", "needed_by": ""}
            fixes[n] = board.create_post(
                box, poster, {**data, "category": "local-fix", "place": "Mill Lane"}
            )
        elif what == "help":
            board.offer_help(box, helper, fixes[n], "on_it")
        else:
            board.resolve(box, poster, fixes[n])
    _at(clock, start + 14 * DAY_MS)
    return ids + list(fixes.values())


def table_rows(page, name) -> list[list[str]]:
    """Return a table's header and body rows as text (a "nothing" row left out)."""
    table = page.one("table", id=f"table-{name}")
    rows = [
        [c.text() for c in tr.find_all() if c.tag in ("th", "td")] for tr in table.find_all("tr")
    ]
    return [r for r in rows if len(r) == len(rows[0])]


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def facts(dl) -> dict[str, str]:
    """Return a description list as {term: description}."""
    return dict(
        zip(
            (d.text() for d in dl.find_all("dt")),
            (d.text() for d in dl.find_all("dd")),
            strict=True,
        )
    )


def category_row(page, label) -> list[str]:
    return next(r for r in table_rows(page, "categories") if r[0] == label)


# --- the page, public and for staff ---------------------------------------------------------


def test_public_page_suppresses_small_counts(browser, posts):
    page = browser.get("/insight/should")
    assert page.one("h1").text() == "Somebody should: what goes wrong where"
    assert category_row(page, "Local fixes") == [
        "Local fixes", "3", "3", "3", "4 hours", "5 hours", "20 hours", "25 hours",
    ]  # fmt: skip
    assert category_row(page, "Household items")[1:4] == ["fewer than 3", "0", "0"]
    assert table_rows(page, "places")[1:] == [
        ["Mill Lane", "3", "3"],
        ["Park Road", "fewer than 3", "0"],
    ]
    assert [r[0] for r in table_rows(page, "unresolved")[1:]] == ["Fridge dumped"]
    link = page.one("table", id="table-unresolved").one("a")
    assert link.attrs["href"] == f"/posts/{posts[0]}"
    assert facts(page.one("dl", class_="totals")) == {
        "Reported": "4",
        "Resolved": "3 (75%)",
        "Median time to a first offer of help": "4 hours",
        "Median time to resolution": "20 hours",
    }


def test_staff_see_exact_figures_on_the_same_page(staff_client, posts):
    page = staff_client.get("/insight/should")
    assert category_row(page, "Household items")[1:4] == ["1", "0", "0"]
    assert table_rows(page, "places")[2] == ["Park Road", "1", "0"]
    assert "You are staff" in page.text()


@pytest.mark.parametrize("name", should_insight.TABLES)
def test_each_csv_equals_its_table(browser, staff_client, posts, name):
    for who in (browser, staff_client):
        page = who.get("/insight/should?scope=all")
        href = next(a for a in page.links() if a.startswith(f"/insight/should/{name}.csv"))
        assert "scope=all" in href
        assert csv_rows(who.client.get(href)) == table_rows(page, name)


def test_filters_carry_to_the_charts_and_downloads(browser, posts):
    page = browser.get("/insight/should?place=mill+lane&category=local-fix")
    assert page.field("place").value() == "Mill Lane"
    assert page.field("category").value() == "local-fix"
    assert table_rows(page, "places")[1:] == [["Mill Lane", "3", "3"]]
    for img in page.find_all("img"):
        assert "place=Mill+Lane" in img.attrs["src"] and "category=local-fix" in img.attrs["src"]


# --- bad filters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("category=nope", "category", "There is no such category."),
        ("place=Atlantis", "place", "No “somebody should” was ever posted at that place."),
        ("from=17-03-2027", "from", "Please give the date as YYYY-MM-DD."),
        ("from=2027-03-10&to=2027-03-01", "to", "The end date is before the start date."),
        ("from=2024-01-01&to=2027-03-01", "to", "Please choose dates at most 2 years apart."),
        ("scope=everywhere", "scope", "Please choose this centre or all centres."),
    ],
)
def test_bad_filters_answer_400_with_the_error_beside_the_field(
    box, browser, posts, query, field, message
):
    before = record_count(box)
    page = browser.get(f"/insight/should?{query}", status=400)
    assert page.error_for(field) == message
    control = page.field(field)
    assert control.attrs["aria-describedby"] == f"e-{field}"
    assert control.attrs["aria-invalid"] == "true"
    # The default figures still show below.
    assert category_row(page, "Local fixes")[1] == "3"
    for url in (f"/insight/should/places.csv?{query}", f"/insight/should/weeks.svg?{query}"):
        assert browser.client.get(url).status_code == 400
    assert record_count(box) == before


def test_unknown_tables_and_charts_are_not_found(browser):
    assert browser.client.get("/insight/should/members.csv").status_code == 404
    assert browser.client.get("/insight/should/members.svg").status_code == 404


# --- charts -------------------------------------------------------------------------------------


@pytest.mark.parametrize("chart", should_insight.CHARTS)
def test_charts_are_svg_that_ask_nothing_of_other_hosts(browser, posts, chart):
    response = browser.client.get(f"/insight/should/{chart}.svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    svg = response.get_data(as_text=True)
    root = ET.fromstring(svg)
    assert root.tag == f"{{{SVG_NS}}}svg"
    assert "<script" not in svg and "<!--" not in svg
    assert set(re.findall(r"(?:https?:)?//[^\s\"'<>)]+", svg)) <= NAMESPACES
    for node in root.iter():
        for value in node.attrib.values():
            assert (
                not value.strip().startswith(("http", "//", "javascript:")) or value in NAMESPACES
            )
    assert not any(name in svg for name in NAMES)
    again = browser.client.get(
        f"/insight/should/{chart}.svg", headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 304


def test_the_page_names_nobody(browser, staff_client, posts):
    for who in (browser, staff_client):
        urls = ["/insight", "/insight/should", "/insight/should?scope=all"]
        urls += [f"/insight/should/{t}.csv" for t in should_insight.TABLES]
        for url in urls:
            response = who.client.get(url)
            assert response.status_code == 200, url
            text = response.get_data(as_text=True)
            if url.endswith(".csv"):
                body = text
            else:
                body = text.split('<main id="main"', 1)[1]  # staff's own name is in the header
            assert not any(name in body for name in NAMES), url
            assert ADMIN not in re.sub(r"<[^>]+>", " ", body).split(), url


# --- the overview -------------------------------------------------------------------------------


def test_overview_for_visitors_and_staff(box, browser, staff_client, posts, new_browser):
    page = browser.get("/insight")
    assert facts(page.one("dl", id="should-figures")) == {
        "Reported": "4",
        "Resolved": "3",
        "Median time to resolution": "20 hours",
    }
    assert page.find("dl", id="food-figures") is not None
    assert page.find("dl", id="travel-figures") is None
    links = page.links()
    for href in ("/insight/should", "/food/trends", "/food/balance"):
        assert href in links
    assert "/travel/insight" not in links

    member = new_browser("Carol Member")
    assert member.get("/insight").find("dl", id="travel-figures") is None

    staff_page = staff_client.get("/insight")
    assert staff_page.find("dl", id="travel-figures") is not None
    assert "/travel/insight" in staff_page.links()
    assert staff_client.get("/travel/insight").status == 200


def test_overview_suppresses_small_food_counts_for_visitors(box, browser, staff_client):
    from appliance.services import catalogue, orgs

    staff = actor(box, ADMIN)
    org = orgs.create_org(box, staff, {"name": "Hill Bank", "type": "foodbank", "place": "Hill"})
    item = catalogue.add_item(box, staff, {"name": "Beans", "category": "tins", "unit": "items"})
    body = {"type": "need", "title": "Tins", "details": "", "category": "food", "place": "Hill"}
    box.log.append(
        "post.created",
        {**body, "needed_by": None, "org": org, "lines": [{"item": item, "qty": 4}]},
        author=staff.id,
    )
    visitor = facts(browser.get("/insight").one("dl", id="food-figures"))
    assert visitor["Needs still open"] == "fewer than 3"
    exact = facts(staff_client.get("/insight").one("dl", id="food-figures"))
    assert exact["Needs still open"] == "1"
