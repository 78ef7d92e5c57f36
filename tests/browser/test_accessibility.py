"""axe-core scans of the main pages, on a phone and on a desktop.

A page passes when axe finds nothing "serious" or "critical". Every violation, whatever
its impact, is printed (see it with `pytest -s`), so the moderate ones are not lost.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

BLOCKING = ("serious", "critical")
DEVICES = ["phone", "desktop"]


def scan(page, axe_js) -> list[dict]:
    """Run axe-core on the page as it is now; return its violations."""
    if not page.evaluate("typeof window.axe === 'object'"):  # the chat keeps its page
        page.add_script_tag(path=str(axe_js))
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ["violations"]});
            return r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                nodes: v.nodes.map(n => ({
                    target: n.target.join(" "), html: n.html, summary: n.failureSummary,
                })),
            }));
        }"""
    )
    return result


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"]:
            lines.append(f"    {node['target']}  {node['html'][:160]}")
            summary = " ".join((node["summary"] or "").split())
            lines.append(f"      {summary[:400]}")
    return "\n".join(lines)


# Let running CSS animations (the kiosk's fade-in) end first: mid-fade, text is a blend
# of its colour and the background, and axe would measure that blend.
SETTLE = """() => Promise.all(
    document.getAnimations().map(a => a.finished.catch(() => null))
).then(() => true)"""


def assert_accessible(page, axe_js, what: str):
    page.evaluate(SETTLE)
    violations = scan(page, axe_js)
    if violations:
        print(f"\naxe on {what} ({page.url}):\n{describe(violations)}")
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    assert not blocking, f"axe found serious problems on {what}:\n{describe(blocking)}"


def open_as(new_page, signed_in, device, name=None):
    options = {"bypass_csp": True}  # axe is injected as an inline script
    if name:
        options["storage_state"] = signed_in(name)
    return new_page(device, **options)


def chat_next(page, step: str):
    page.locator("#chat-form").get_by_role("button", name="Next").click()
    expect(page.locator("#chat-form input[name=step]")).to_have_value(step)
    expect(page.locator("#chat")).not_to_contain_class("busy")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("who", [None, "Grace Liu"], ids=["visitor", "member"])
def test_board(new_page, signed_in, axe_js, device, who):
    page = open_as(new_page, signed_in, device, who)
    page.goto("/")
    expect(page.locator(".posts .card").first).to_be_visible()
    assert_accessible(page, axe_js, f"the board ({device}, {who or 'visitor'})")


def test_board_with_a_problem_in_the_filters(new_page, signed_in, axe_js):
    device = "phone"
    page = open_as(new_page, signed_in, device)
    page.goto("/?from=not-a-date&when=sometime")
    expect(page.locator(".filters .problem")).to_be_visible()
    assert_accessible(page, axe_js, f"the board with bad filters ({device})")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "who, search",
    [
        ("Grace Liu", "Tinned tomatoes"),  # comments and helpers, a comment form
        ("Sam Patel", "broken streetlight"),  # resolved, thanks, moderation forms
    ],
    ids=["member-comments", "admin-resolved"],
)
def test_post_page(new_page, signed_in, axe_js, device, who, search):
    page = open_as(new_page, signed_in, device, who)
    page.goto(f"/?q={search}")
    page.locator(".posts .card h2 a").first.click()
    page.wait_for_url("**/posts/*")
    expect(page.locator("#comments li.comment").first).to_be_visible()
    assert_accessible(page, axe_js, f"a post page ({device}, {who})")


