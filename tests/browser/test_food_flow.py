"""A food need from start to finish in Chromium: staff make a member the organiser of a
new food bank, the organiser posts a need for two items from a desk, a volunteer pledges
it in parts from a phone (one pledge too big on the way), and the organiser sees it covered.

Every field is found by its label and every button by its name, so the test also proves
the forms are labelled for a screen reader.
"""

from __future__ import annotations

import datetime
import re
import uuid
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect
from test_posting_flow import assert_no_sideways_scroll

pytestmark = pytest.mark.browser

SMALL_PHONE = {"viewport": {"width": 360, "height": 740}}
ORGANISER = "Maria Costa"  # a member, organiser of nothing until staff say so
VOLUNTEER = "Grace Liu"
STAFF = "Sam Patel"


def unique_word() -> str:
    return "zq" + uuid.uuid4().hex[:10]


def make_food_bank(page, word: str) -> str:
    """As staff: add a food bank and make ORGANISER its organiser; return its id."""
    name = f"Zq Food Bank {word}"
    page.goto("/staff/orgs")
    expect(page.get_by_role("heading", level=1)).to_have_text("Organisations")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("What kind of organisation").select_option(label="Food bank")
    page.get_by_label("Where it is").fill(f"Zq chapel {word}")
    page.get_by_role("button", name="Add organisation").click()
    page.wait_for_url(re.compile(r"/staff/orgs/[0-9a-f]+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    org_id = urlsplit(page.url).path.rsplit("/", 1)[1]

    page.get_by_label("Find a member by name").fill(ORGANISER)
    page.get_by_role("button", name="Find", exact=True).click()
    page.get_by_role("button", name=f"Add as organiser: {ORGANISER}").click()
    expect(page.locator(".flash")).to_contain_text("Made an organiser.")
    people = page.get_by_role("region", name="People", exact=True)
    expect(people.get_by_role("listitem")).to_have_count(1)
    expect(people.get_by_role("listitem")).to_contain_text(f"{ORGANISER} · organiser")
    return org_id


def post_need(page, org_id: str, title: str) -> str:
    """As the organiser, post a need for 10 tins of beans and 6 packs of pasta; return
    the post's path."""
    page.goto(f"/food/orgs/{org_id}")
    expect(page.get_by_text("You organise Zq Food Bank")).to_be_visible()
    page.get_by_role("link", name="Post a need").click()
    page.wait_for_url("**/food/needs/new*")
    expect(page.get_by_role("heading", level=1)).to_have_text("Post a need for your organisation")
    expect(page.get_by_label("Organisation")).to_have_value(org_id)
    by = (datetime.date.today() + datetime.timedelta(days=7)).isoformat()

    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_label("Details").fill("Parcels for twenty families on Saturday.")
    page.get_by_label("Needed by").fill(by)
    page.get_by_label("Item 1", exact=True).select_option(label="Baked beans (items)")
    page.get_by_label("How many (item 1)").fill("10")
    page.get_by_label("Item 2", exact=True).select_option(label="Pasta (packs)")
    page.get_by_label("How many (item 2)").fill("6")
    page.get_by_role("button", name="Post the need").click()

    page.wait_for_url("**/posts/*")
    expect(page.locator(".flash")).to_contain_text("Your need is on the board")
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect_lines(page, {"Baked beans": (10, 0, 10), "Pasta": (6, 0, 6)})
    expect(page.locator("#food .amounts")).to_have_text("16 of 16 still needed")
    return urlsplit(page.url).path


def expect_lines(page, lines: dict[str, tuple[int, int, int]]):
    """The need's table: item -> (asked for, pledged, still needed), in that order."""
    table = page.get_by_role("table", name="Items asked for, pledged and still needed")
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(len(lines))
    for n, (name, numbers) in enumerate(lines.items()):
        expect(rows.nth(n).get_by_role("rowheader")).to_contain_text(name)
        expect(rows.nth(n).get_by_role("cell")).to_have_text([str(x) for x in numbers])


def pledge(page, item_option: str, qty: str):
    page.get_by_label("Which item").select_option(label=item_option)
    page.get_by_label("How many").fill(qty)
    with page.expect_navigation():
        page.get_by_role("button", name="Pledge", exact=True).tap()


def pledged(qty: int, unit: str, item: str) -> re.Pattern:
    """One line of the pledge list: the volunteer's name, how many of what."""
    return re.compile(rf"^{VOLUNTEER}:\s+{qty} {unit} {item}\b")


def pledges(page):
    return page.get_by_role("list", name="Pledges").get_by_role("listitem")


def org_on_hub(page, org_id: str):
    """The organisation's card on /food."""
    page.goto("/food")
    expect(page.get_by_role("heading", level=1)).to_have_text("Food banks")
    card = page.locator("section.org-card").filter(
        has=page.locator(f"h3 a[href$='/food/orgs/{org_id}']")
    )
    expect(card).to_have_count(1)
    return card


def test_an_organiser_posts_a_need_and_a_volunteer_covers_it_from_a_phone(
    new_page, signed_in, log_in, shots_dir
):
    word = unique_word()
    title = f"Tins and pasta for Saturday {word}"

    staff = new_page("desktop", storage_state=signed_in(STAFF))
    org_id = make_food_bank(staff, word)

    desk = new_page("desktop", storage_state=signed_in(ORGANISER))
    path = post_need(desk, org_id, title)

    # The volunteer logs in on a small phone and finds the need on the food banks page.
    phone = new_page("phone", **SMALL_PHONE)
    log_in(phone, VOLUNTEER)
    card = org_on_hub(phone, org_id)
    expect(card.get_by_role("listitem")).to_contain_text("16 of 16 still needed")
    assert_no_sideways_scroll(phone)
    card.get_by_role("link", name=title).tap()
    phone.wait_for_url(f"**{path}")
    expect(phone.get_by_role("heading", level=1)).to_have_text(title)
    expect(pledges(phone)).to_have_count(0)
    assert_no_sideways_scroll(phone)

    # Part of one item first.
    pledge(phone, "Baked beans: 10 items still needed", "4")
    expect(phone.locator(".flash")).to_have_text("Thank you! Your pledge is on the need.")
    expect_lines(phone, {"Baked beans": (10, 4, 6), "Pasta": (6, 0, 6)})
    expect(phone.locator("#food .amounts")).to_have_text("12 of 16 still needed")
    expect(pledges(phone)).to_have_text([pledged(4, "items", "Baked beans")])

    # More than is missing: the reason beside the quantity, and nothing pledged.
    pledge(phone, "Baked beans: 6 items still needed", "7")
    qty = phone.get_by_label("How many")
    error = phone.locator("#e-qty")
    expect(error).to_have_text(
        "Only 6 items of Baked beans are still needed: please pledge 6 or fewer."
    )
    expect(qty).to_have_attribute("aria-invalid", "true")
    expect(qty).to_have_attribute("aria-describedby", "e-qty")
    expect(qty).to_have_value("7")
    assert qty.evaluate("field => field.previousElementSibling.id") == "e-qty"
    above = error.bounding_box()
    gap = qty.bounding_box()["y"] - (above["y"] + above["height"])
    assert 0 <= gap < 24, f"the error is {gap}px away from its field"
    expect(phone.locator(".flash")).to_have_count(0)
    expect_lines(phone, {"Baked beans": (10, 4, 6), "Pasta": (6, 0, 6)})
    expect(pledges(phone)).to_have_count(1)
    assert_no_sideways_scroll(phone)
    phone.screenshot(path=str(shots_dir / "food-pledge-error-phone.png"), full_page=True)
    phone.goto(path)  # read again: still one pledge, still 12 missing
    expect(pledges(phone)).to_have_count(1)
    expect(phone.locator("#food .amounts")).to_have_text("12 of 16 still needed")

    # The rest of everything, in two more pledges.
    pledge(phone, "Baked beans: 6 items still needed", "6")
    expect(phone.locator(".flash")).to_have_text("Thank you! Your pledge is on the need.")
    expect_lines(phone, {"Baked beans": (10, 10, 0), "Pasta": (6, 0, 6)})
    expect(phone.get_by_label("Which item").locator("option")).to_have_text(
        ["Pasta: 6 packs still needed"]
    )
    pledge(phone, "Pasta: 6 packs still needed", "6")
    expect(phone.locator(".flash")).to_have_text("Thank you! Your pledge is on the need.")
    expect(phone.locator("#food .covered")).to_have_text("Covered by pledges: this need is closed.")
    expect_lines(phone, {"Baked beans": (10, 10, 0), "Pasta": (6, 6, 0)})
    expect(pledges(phone)).to_have_count(3)
    expect(phone.get_by_role("button", name="Pledge", exact=True)).to_have_count(0)
    assert_no_sideways_scroll(phone)
    phone.screenshot(path=str(shots_dir / "food-need-covered-phone.png"), full_page=True)

    # The organiser reloads the page: covered and closed, nothing missing.
    desk.reload()
    expect(desk.locator("article.post .status")).to_have_text("Resolved")
    expect(desk.locator("#food .covered")).to_have_text("Covered by pledges: this need is closed.")
    expect(desk.get_by_role("region", name="Resolved")).to_contain_text(
        "Every item is pledged, so the need closed by itself."
    )
    expect_lines(desk, {"Baked beans": (10, 10, 0), "Pasta": (6, 6, 0)})
    expect(desk.locator("#food .amounts")).to_have_text("0 of 16 still needed")
    expect(pledges(desk)).to_have_text(
        [
            pledged(4, "items", "Baked beans"),
            pledged(6, "items", "Baked beans"),
            pledged(6, "packs", "Pasta"),
        ]
    )
    desk.screenshot(path=str(shots_dir / "food-need-covered-desktop.png"), full_page=True)

    # And the food banks page no longer lists it as open.
    card = org_on_hub(desk, org_id)
    expect(card).to_contain_text("No open needs.")
    expect(desk.get_by_role("link", name=title)).to_have_count(0)


def test_a_pledge_to_a_covered_need_is_refused(new_page, signed_in):
    """A page left open after someone else covered the need: the pledge is refused."""
    word = unique_word()
    staff = new_page("desktop", storage_state=signed_in(STAFF))
    org_id = make_food_bank(staff, word)
    desk = new_page("desktop", storage_state=signed_in(ORGANISER))
    path = post_need(desk, org_id, f"Tins and pasta {word}")

    late = new_page("phone", **SMALL_PHONE, storage_state=signed_in("Tom Okafor"))
    late.goto(path)
    phone = new_page("phone", **SMALL_PHONE, storage_state=signed_in(VOLUNTEER))
    phone.goto(path)
    pledge(phone, "Baked beans: 10 items still needed", "10")
    pledge(phone, "Pasta: 6 packs still needed", "6")
    expect(phone.locator("#food .covered")).to_be_visible()

    pledge(late, "Pasta: 6 packs still needed", "1")
    expect(late.locator(".problem")).to_contain_text(
        "Everything on this need is pledged already. Thank you all the same!"
    )
    late.goto(path)
    expect(pledges(late)).to_have_count(2)
    expect(late.locator("#food .amounts")).to_have_text("0 of 16 still needed")
