"""Staff pages for food banks: organisations and their people, and the item catalogue."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pagetools import DAY_MS, START_MS, Page, actor, flash_of, member_id, record_count

from appliance.models import Item, Org
from appliance.records import FORMAT_VERSION, encode, public_key_text, record_id, sign
from appliance.services import catalogue, orgs

BANK = {"name": "Millbrook Food Bank", "type": "foodbank", "place": "Church Hall"}
BEANS = {"name": "Baked beans", "category": "tins", "unit": "items"}


class OtherCentre:
    """Another centre's box, reduced to the records it signs and sends."""

    def __init__(self, name: str):
        self.key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(name.encode()).digest())
        self.origin = public_key_text(self.key)
        self.seq, self.prev = 0, None

    def make(self, kind: str, body: dict, subject: str | None = None) -> tuple[str, bytes]:
        """Sign this centre's next record; return its id and wire line."""
        self.seq += 1
        unsigned = {
            "v": FORMAT_VERSION,
            "origin": self.origin,
            "seq": self.seq,
            "prev": self.prev,
            "hlc": [START_MS - DAY_MS, self.seq],
            "author": None if kind == "centre.created" else "b" * 64,
            "kind": kind,
            "subject": subject,
            "scope": "federation",
            "body": body,
        }
        self.prev = record_id(unsigned)
        return self.prev, encode(sign(unsigned, self.key))


@pytest.fixture
def riverside(box) -> dict[str, str]:
    """Riverside Centre's food bank and catalogue entry, synced to this box: their ids."""
    other = OtherCentre("riverside")
    box.log.append("trust.granted", {"origin": other.origin, "name": "Riverside"})
    made = {
        "centre": other.make("centre.created", {"name": "Riverside Centre", "timezone": "UTC"}),
        "org": other.make(
            "org.created", {"name": "Riverside Pantry", "type": "foodbank", "place": "Quay"}
        ),
        "item": other.make("item.created", {"name": "Soup", "category": "tins", "unit": "items"}),
    }
    assert box.log.ingest([line for _, line in made.values()]).ok
    return {name: record[0] for name, record in made.items()}


@pytest.fixture
def bank(box) -> str:
    """This centre's food bank, added by the admin."""
    return orgs.create_org(box, actor(box, "Admin"), BANK)


@pytest.fixture
def beans(box) -> str:
    return catalogue.add_item(box, actor(box, "Admin"), BEANS)


def main_forms(page: Page) -> list:
    return page.one("main").find_all("form", method="post")


def people(page: Page) -> dict[str, str]:
    """Return {name: role} from an organisation page's list of people."""
    listed = page.find("ul", class_="people")
    if listed is None:
        return {}
    return {
        li.one("strong").text(): li.text().split(" · ")[1].split()[0]
        for li in listed.find_all("li")
    }


def item_row(page: Page, item_id: str):
    return page.one("li", id=f"item-{item_id}")


def category_items(page: Page, category: str) -> list[str]:
    """Return the names listed under a category's heading on the catalogue page."""
    heading = page.one("h3", id=f"cat-{category}")
    siblings = [n for n in heading.parent.children if not isinstance(n, str)]
    listed = siblings[siblings.index(heading) + 1]
    assert listed.tag == "ul", listed
    return [li.one("strong").text() for li in listed.find_all("li")]


# --- who may use the pages ------------------------------------------------------------


PAGES = ["/staff/orgs", "/staff/orgs/{bank}", "/staff/catalogue"]


@pytest.mark.parametrize("url", PAGES)
def test_visitors_are_sent_to_log_in(browser, bank, url):
    url = url.format(bank=bank)
    response = browser.get(url, status=302).response
    assert response.headers["Location"] == f"/login?next={url}"


@pytest.mark.parametrize("url", PAGES)
def test_members_get_a_403_page(alice, bank, url):
    page = alice.get(url.format(bank=bank), status=403)
    assert page.one(role="alert").text() == "Only the centre's staff can do that."


