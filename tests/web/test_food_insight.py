"""The balance, trends and appeal pages as a visitor sees them: matches with links, filters
with their errors beside them, charts as self-contained SVG, the poster with its QR code,
and no person's name anywhere."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import pytest
from pagetools import ADMIN, DAY_MS, Page, actor, record_count

from appliance.services import catalogue, kiosk, orgs

HOUR_MS = 3_600_000
SVG_NS = "http://www.w3.org/2000/svg"
NAMESPACES = {SVG_NS, "http://www.w3.org/1999/xlink"}
LAN_IP = "192.168.1.20"


@pytest.fixture(autouse=True)
def _lan(monkeypatch):
    """The box's LAN address, as the kernel would report it (no socket is opened)."""
    monkeypatch.setattr(kiosk, "lan_ip", lambda: LAN_IP)


class Food:
    """Organisations, items and food posts, made as their records (services of H1 aside)."""

    def __init__(self, box):
        self.box = box
        self.staff = actor(box, ADMIN)
        self.orgs: dict[str, str] = {}
        self.items: dict[str, str] = {}

    def org(self, name, type="foodbank", place="Hill Road") -> str:
        data = {"name": name, "type": type, "place": place}
        self.orgs[name] = orgs.create_org(self.box, self.staff, data)
        return self.orgs[name]

    def item(self, name, category="tins", unit="items") -> str:
        data = {"name": name, "category": category, "unit": unit}
        self.items[name] = catalogue.add_item(self.box, self.staff, data)
        return self.items[name]

    def post(self, type, org, lines, title, needed_by=None) -> str:
        body = {
            "type": type,
            "title": title,
            "details": "",
            "category": "food",
            "place": "Hill Road",
            "needed_by": needed_by,
            "org": self.orgs[org],
            "lines": [{"item": self.items[i], "qty": q} for i, q in lines],
        }
        return self.box.log.append("post.created", body, author=self.staff.id).id


@pytest.fixture
def food(box):
    f = Food(box)
    f.org("Hilltop Food Bank", place="12 Hill Road")
    f.org("Valley Pantry", place="Valley Hall")
    f.org("Riverside Shop", "shop", "Riverside")
    f.item("Baked beans")
    f.item("Pasta", "dry", "packs")
    return f


def text_of(page: Page, tag: str, **attrs) -> str:
    return page.one(tag, **attrs).text()


def cells(table) -> list[list[str]]:
    """The text of a table body's cells, row by row."""
    return [
        [c.text() for c in tr.children if getattr(c, "tag", None) in ("th", "td")]
        for tr in table.one("tbody").find_all("tr")
    ]


# --- the balance ----------------------------------------------------------------------------


def test_the_balance_shows_matches_with_links_to_both_posts(browser, food, new_browser):
    offer = food.post("offer", "Riverside Shop", [("Baked beans", 40)], "Dented tins")
    wanted = food.post("need", "Hilltop Food Bank", [("Baked beans", 25)], "Tins for Friday")
    food.post("need", "Valley Pantry", [("Pasta", 10)], "Pasta please")

    page = browser.get("/food/balance")
    assert page.one("h1").text() == "Need and surplus across the area"
    [match] = page.find_all("li", class_="match")
    assert match.one("p", class_="match-sentence").text() == (
        "Riverside Shop has 40 × Baked beans on offer; Hilltop Food Bank needs 25."
    )
    hrefs = [a.attrs["href"] for a in match.find_all("a")]
    assert hrefs == [f"/posts/{offer}", f"/posts/{wanted}"]
    tins = page.one("section", aria_labelledby="cat-tins")
    assert tins.one("h3").text() == "Tins and jars"
    assert cells(tins.find_all("table")[0]) == [
        ["Hilltop Food Bank", "25 items", "–"],
        ["Riverside Shop", "–", "40 items"],
    ]
    assert "15 spare" in tins.one("ul", class_="balance-line").text()
    dry = page.one("section", aria_labelledby="cat-dry")
    assert "10 short" in dry.one("ul", class_="balance-line").text()
    assert "Nothing needed or on offer in:" in page.text()