def test_chat_first_and_details_steps(new_page, signed_in, axe_js):
    # The chat is what phones get; a desktop gets the one-page form (tested below).
    device = "phone"
    page = open_as(new_page, signed_in, device, "Grace Liu")
    page.goto("/new")
    expect(page.locator("#chat")).to_contain_class("enhanced")
    assert_accessible(page, axe_js, f"the chat's first step ({device})")

    chat_next(page, "type")  # no answer: the error state
    expect(page.locator("#e-type")).to_be_visible()
    assert_accessible(page, axe_js, f"the chat's first step with an error ({device})")

    page.get_by_role("radio", name="I need something").check()
    chat_next(page, "title")
    chat_next(page, "title")  # empty title: the error beside the field
    expect(page.locator("#e-title")).to_be_visible()
    assert_accessible(page, axe_js, f"the chat's title step with an error ({device})")

    page.locator("#f-title").fill("A ladder for an afternoon")
    chat_next(page, "place")
    page.locator("#f-place").fill("Main hall")
    chat_next(page, "category")
    page.get_by_role("radio", name="Household items").check()
    chat_next(page, "details")
    expect(page.locator("#chat .log li.me")).to_have_count(4)
    assert_accessible(page, axe_js, f"the chat's details step ({device})")

    chat_next(page, "review")
    assert_accessible(page, axe_js, f"the chat's review step ({device})")


@pytest.mark.parametrize("device", DEVICES)
def test_one_page_form(new_page, signed_in, axe_js, device):
    page = open_as(new_page, signed_in, device, "Grace Liu")
    page.goto("/new/form")
    expect(page.get_by_role("heading", level=1)).to_have_text("New post")
    assert_accessible(page, axe_js, f"the one-page form ({device})")

    page.locator("main form.stack").get_by_role("button", name="Post it").click()
    expect(page.locator(".problem")).to_be_visible()
    assert_accessible(page, axe_js, f"the one-page form with errors ({device})")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("path, button", [("/login", "Log in"), ("/signup", "Sign up")])
def test_account_pages(new_page, signed_in, axe_js, device, path, button):
    page = open_as(new_page, signed_in, device)
    page.goto(path)
    expect(page.get_by_role("heading", level=1)).to_have_text(button)
    assert_accessible(page, axe_js, f"{path} ({device})")

    page.locator("main form").get_by_role("button", name=button).click()
    expect(page.locator("main .error").first).to_be_visible()
    assert_accessible(page, axe_js, f"{path} with errors ({device})")


# --- food banks (the demo's banks, needs, pledges, shifts and history) --------------------

FOOD_NEED = "Beans and pasta for Saturday's parcels"  # lines, and a pledge by Grace Liu
FOOD_SUPPLY = "Forty tins of beans, dented but fine"


def open_from_food_hub(page, link: str):
    """Go to /food and follow a link on it (an organisation or a post), by its name."""
    page.goto("/food")
    page.locator("main").get_by_role("link", name=link, exact=True).first.click()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("who", [None, "Grace Liu"], ids=["visitor", "member"])
def test_food_hub(new_page, signed_in, axe_js, device, who):
    page = open_as(new_page, signed_in, device, who)
    page.goto("/food")
    expect(page.get_by_role("heading", level=1)).to_have_text("Food banks")
    expect(page.locator("section.org-card").first).to_be_visible()
    assert_accessible(page, axe_js, f"the food banks page ({device}, {who or 'visitor'})")


@pytest.mark.parametrize("device", DEVICES)
def test_food_org_page(new_page, signed_in, axe_js, device):
    page = open_as(new_page, signed_in, device, "Priya Shah")  # its organiser
    open_from_food_hub(page, "Millbrook Food Bank")
    page.wait_for_url("**/food/orgs/*")
    expect(page.get_by_role("link", name="Post a need")).to_be_visible()
    expect(page.locator(".needs-list li").first).to_be_visible()
    assert_accessible(page, axe_js, f"a food bank's page ({device})")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "who, title",
    [("Grace Liu", FOOD_NEED), ("Priya Shah", FOOD_SUPPLY)],
    ids=["need-volunteer", "supply-organiser"],
)
def test_food_post_page(new_page, signed_in, axe_js, device, who, title):
    page = open_as(new_page, signed_in, device, who)
    open_from_food_hub(page, title)
    page.wait_for_url("**/posts/*")
    expect(page.locator("#food tbody tr").first).to_be_visible()
    form = "Pledge" if title == FOOD_NEED else "Claim"
    if form == "Pledge":  # the supply has no claims yet
        expect(page.locator("#food .pledges li").first).to_be_visible()
    expect(page.get_by_role("button", name=form, exact=True)).to_be_visible()
    assert_accessible(page, axe_js, f"a food {form.lower()} page ({device})")