@pytest.mark.parametrize("url", PAGES)
def test_staff_and_admin_see_the_pages_in_the_staff_menu(staff_client, admin_client, bank, url):
    for who in (staff_client, admin_client):
        page = who.get(url.format(bank=bank))
        menu = page.one("nav", aria_label="Staff pages")
        labels = [n.text() for n in menu.find_all() if n.tag in ("a", "strong")]
        assert labels[2:4] == ["Organisations", "Item catalogue"]


def test_the_menu_links_to_both_pages(staff_client):
    menu = staff_client.get("/staff/members").one("nav", aria_label="Staff pages")
    assert menu.one("a", href="/staff/orgs").text() == "Organisations"
    assert menu.one("a", href="/staff/catalogue").text() == "Item catalogue"
    here = staff_client.get("/staff/catalogue").one("nav", aria_label="Staff pages")
    assert here.one("strong", aria_current="page").text() == "Item catalogue"


ACTIONS = [
    ("/staff/orgs", {**BANK, "name": "Another"}),
    ("/staff/orgs/{bank}", {**BANK, "place": "Elsewhere"}),
    ("/staff/orgs/{bank}/active", {"active": "0"}),
    ("/staff/orgs/{bank}/people", {"member": "{bob}", "role": "organiser"}),
    ("/staff/orgs/{bank}/people/{bob}/remove", {}),
    ("/staff/catalogue", {**BEANS, "name": "Soup"}),
    ("/staff/catalogue/starter", {}),
    ("/staff/catalogue/{beans}", {**BEANS, "name": "Beans"}),
    ("/staff/catalogue/{beans}/active", {"active": "0"}),
]


def _fill(text: str, ids: dict) -> str:
    return text.format(**ids)


@pytest.mark.parametrize("path, data", ACTIONS)
def test_members_cannot_do_staff_actions(box, alice, bob, bank, beans, path, data):
    ids = {"bank": bank, "beans": beans, "bob": member_id("Bob")}
    orgs.set_org_role(box, actor(box, "Admin"), bank, ids["bob"], "member")
    before = record_count(box)
    response = alice.post(_fill(path, ids), {k: _fill(v, ids) for k, v in data.items()}, via="/")
    assert response.status_code == 403
    assert "Only the centre's staff can do that." in Page(response).one(role="alert").text()
    assert record_count(box) == before


@pytest.mark.parametrize("path, data", ACTIONS)
def test_visitors_cannot_do_staff_actions(box, browser, bob, bank, beans, path, data):
    ids = {"bank": bank, "beans": beans, "bob": member_id("Bob")}
    before = record_count(box)
    response = browser.post(_fill(path, ids), {k: _fill(v, ids) for k, v in data.items()})
    assert response.status_code == 401
    assert record_count(box) == before


# --- organisations --------------------------------------------------------------------


def test_staff_add_an_organisation(staff_client, box):
    page = staff_client.get("/staff/orgs")
    assert page.one("p", class_="empty").text() == "None yet: add the first one below."
    options = [o.text() for o in page.field("type").find_all("option")]
    assert options == ["Choose…", "Food bank", "Shop", "Community group", "Other supplier"]
    before = record_count(box)

    response = staff_client.submit(page, containing="Add organisation", data=BANK)

    page = staff_client.follow(response)
    org = Org.get(Org.name == BANK["name"])
    assert page.url == f"/staff/orgs/{org.id}"
    assert flash_of(page) == "Organisation added. Now add the people who run it."
    assert page.one("h1").text() == "Millbrook Food Bank"
    assert record_count(box) == before + 1
    listing = staff_client.get("/staff/orgs").one("section", aria_labelledby="own-h")
    entry = listing.one("li", id=f"org-{org.id}")
    assert entry.one("a").attrs["href"] == f"/staff/orgs/{org.id}"
    assert entry.one("small").text() == "Food bank · Church Hall"