def test_the_balance_narrows_to_one_organisation(browser, food):
    food.post("offer", "Riverside Shop", [("Baked beans", 40)], "Dented tins")
    food.post("need", "Hilltop Food Bank", [("Baked beans", 25)], "Tins for Friday")
    food.post("need", "Valley Pantry", [("Baked beans", 5)], "A few tins")

    page = browser.get("/food/balance")
    assert len(page.find_all("li", class_="match")) == 2
    page = browser.get(f"/food/balance?org={food.orgs['Valley Pantry']}")
    assert page.one("h2", id="matches-h").text() == "Matches for Valley Pantry"
    [match] = page.find_all("li", class_="match")
    assert "Valley Pantry needs 5" in match.text()
    assert page.field("org").value() == food.orgs["Valley Pantry"]


def test_an_unknown_organisation_is_said_beside_the_filter(browser, food, box):
    before = record_count(box)
    page = browser.get("/food/balance?org=nonsense", status=400)
    assert page.error_for("org") == "There is no such organisation."
    assert page.field("org").attrs["aria-describedby"] == "e-org"
    assert page.one("h2", id="matches-h").text() == "Matches to act on"  # the rest still shows
    assert record_count(box) == before


def test_an_empty_box_shows_empty_pages_not_errors(browser):
    for url in ("/food/balance", "/food/trends", "/food/appeal", "/food/appeal/poster"):
        page = browser.get(url)
        assert page.one("h1").text(), url
    assert "Nothing is needed or on offer right now." in browser.get("/food/balance").text()
    assert "Nothing is missing right now" in browser.get("/food/appeal").text()


# --- trends and charts -------------------------------------------------------------------------


def test_trends_put_warnings_first_and_give_each_chart_a_table(browser, food, clock, box):
    start = clock.ms
    for week in range(8):
        clock.ms = start + week * 7 * DAY_MS
        for n in range(3):
            clock.advance(HOUR_MS)
            qty = 10 if week < 6 else 40
            food.post("need", "Hilltop Food Bank", [("Baked beans", qty)], f"Tins {week}.{n}")
    clock.advance(HOUR_MS)
    page = browser.get("/food/trends?category=tins")
    sections = page.one("main").find_all("section")
    assert sections[0].attrs["class"] == "warnings"
    [warning] = sections[0].find_all("li", class_="warning")
    assert warning.one("strong").text() == "More Tins and jars being asked for"
    assert "About 120 a week over the last 2 weeks, against 30 a week" in warning.text()

    figures = page.find_all("figure", class_="chart")
    assert [urlsplit(f.one("img").attrs["src"]).path for f in figures] == [
        "/food/trends/demand-tins.svg",
        "/food/trends/labour.svg",
    ]
    for f in figures:
        assert "table below" in f.one("img").attrs["alt"]
    rows = cells(page.find_all("table")[0])
    assert len(rows) == 12
    assert [r[1:] for r in rows[:3]] == [["120", "0"], ["120", "0"], ["30", "0"]]  # newest first
    assert rows[0][0] == "Mon 3 May"
    assert page.field("category").value() == "tins"


def test_small_counts_are_shown_as_fewer_than_three(browser, food, clock):
    food.post("need", "Hilltop Food Bank", [("Baked beans", 7)], "Just one")
    page = browser.get("/food/trends")
    newest = page.find_all("table")[0].one("tbody").find_all("tr")[0]
    assert newest.find_all("td")[0].text() == "fewer than 3"
    assert "7" not in newest.text()
    svg = browser.client.get("/food/trends/demand.svg").get_data(as_text=True)
    assert "fewer than 3 posts: not drawn" in svg
    labels = [t.text for t in ET.fromstring(svg).iter(f"{{{SVG_NS}}}text")]
    assert any(label and label.endswith("*") for label in labels)