def test_food_pledge_with_an_error(new_page, signed_in, axe_js):
    device = "phone"
    page = open_as(new_page, signed_in, device, "Grace Liu")
    open_from_food_hub(page, FOOD_NEED)
    page.wait_for_url("**/posts/*")
    page.get_by_label("How many").fill("100000")  # more than any line lacks: nothing changes
    page.get_by_role("button", name="Pledge", exact=True).click()
    expect(page.locator("#e-qty")).to_be_visible()
    assert_accessible(page, axe_js, f"a food need with a pledge error ({device})")


@pytest.mark.parametrize("device", DEVICES)
def test_food_need_form(new_page, signed_in, axe_js, device):
    page = open_as(new_page, signed_in, device, "Priya Shah")
    page.goto("/food/needs/new")
    expect(page.get_by_role("heading", level=1)).to_have_text("Post a need for your organisation")
    assert_accessible(page, axe_js, f"the food need form ({device})")

    page.get_by_label("How many (item 1)").fill("-3")
    page.get_by_role("button", name="Post the need").click()
    expect(page.locator("main .error").first).to_be_visible()
    assert_accessible(page, axe_js, f"the food need form with errors ({device})")


FOOD_PAGES = [
    ("/food/shifts", "Volunteer shifts"),
    ("/food/balance", "Need and surplus across the area"),
    ("/food/trends", "Food bank trends"),
    ("/food/appeal", "Donation appeal"),
    ("/food/appeal/poster", "Food donations needed"),
    ("/food/export", "Export food bank data"),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("path, heading", FOOD_PAGES, ids=[p for p, _ in FOOD_PAGES])
def test_food_pages(new_page, signed_in, axe_js, device, path, heading):
    page = open_as(new_page, signed_in, device, "Grace Liu")
    page.goto(path)
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    assert_accessible(page, axe_js, f"{path} ({device})")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "path, heading", [("/staff/orgs", "Organisations"), ("/staff/catalogue", "Item catalogue")]
)
def test_food_staff_pages(new_page, signed_in, axe_js, device, path, heading):
    page = open_as(new_page, signed_in, device, "Sam Patel")
    page.goto(path)
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    assert_accessible(page, axe_js, f"{path} ({device})")


def test_food_staff_org_page(new_page, signed_in, axe_js):
    device = "phone"
    page = open_as(new_page, signed_in, device, "Sam Patel")
    page.goto("/staff/orgs")
    page.locator("main").get_by_role("link", name="Millbrook Food Bank").click()
    page.wait_for_url("**/staff/orgs/*")
    page.get_by_label("Find a member by name").fill("Tom")  # the people found, with buttons
    page.get_by_role("button", name="Find", exact=True).click()
    expect(page.locator(".found li").first).to_be_visible()
    assert_accessible(page, axe_js, f"a food bank's staff page ({device})")


# Rules, moderation and personal data (issue 7): each page as who would open it.
RULES_PAGES = [
    ("/conduct", "Grace Liu"),
    ("/proposals", "Grace Liu"),
    ("/moderation", None),
    ("/?status=stale", "Grace Liu"),
    ("/account/data", "Grace Liu"),
    ("/account/erase", "Grace Liu"),
    ("/staff/moderation", "Sam Patel"),
    ("/staff/moderation/peers", "Sam Patel"),
    ("/staff/conduct", "Sam Patel"),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("path, who", RULES_PAGES, ids=[p for p, _ in RULES_PAGES])
def test_rules_and_privacy_pages(new_page, signed_in, axe_js, device, path, who):
    page = open_as(new_page, signed_in, device, who)
    page.goto(path)
    expect(page.get_by_role("heading", level=1)).to_have_count(1)
    assert_accessible(page, axe_js, f"{path} ({device})")


@pytest.mark.parametrize("device", DEVICES)
def test_an_open_proposal_with_its_vote_form(new_page, signed_in, axe_js, device):
    page = open_as(new_page, signed_in, device, "Grace Liu")
    page.goto("/proposals")
    page.locator("main").get_by_role("link", name="after three weeks").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("after three weeks")
    assert_accessible(page, axe_js, f"open proposal ({device})")