def test_adding_an_organisation_shows_each_problem_beside_its_field(staff_client, box, bank):
    page = staff_client.get("/staff/orgs")
    before = record_count(box)
    response = staff_client.submit(
        page, containing="Add organisation", data={"name": "Corner Shop", "type": "", "place": ""}
    )
    assert response.status_code == 400
    page = Page(response)
    assert page.error_for("name") is None
    assert page.field("name").value() == "Corner Shop"  # what was typed is kept
    assert page.error_for("type") == "Please choose what kind of organisation this is."
    assert page.error_for("place") == "Please say where it is: an address or a building."
    assert page.field("place").attrs["aria-describedby"] == "h-place e-place"
    assert page.field("type").attrs["aria-invalid"] == "true"

    response = staff_client.submit(page, containing="Add organisation", data=BANK)
    assert response.status_code == 400
    page = Page(response)
    assert page.error_for("name") == "This centre already has an organisation of that name."
    assert page.field("type").value() == "foodbank"
    assert record_count(box) == before


def test_staff_find_a_member_and_make_them_an_organiser(staff_client, box, alice, bob, bank):
    page = staff_client.get(f"/staff/orgs/{bank}")
    assert people(page) == {}
    assert page.one("p", class_="empty").text() == "Nobody yet."
    page = staff_client.get(f"/staff/orgs/{bank}?q=ali")
    found = page.one("ul", class_="found")
    assert [li.one("strong").text() for li in found.find_all("li")] == ["Alice"]
    before = record_count(box)

    response = staff_client.submit(page, form=found.one("form"), data={"role": "organiser"})

    page = staff_client.follow(response)
    assert page.url == f"/staff/orgs/{bank}?q=ali"  # the search stays for the next person
    assert flash_of(page) == "Made an organiser."
    assert people(page) == {"Alice": "organiser"}
    assert "already an organiser" in page.one("ul", class_="found").text()
    assert orgs.is_organiser(actor(box, "Alice"), bank)
    assert record_count(box) == before + 1

    page = staff_client.get(f"/staff/orgs/{bank}?q=bob")
    page = staff_client.follow(
        staff_client.submit(
            page, form=page.one("ul", class_="found").one("form"), data={"role": "member"}
        )
    )
    assert flash_of(page) == "Made a member."
    assert people(page) == {"Alice": "organiser", "Bob": "member"}
    assert not orgs.is_organiser(actor(box, "Bob"), bank)


def test_staff_change_a_role_and_remove_someone(staff_client, box, alice, bank):
    orgs.set_org_role(box, actor(box, "Admin"), bank, member_id("Alice"), "organiser")
    page = staff_client.get(f"/staff/orgs/{bank}")
    before = record_count(box)

    page = staff_client.follow(staff_client.submit(page, containing="Make member only"))
    assert flash_of(page) == "Made a member."
    assert people(page) == {"Alice": "member"}
    assert not orgs.is_organiser(actor(box, "Alice"), bank)

    page = staff_client.follow(staff_client.submit(page, containing="Make organiser"))
    assert people(page) == {"Alice": "organiser"}

    page = staff_client.follow(staff_client.submit(page, containing="Remove"))
    assert flash_of(page) == "Removed from the organisation."
    assert people(page) == {}
    assert orgs.org_people(bank) == []
    assert record_count(box) == before + 3


def test_role_problems_are_shown_and_change_nothing(staff_client, box, alice, bank):
    alice_id = member_id("Alice")
    orgs.set_org_role(box, actor(box, "Admin"), bank, alice_id, "organiser")
    before = record_count(box)
    url = f"/staff/orgs/{bank}/people"

    response = staff_client.post(url, {"member": alice_id, "role": "organiser"}, via="/staff/orgs")
    assert response.status_code == 409
    banner = Page(response).one("div", class_="problem")
    assert banner.text() == "Nothing to change: Alice already has that place."

    response = staff_client.post(url, {"member": alice_id, "role": "boss"}, via="/staff/orgs")
    assert response.status_code == 400
    assert Page(response).one("div", class_="problem").text() == "Choose member or organiser."

    response = staff_client.post(url, {"member": "e" * 64, "role": "member"}, via="/staff/orgs")
    assert response.status_code == 404
    response = staff_client.post(
        f"/staff/orgs/{'f' * 64}/people", {"member": alice_id, "role": "member"}, via="/staff/orgs"
    )
    assert response.status_code == 404
    assert record_count(box) == before
    assert orgs.org_people(bank) == [{"id": alice_id, "name": "Alice", "role": "organiser"}]