def test_a_short_week_lists_its_shifts_without_naming_volunteers(
    browser, food, box, clock, new_browser
):
    new_browser("Zebedee Volunteer")
    body = {
        "org": food.orgs["Hilltop Food Bank"],
        "title": "Saturday sort",
        "start": clock.ms + 3 * DAY_MS,
        "end": clock.ms + 3 * DAY_MS + 3 * HOUR_MS,
        "place": "12 Hill Road",
        "people": 6,
        "bring": "",
    }
    shift = box.log.append("shift.created", body, author=food.staff.id).id
    volunteer = actor(box, "Zebedee Volunteer")
    box.log.append("shift.joined", {}, subject=shift, author=volunteer.id)
    page = browser.get("/food/trends")
    [warning] = page.one("section", class_="warnings").find_all("li", class_="warning")
    assert warning.one("strong").text() == "Week of Mon 15 Mar: shifts short of volunteers"
    assert "Fewer than 3 in 4 of its 6 places are filled (fewer than 3 signed up)." in (
        warning.text()
    )
    [listed] = warning.one("ul").find_all("li")
    assert listed.one("a").attrs["href"] == f"/food/shifts/{shift}"
    assert "Saturday sort · Hilltop Food Bank" in listed.text()
    assert "6 places, fewer than 3 signed up" in listed.text()
    assert "Zebedee" not in page.html
    labour = cells(page.find_all("table")[1])
    assert labour[5] == ["Saturday", "1", "6", "fewer than 3"]


def test_an_unknown_category_is_said_beside_the_chooser(browser):
    page = browser.get("/food/trends?category=caviar", status=400)
    assert page.error_for("category") == "There is no such category."
    assert page.find_all("figure", class_="chart")  # the page still shows every category


