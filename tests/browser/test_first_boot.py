"""First boot in Chromium: a real `kith serve` on an empty data dir, set up from a phone
with JavaScript off, landing on the live board logged in as the admin; then setup is
refused; and axe-core scans of the setup page.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest
from kithtest import serving
from playwright.sync_api import expect
from test_accessibility import assert_accessible

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
CENTRE = "Hillside Community Centre"
ADMIN = "Ada Admin"
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}


@pytest.fixture
def empty_box_url(tmp_path) -> Iterator[str]:
    """`kith serve` on a data dir with no box yet; yield its base URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KITH_")}
    env.update(HOME=str(tmp_path / "home"), KITH_SYNC_INTERVAL_S="0")
    data = tmp_path / "box"
    with serving("--data", str(data), env=env, log=tmp_path / "serve.log") as (name, url):
        assert name == "the first-boot setup"
        yield url


@pytest.fixture
def open_page(browser, empty_box_url) -> Iterator[Callable]:
    """open_page(device options, **context options): a page on the new box's server.

    Requests anywhere but the box are aborted and fail the test, as do JavaScript and
    console errors (a CSP violation is one).
    """
    contexts, off_host, errors = [], [], []

    def keep_local(route):
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            off_host.append(route.request.url)
            route.abort()

    def on_console(msg):
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            errors.append(msg.text)

    def make(device: dict, **options):
        context = browser.new_context(base_url=empty_box_url, **device, **options)
        contexts.append(context)
        context.set_default_timeout(15_000)
        context.route("**/*", keep_local)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", on_console)
        return page

    yield make
    for context in contexts:
        context.close()
    assert not off_host, f"the pages tried to reach other hosts: {off_host}"
    assert not errors, f"errors in the browser: {errors}"


def start_the_board(page):
    page.locator("main").get_by_role("button", name="Start the board").click()


def test_first_boot_from_a_phone_without_javascript(open_page, shots_dir):
    page = open_page(PHONE, java_script_enabled=False)
    page.goto("/")
    assert urlsplit(page.url).path == "/setup"
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up your centre's board")
    categories = page.get_by_label("Categories")
    assert "Household items" in categories.input_value()

    page.get_by_label("The centre's name").fill(CENTRE)
    page.get_by_label("Admin's name").fill(ADMIN)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("The same password again").fill(PASSWORD + " typo")
    categories.fill(categories.input_value() + "\nBooks")
    page.get_by_label("Wifi name").fill("Hillside Guest")
    page.get_by_label("Wifi password").fill("welcome-in")
    start_the_board(page)

    # The mistake is shown beside its field; the rest of the answers are kept.
    assert urlsplit(page.url).path == "/setup"
    again = page.get_by_label("The same password again")
    expect(page.locator("#e-password_again")).to_contain_text("The two passwords are different")
    expect(again).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("The centre's name")).to_have_value(CENTRE)
    assert "Books" in page.get_by_label("Categories").input_value().splitlines()
    page.screenshot(path=str(shots_dir / "first-boot-phone-error.png"), full_page=True)

    page.get_by_label("Password", exact=True).fill(PASSWORD)
    again.fill(PASSWORD)
    start_the_board(page)
    page.wait_for_url(lambda url: urlsplit(url).path == "/")

    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name=ADMIN)).to_be_visible()
    expect(nav.get_by_role("link", name="Staff")).to_be_visible()
    expect(page.locator(".flash")).to_contain_text("Your board is ready")
    expect(page.locator("header .brand")).to_have_text(CENTRE)
    page.screenshot(path=str(shots_dir / "first-boot-phone-board.png"), full_page=True)

    # The admin's categories are the board's.
    page.goto("/staff/centre")
    expect(page.get_by_label("Name of category books")).to_have_value("Books")

    # A second visit to setup, from the admin's phone or anyone else's, is refused.
    response = page.goto("/setup")
    assert response.status == 404
    expect(page.locator("main form")).to_have_count(0)
    other = open_page(PHONE, java_script_enabled=False)
    assert other.goto("/setup").status == 404
    other.goto("/")
    expect(other.locator("header .brand")).to_have_text(CENTRE)
    expect(
        other.get_by_role("navigation", name="Main").get_by_role("link", name="Log in")
    ).to_be_visible()


@pytest.mark.parametrize("device", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_setup_page_is_accessible(open_page, axe_js, device):
    page = open_page(device, bypass_csp=True)  # axe is injected as an inline script
    page.goto("/setup")
    assert_accessible(page, axe_js, "the setup page")

    start_the_board(page)  # nothing filled in: every required field has a message
    expect(page.locator(".problem")).to_be_visible()
    expect(page.locator("#e-centre")).to_be_visible()
    assert_accessible(page, axe_js, "the setup page with mistakes")