def test_an_unknown_organisation_is_a_404(staff_client):
    page = staff_client.get(f"/staff/orgs/{'f' * 64}", status=404)
    assert page.one(role="alert").text() == "There is no such organisation."


def test_staff_change_an_organisations_details(staff_client, box, bank):
    page = staff_client.get(f"/staff/orgs/{bank}")
    assert page.field("name").value() == BANK["name"]
    assert page.field("type").value() == "foodbank"
    before = record_count(box)

    response = staff_client.submit(page, containing="Save details", data={"place": " "})
    assert response.status_code == 400
    page = Page(response)
    assert page.error_for("place") == "Please say where it is: an address or a building."
    assert page.error_for("name") is None
    assert record_count(box) == before

    response = staff_client.submit(
        page, containing="Save details", data={"name": "Millbrook Pantry", "place": "Mill Lane"}
    )
    page = staff_client.follow(response)
    assert flash_of(page) == "Details saved."
    assert page.one("h1").text() == "Millbrook Pantry"
    org = orgs.get_org(bank)
    assert (org.name, org.place, org.active) == ("Millbrook Pantry", "Mill Lane", True)
    assert record_count(box) == before + 1


def test_staff_retire_an_organisation_and_bring_it_back(staff_client, box, alice, bank):
    orgs.set_org_role(box, actor(box, "Admin"), bank, member_id("Alice"), "organiser")
    page = staff_client.get(f"/staff/orgs/{bank}")

    page = staff_client.follow(staff_client.submit(page, containing="Retire Millbrook Food Bank"))
    assert flash_of(page) == (
        "Millbrook Food Bank is retired: its organisers can no longer post for it."
    )
    assert "retired" in page.one("p", class_="meta").text()
    assert not orgs.get_org(bank).active
    assert orgs.organised_by(actor(box, "Alice")) == []
    assert "retired" in staff_client.get("/staff/orgs").one("li", id=f"org-{bank}").text()
    # Retiring keeps the details: a later change of details keeps it retired.
    page = staff_client.follow(staff_client.submit(page, containing="Save details"))
    assert not orgs.get_org(bank).active

    page = staff_client.follow(
        staff_client.submit(page, containing="Bring Millbrook Food Bank back")
    )
    assert flash_of(page) == "Millbrook Food Bank is active again."
    assert orgs.get_org(bank).active
    assert [o.name for o in orgs.organised_by(actor(box, "Alice"))] == ["Millbrook Food Bank"]


def test_another_centres_organisation_is_shown_read_only(staff_client, box, riverside):
    listing = staff_client.get("/staff/orgs").one("section", aria_labelledby="others-h")
    entry = listing.one("li", id=f"org-{riverside['org']}")
    assert entry.one("small").text() == "Food bank · Quay · From Riverside Centre"

    page = staff_client.get(f"/staff/orgs/{riverside['org']}?q=Admin")
    assert page.one("h1").text() == "Riverside Pantry"
    assert "From Riverside Centre" in page.one("p", class_="meta").text()
    assert "Only that centre's staff can change it or its people." in page.text()
    assert main_forms(page) == []
    assert page.find("ul", class_="found") is None

    before = record_count(box)
    response = staff_client.post(
        f"/staff/orgs/{riverside['org']}", {**BANK, "name": "Mine now"}, via="/staff/orgs"
    )
    assert response.status_code == 403
    assert Page(response).one("div", class_="problem").text() == (
        "Only the staff of the centre that added this organisation can change it."
    )
    response = staff_client.post(
        f"/staff/orgs/{riverside['org']}/people",
        {"member": member_id("Admin"), "role": "organiser"},
        via="/staff/orgs",
    )
    assert response.status_code == 403
    assert record_count(box) == before
    assert orgs.get_org(riverside["org"]).name == "Riverside Pantry"


# --- the item catalogue ----------------------------------------------------------------