@pytest.mark.parametrize("chart", ["demand", "demand-tins", "demand-baby", "labour"])
def test_charts_are_svg_that_ask_nothing_of_other_hosts(browser, food, chart):
    food.post("need", "Hilltop Food Bank", [("Baked beans", 7)], "Tins")
    response = browser.client.get(f"/food/trends/{chart}.svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    svg = response.get_data(as_text=True)
    root = ET.fromstring(svg)  # well-formed XML
    assert root.tag == f"{{{SVG_NS}}}svg"
    assert root.find(f"{{{SVG_NS}}}title").text
    assert not svg.startswith("<?xml")
    urls = set(re.findall(r"(?:https?:)?//[^\s\"'<>)]+", svg))
    assert urls <= NAMESPACES, urls
    assert "<script" not in svg and "<!--" not in svg
    for node in root.iter():
        for value in node.attrib.values():
            assert (
                not value.strip().startswith(("http", "//", "javascript:")) or value in NAMESPACES
            )
    # The same figures give the same bytes: the browser's copy is answered with a 304.
    again = browser.client.get(
        f"/food/trends/{chart}.svg", headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 304


def test_an_unknown_chart_is_not_found(browser):
    assert browser.client.get("/food/trends/pie.svg").status_code == 404
    assert browser.client.get("/food/trends/demand-caviar.svg").status_code == 404


# --- the appeal and its poster ---------------------------------------------------------------


def test_the_appeal_has_a_copyable_text_and_a_list(browser, food, clock, box):
    day = "2027-03-19"
    food.post("need", "Hilltop Food Bank", [("Baked beans", 25), ("Pasta", 4)], "Tins", day)
    food.post("need", "Valley Pantry", [("Pasta", 10)], "Pasta please")
    food.post("need", "Riverside Shop", [("Pasta", 99)], "A shop's need: not ours to appeal")
    page = browser.get("/food/appeal")
    items = [li.text() for li in page.one("ol", class_="appeal-items").find_all("li")]
    assert items == [
        "25 × Baked beans · Hilltop Food Bank · by Fri 19 Mar",
        "14 packs of Pasta · Hilltop Food Bank, Valley Pantry · by Fri 19 Mar",
    ]
    textarea = page.one("textarea", id="appeal-text")
    assert "readonly" in textarea.attrs
    assert page.one("label", for_="appeal-text").text() == "The appeal, ready to copy"
    assert textarea.value() == (
        "Hilltop Food Bank needs: 25 × Baked beans, 4 packs of Pasta. "
        "Drop off at 12 Hill Road, by Fri 19 Mar.\n\n"
        "Valley Pantry needs: 10 packs of Pasta. Drop off at Valley Hall.\n\n"
        # Three posts for pasta this week (the shop's too): demand for dry food is rising.
        "In the coming weeks we expect to need more: Dry food (pasta, rice, cereal).\n\n"
        "Thank you!"
    )
    assert "/food/appeal/poster" in page.links()


def test_the_poster_prints_the_list_and_a_qr_code_of_the_board(browser, food, box):
    food.post("need", "Hilltop Food Bank", [("Baked beans", 25)], "Tins")
    page = browser.get("/food/appeal/poster", base_url="http://localhost:8080")
    poster = page.one("article", class_="poster")
    assert poster.one("h1").text() == "Food donations needed"
    assert [li.text() for li in poster.one("ul", class_="poster-items").find_all("li")] == [
        "25 × Baked beans"
    ]
    assert "Hilltop Food Bank: 12 Hill Road" in poster.one("ul", class_="poster-where").text()
    url = f"http://{LAN_IP}:8080/food/appeal"
    assert poster.one("span", class_="poster-url").text() == url
    qr = poster.one("div", class_="qr").one("svg")
    assert qr.one("title").text() == f"QR code for {url}"
    # The very code the kiosk's QR maker draws for that address (segno, on the box).
    assert kiosk.qr_svg(url, f"QR code for {url}").decode() in page.html
    assert "/static/food_print.css" in [n.attrs.get("href") for n in page.find_all("link")]
    box.settings["public_url"] = "http://board.millbrook.example/"
    page = browser.get("/food/appeal/poster")
    assert (
        text_of(page, "span", class_="poster-url") == "http://board.millbrook.example/food/appeal"
    )


def test_the_print_styles_make_the_poster_the_page(client):
    with client.get("/static/food_print.css") as response:
        css = response.get_data(as_text=True)
    assert "@media print" in css and "size: A4" in css
    assert ".top" in css and "display: none" in css


# --- nothing personal, nothing from elsewhere ----------------------------------------------


def test_no_names_of_people_and_nothing_inline_on_these_pages(browser, food, new_browser, box):
    wanted = food.post("need", "Hilltop Food Bank", [("Baked beans", 25)], "Tins")
    food.post("offer", "Riverside Shop", [("Baked beans", 40)], "Dented tins")
    pledger = new_browser("Zebedee Pledger")
    body = {"item": food.items["Baked beans"], "qty": 5, "bring_on": None}
    box.log.append("pledge.made", body, subject=wanted, author=actor(box, "Zebedee Pledger").id)
    for url in ("/food/balance", "/food/trends", "/food/appeal", "/food/appeal/poster"):
        page = browser.get(url)
        assert "Zebedee" not in page.html and ADMIN not in page.text(), url
        assert "20" in page.text() or url == "/food/trends", url  # 25 less the 5 pledged
        policy = page.response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy, url
        for node in page.doc.iter():
            assert "style" not in node.attrs, (url, node)
            assert node.tag not in ("style", "script") or node.attrs.get("src", "").startswith(
                "/static/"
            ), (url, node)
            for attr in ("src", "href", "action"):
                value = node.attrs.get(attr, "")
                assert not re.match(r"^\s*(?:[a-z][a-z0-9+.-]*:|//)", value, re.I), (url, node)
    assert pledger.get("/food/balance").status == 200
