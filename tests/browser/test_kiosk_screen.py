"""The kiosk in headless Chromium, on a 1920x1080 TV and a 1080x1920 portrait touch screen:
the QR code read back from a screenshot, the rotation, a server that goes away and comes
back, the page without JavaScript, axe-core, and staff posting for a walk-in visitor.

The kiosk's box is its own `kith demo` box served on a port chosen here, so a test can
stop the server and start it again where the open page expects it. Its `public_url`
setting is that server's own address, so the address in the QR code can be opened.
"""

from __future__ import annotations

import datetime
import io
import re
import socket
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest
import zxingcpp
from kithtest import KITH, NO_BACKGROUND_SYNC, on_box, serving
from PIL import Image
from playwright.sync_api import expect
from test_accessibility import assert_accessible

pytestmark = pytest.mark.browser

TV = {"viewport": {"width": 1920, "height": 1080}}
PORTRAIT = {"viewport": {"width": 1080, "height": 1920}, "has_touch": True}
SCREENS = {"tv": TV, "portrait": PORTRAIT}
STILL = {"reduced_motion": "reduce"}  # no fade while a screenshot is taken

# kiosk.js's timings, in the page's (fake) milliseconds.
SLIDE_MS = 12_000
POLL_MAX_MS = 30_000  # 25 s +- 20 %
RETRY_MAX_MS = 144_000  # 120 s + 20 %
T0 = datetime.datetime(2030, 1, 1, 12, 0, tzinfo=datetime.UTC)