def test_an_empty_catalogue_offers_the_usual_items(staff_client, box):
    page = staff_client.get("/staff/catalogue")
    assert page.one("p", class_="empty").text().startswith("The catalogue is empty")
    starter = page.form("/staff/catalogue/starter")
    n = len(catalogue.STARTER_ITEMS)
    assert f"{n} of the usual food bank items are not in the catalogue yet." in starter.text()
    before = record_count(box)

    page = staff_client.follow(staff_client.submit(page, containing="Add the usual items"))

    assert flash_of(page) == f"Added {n} items."
    assert record_count(box) == before + n
    assert page.find("form", action="/staff/catalogue/starter") is None
    headings = [h.text() for h in page.find_all("h3")]
    assert headings[:3] == ["Tins and jars", "Dry food (pasta, rice, cereal)", "Fresh food"]
    assert category_items(page, "tins") == [
        "Baked beans",
        "Soup",
        "Tinned fish",
        "Tinned tomatoes",
    ]
    assert category_items(page, "pet") == ["Cat food", "Dog food"]

    # Pressed again (a second tab), it adds nothing and says so.
    response = staff_client.post("/staff/catalogue/starter", via="/staff/catalogue")
    assert (
        flash_of(staff_client.follow(response)) == "The catalogue already has all the usual items."
    )
    assert record_count(box) == before + n


def test_the_usual_items_button_counts_what_is_missing(staff_client, beans):
    page = staff_client.get("/staff/catalogue")
    n = len(catalogue.STARTER_ITEMS) - 1
    starter = page.form("/staff/catalogue/starter")
    assert f"{n} of the usual food bank items are not in the catalogue yet." in starter.text()
    page = staff_client.follow(staff_client.submit(page, containing="Add the usual items"))
    assert flash_of(page) == f"Added {n} items."


def test_staff_add_an_item(staff_client, box):
    page = staff_client.get("/staff/catalogue")
    units = [o.attrs.get("value") for o in page.field("unit").find_all("option")]
    assert units == ["", "items", "kg", "packs", "trays", "boxes", "bags", "litres"]
    before = record_count(box)

    response = staff_client.submit(
        page,
        containing="Add item",
        data={"name": "Oat milk", "category": "drinks", "unit": "litres"},
    )

    item = Item.get(Item.name == "Oat milk")
    assert response.headers["Location"] == f"/staff/catalogue#item-{item.id}"
    page = staff_client.follow(response)
    assert flash_of(page) == "Added to the catalogue."
    row = item_row(page, item.id)
    assert row.one("strong").text() == "Oat milk"
    assert row.one("small").text() == "in litres"
    assert row.closest("ul").closest("section") is not None
    assert page.one("h3", id="cat-drinks").text() == "Drinks"
    assert record_count(box) == before + 1


def test_adding_an_item_shows_each_problem_beside_its_field(staff_client, box, beans):
    page = staff_client.get("/staff/catalogue")
    before = record_count(box)
    response = staff_client.submit(
        page, containing="Add item", data={"name": "", "category": "sweets", "unit": "dozen"}
    )
    assert response.status_code == 400
    page = Page(response)
    assert page.error_for("name") == "Please name the item."
    assert page.error_for("category") == "Please choose one of the categories."
    assert page.error_for("unit") == "Please choose one of the units."
    assert page.field("name").attrs["aria-describedby"] == "e-name"

    response = staff_client.submit(
        page,
        containing="Add item",
        data={"name": "baked  BEANS", "category": "tins", "unit": "items"},
    )
    assert response.status_code == 400
    page = Page(response)
    assert page.error_for("name") == "The catalogue already has that item in that unit."
    assert page.field("name").value() == "baked  BEANS"
    assert page.field("unit").value() == "items"
    assert record_count(box) == before


def test_staff_change_an_item(staff_client, box, beans):
    page = staff_client.get("/staff/catalogue")
    change = item_row(page, beans).one("a")
    assert change.text() == "Change"
    page = staff_client.get(change.attrs["href"])
    form = page.form(f"/staff/catalogue/{beans}#item-{beans}")
    assert form.one("legend").text() == "Change “Baked beans”"
    assert [
        n.value()
        for n in form.find_all()
        if n.tag in ("input", "select") and n.attrs.get("type") != "hidden"
    ] == ["Baked beans", "tins", "items"]
    before = record_count(box)

    response = staff_client.submit(page, form=form, data={"name": "x" * 61})
    assert response.status_code == 400
    page = Page(response)
    form = page.form(f"/staff/catalogue/{beans}#item-{beans}")
    error = form.one("p", class_="error")
    assert error.text() == "Please keep the name under 60 characters."
    assert form.one("input", name="name").attrs["aria-describedby"] == error.attrs["id"]
    assert page.form("/staff/catalogue").find(class_="error") is None  # not beside "add"
    assert record_count(box) == before

    response = staff_client.submit(page, form=form, data={"name": "Beans", "unit": "trays"})
    assert response.headers["Location"] == f"/staff/catalogue#item-{beans}"
    page = staff_client.follow(response)
    assert flash_of(page) == "Saved."
    assert item_row(page, beans).one("strong").text() == "Beans"
    assert item_row(page, beans).one("small").text() == "in trays"
    assert record_count(box) == before + 1


def test_staff_retire_an_item_and_bring_it_back(staff_client, box, beans):
    page = staff_client.get("/staff/catalogue")
    page = staff_client.follow(staff_client.submit(page, containing="Retire"))
    assert flash_of(page) == "Baked beans is retired: new posts cannot ask for it."
    assert "retired" in item_row(page, beans).one("small").text()
    assert not catalogue.get_item(beans).active
    # A change of name keeps it retired.
    page = staff_client.get(f"/staff/catalogue?edit={beans}")
    page = staff_client.follow(
        staff_client.submit(
            page, form=page.form(f"/staff/catalogue/{beans}#item-{beans}"), data={"name": "Beans"}
        )
    )
    assert (catalogue.get_item(beans).name, catalogue.get_item(beans).active) == ("Beans", False)

    page = staff_client.follow(staff_client.submit(page, containing="Bring back"))
    assert flash_of(page) == "Beans is back in the catalogue."
    assert catalogue.get_item(beans).active


def test_another_centres_items_are_shown_read_only(staff_client, box, riverside, beans):
    page = staff_client.get(f"/staff/catalogue?edit={riverside['item']}")
    row = item_row(page, riverside["item"])
    assert row.one("small").text() == "in items · From Riverside Centre"
    assert row.find("a") is None and row.find("form") is None
    assert page.find("fieldset") is None  # no form to change it, though ?edit= asked
    assert item_row(page, beans).find("a") is not None  # this centre's own can be changed

    before = record_count(box)
    response = staff_client.post(
        f"/staff/catalogue/{riverside['item']}/active", {"active": "0"}, via="/staff/catalogue"
    )
    assert response.status_code == 403
    assert Page(response).one("div", class_="problem").text() == (
        "Only the staff of the centre that added this item can change it."
    )
    response = staff_client.post(
        f"/staff/catalogue/{riverside['item']}", {**BEANS, "name": "Mine"}, via="/staff/catalogue"
    )
    assert response.status_code == 403
    assert record_count(box) == before


def test_an_unknown_item_is_a_404(staff_client, box):
    before = record_count(box)
    response = staff_client.post(f"/staff/catalogue/{'f' * 64}", BEANS, via="/staff/catalogue")
    assert response.status_code == 404
    assert Page(response).one(role="alert").text() == "There is no such item in the catalogue."
    assert record_count(box) == before


def test_a_phone_user_with_javascript_off_has_only_plain_forms(staff_client, bank, beans):
    """Every action is a plain POST form with the csrf token; nothing needs a script."""
    for url in ("/staff/orgs", f"/staff/orgs/{bank}", "/staff/catalogue"):
        page = staff_client.get(url)
        assert page.find("script") is None
        for form in main_forms(page):
            assert form.find("input", name="csrf_token") is not None
        for control in page.one("main").find_all():
            if control.tag in ("input", "select") and control.attrs.get("type") != "hidden":
                assert page.find("label", for_=control.attrs["id"]) is not None, control