NEW_POST = """
import json, sys
from appliance.box import Box
from appliance.models import Member
from appliance.services import accounts, board
box = Box.open(sys.argv[1])
priya = accounts.actor_for(box, Member.get(Member.name == "Priya Shah").id)
data = {"type": "need", "title": sys.argv[2], "details": "", "category": "household",
        "place": "Main hall", "needed_by": ""}
print(json.dumps(board.create_post(box, priya, data)))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def kiosk_box(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("kiosk") / "box"
    done = subprocess.run(
        [KITH, "--data", str(data), "demo"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return data


@contextmanager
def served(data: Path, port: int, log: Path):
    """Serve the box on 127.0.0.1:port with public_url set to that address."""
    env = {**NO_BACKGROUND_SYNC, "KITH_PUBLIC_URL": f"http://127.0.0.1:{port}/"}
    with serving("--data", str(data), log=log, env=env, port=port) as (_, url):
        assert url == env["KITH_PUBLIC_URL"]
        yield url


@pytest.fixture(scope="module")
def kiosk_url(kiosk_box) -> str:
    with served(kiosk_box, free_port(), kiosk_box.parent / "serve.log") as url:
        yield url


def open_kiosk(new_page, url: str, screen: str = "tv", **options):
    page = new_page("desktop", **{**SCREENS[screen], **options})
    page.goto(url + "kiosk")
    expect(page.locator("html")).to_contain_class("k-js")
    return page


def qr_loaded(page) -> None:
    img = page.locator(".k-qr img")
    expect(img).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())


# --- the screen and its QR code ---------------------------------------------------------------


@pytest.mark.parametrize("screen", SCREENS)
def test_the_qr_code_in_a_screenshot_opens_the_board_it_shows(
    new_page, kiosk_url, shots_dir, screen
):
    page = open_kiosk(new_page, kiosk_url, screen, **STILL)
    qr_loaded(page)
    shown = page.locator(".k-url").inner_text()
    assert shown == kiosk_url

    png = page.screenshot(path=shots_dir / f"kiosk-{screen}.png")
    codes = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert [(c.format, c.text) for c in codes] == [(zxingcpp.BarcodeFormat.QRCode, shown)]

    # A phone that scans it gets the board.
    phone = new_page("phone")
    phone.goto(codes[0].text)
    expect(phone.locator(".posts .card").first).to_be_visible()


@pytest.mark.parametrize("screen", SCREENS)
def test_one_screen_that_fits_in_type_read_across_a_room(new_page, kiosk_url, screen):
    page = open_kiosk(new_page, kiosk_url, screen, **STILL)
    width, height = SCREENS[screen]["viewport"].values()
    scroll = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
    )
    assert scroll == [width, height], "the kiosk must not scroll"
    for part in (".k-now", ".k-qr", ".k-food", ".k-should", ".k-wall"):
        box = page.locator(part).bounding_box()
        assert box["x"] >= 0 and box["y"] >= 0, part
        assert box["x"] + box["width"] <= width and box["y"] + box["height"] <= height, part
        expect(page.locator(part).locator("h2")).to_be_visible()

    def px(selector: str) -> float:
        size = page.locator(selector).first.evaluate("e => getComputedStyle(e).fontSize")
        return float(size.removesuffix("px"))

    assert px(".k-slide.k-current h3") >= 48  # the post in the big panel
    assert px(".k-list li") >= 20  # the lists beside it
    qr = page.locator(".k-qr img").bounding_box()
    assert min(qr["width"], qr["height"]) >= 200


def test_posts_take_turns_and_pause_stops_them(new_page, kiosk_url):
    page = new_page("desktop", **TV)
    page.clock.install(time=T0)
    page.clock.pause_at(T0 + datetime.timedelta(seconds=1))
    page.goto(kiosk_url + "kiosk")
    slides = page.locator(".k-rotation > li")
    count = slides.count()
    assert count >= 3
    expect(page.locator(".k-rotation > li:visible")).to_have_count(1)
    titles = slides.locator("h3").all_text_contents()
    current = page.locator(".k-slide.k-current h3")
    expect(current).to_have_text(titles[0])
    expect(page.locator(".k-count")).to_have_text(f"1 / {count}")

    page.clock.run_for(SLIDE_MS)
    expect(current).to_have_text(titles[1])
    expect(page.locator(".k-count")).to_have_text(f"2 / {count}")

    pause = page.get_by_role("button", name="Pause")
    pause.click()
    expect(pause).to_have_attribute("aria-pressed", "true")
    page.clock.run_for(3 * SLIDE_MS)
    expect(current).to_have_text(titles[1])
    pause.click()
    page.clock.run_for(SLIDE_MS)
    expect(current).to_have_text(titles[2])


def test_without_javascript_the_kiosk_is_a_plain_list(new_page, kiosk_url):
    page = new_page("desktop", java_script_enabled=False, **TV)
    page.goto(kiosk_url + "kiosk")
    slides = page.locator(".k-rotation > li")
    assert slides.count() >= 3
    for i in range(slides.count()):
        expect(slides.nth(i).locator("h3")).to_be_visible()
    expect(page.get_by_role("button", name="Pause")).to_be_hidden()
    expect(page.locator(".k-qr img")).to_be_visible()
    expect(page.locator(".k-count")).to_be_hidden()


@pytest.mark.parametrize("screen", SCREENS)
def test_axe_finds_nothing_serious(new_page, kiosk_url, axe_js, screen):
    page = open_kiosk(new_page, kiosk_url, screen, bypass_csp=True)  # axe is an inline script
    qr_loaded(page)
    assert_accessible(page, axe_js, f"the kiosk ({screen})")


# --- the server goes away and comes back -------------------------------------------------------


class Polls:
    """Counts the page's requests for /kiosk/state and its navigations."""

    def __init__(self, page):
        self.page = page
        self.state = 0
        self.documents = 0
        self.answers: list[int] = []  # statuses of the state requests that were answered
        page.on("request", self._seen)
        page.on("response", self._answered)

    def _answered(self, response):
        if "/kiosk/state" in response.url:
            self.answers.append(response.status)

    def _seen(self, request):
        if "/kiosk/state" in request.url:
            self.state += 1
        elif request.resource_type == "document" and request.frame == self.page.main_frame:
            self.documents += 1

    def run_for(self, ms: int, step: int = 4_000) -> None:
        """Let the page's clock run, step by step, each poll answered before the next."""
        for _ in range(-(-ms // step)):  # at least ms
            self.page.clock.run_for(step)
            expect(self.page.locator("#k-live")).not_to_have_attribute("aria-busy", "true")


def test_the_kiosk_keeps_its_board_while_the_server_is_away(new_page, kiosk_box, tmp_path):
    port = free_port()
    page = new_page("desktop", **TV)
    page.clock.install(time=T0)
    page.clock.pause_at(T0 + datetime.timedelta(seconds=1))
    polls = Polls(page)
    note = page.locator("#k-offline")
    titles = page.locator(".k-rotation h3")

    with served(kiosk_box, port, tmp_path / "first.log") as url:
        page.goto(url + "kiosk")
        expect(page.locator("html")).to_contain_class("k-js")
        page.evaluate("window.kithMarker = 'the same page'")
        board = titles.all_text_contents()
        polls.run_for(POLL_MAX_MS)
        assert polls.state == 1
        expect(note).to_have_text("")

    # Away for ten minutes: the last good board stays, with a quiet note, and the
    # retries back off instead of hammering the box as it starts again.
    before = polls.state
    polls.run_for(600_000)
    expect(note).to_have_text("Reconnecting… showing the board as it was.")
    assert titles.all_text_contents() == board
    expect(page.locator(".k-qr img")).to_be_visible()
    retries = polls.state - before
    assert 6 <= retries <= 11, f"{retries} retries in 10 minutes (24 without backing off)"

    title = "Posted while the kiosk was reconnecting"
    post_id = on_box(kiosk_box, NEW_POST, title)
    with served(kiosk_box, port, tmp_path / "second.log"):
        polls.run_for(RETRY_MAX_MS + 4_000)
        expect(note).to_have_text("")
        expect(titles.filter(has_text=title)).to_have_count(1)
        assert page.locator(f'.k-slide[data-id="{post_id}"]').count() == 1

        # Back to polite polling: every 20 to 30 seconds.
        before, answered = polls.state, len(polls.answers)
        polls.run_for(300_000)
        assert 8 <= polls.state - before <= 16
        assert set(polls.answers[answered:]) == {304}, "an unchanged board costs a 304"

    assert page.evaluate("window.kithMarker") == "the same page"
    assert polls.documents == 1, "the kiosk must never navigate (only its first load)"


# --- staff post for a walk-in visitor from the kiosk -------------------------------------------


def test_staff_post_for_a_visitor_from_the_kiosk(new_page, kiosk_url, axe_js):
    page = new_page("desktop", bypass_csp=True, **PORTRAIT)  # bypass_csp: for axe
    page.goto(kiosk_url + "login?next=/kiosk")
    page.get_by_label("Your name").fill("Priya Shah")
    page.get_by_label("Password").fill("kith-demo")
    page.locator("main").get_by_role("button", name="Log in").click()
    page.wait_for_url("**/kiosk")

    page.get_by_role("link", name="Post for a visitor").tap()
    page.wait_for_url(re.compile(r".*/staff/assisted/new\?back=kiosk$"))
    page.get_by_role("button", name="Post it for them").tap()
    expect(page.locator("#e-title")).to_be_visible()
    assert_accessible(page, axe_js, "the form to post for a visitor, with errors")
    page.get_by_role("radio", name="I need something").check()
    page.get_by_label("Title").fill("Someone to read letters with me")
    page.get_by_label("Where").fill("Main hall")
    page.get_by_label("Category").select_option(label="Something else")
    page.get_by_label("Their name").fill("Mr Adeyemi")
    page.get_by_label("Phone, email, or when they come in").fill("Thursdays at the lunch club")
    page.get_by_role("button", name="Post it for them").tap()
    # Back to the kiosk, which names nobody: it is the screen in the hall.
    page.wait_for_url("**/kiosk")
    expect(page.locator(".flash")).to_have_text("Posted for the visitor.")
    assert "Adeyemi" not in page.content() and "lunch club" not in page.content()
    assert_accessible(page, axe_js, "the kiosk after posting for a visitor")

    # The visitor's details are on the staff list only.
    page.goto(kiosk_url + "staff/assisted")
    card = page.locator(".assisted-posts li", has_text="Someone to read letters with me")
    expect(card.locator(".visitor-contact")).to_have_text(
        "Visitor: Mr Adeyemi · Thursdays at the lunch club"
    )
    assert_accessible(page, axe_js, "posts made for visitors, as staff see them")
    card.get_by_role("link", name="Someone to read letters with me").click()
    page.wait_for_url("**/posts/*")
    post_url = page.url
    expect(page.locator(".assisted")).to_have_text(
        "Posted with help from staff at Millbrook Community Centre"
    )
    assert "Adeyemi" not in page.content()  # not even for staff: this page may be on show

    visitor = new_page("phone")
    visitor.goto(post_url)
    expect(visitor.locator(".assisted")).to_have_text(
        "Posted with help from staff at Millbrook Community Centre"
    )
    expect(visitor.locator(".visitor-contact")).to_have_count(0)
    assert "Adeyemi" not in visitor.content()
