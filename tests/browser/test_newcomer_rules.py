"""Issue 7's "done when", end to end in Chromium on a phone: a newcomer to the demo box
reads and accepts the code of conduct, comments, reports a post two members already
reported so it is hidden pending review and listed in the moderation log, downloads
their data, and erases their account; a paired centre's box forgets them too.

Two real boxes: the demo box (made by `kith demo`) and a neighbouring centre's box,
paired and synced with the real commands, each served by `kith serve` on loopback.
The newcomer's name, contact and comment are searched for in both boxes' database
files (and WAL) after the erasure.
"""

from __future__ import annotations

import json
import re
import subprocess
from contextlib import ExitStack
from urllib.parse import urlsplit

import pytest
from conftest import DEVICES, LOCAL_HOSTS
from kithtest import KITH, init_args, kith, pair, serving
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

NAME = "Zinnia Marchbank"
PASSWORD = "newcomer-password-1"
CONTACT = "zinnia-4417@heronpost.example"
COMMENT = "I can bring quince jam from Wrenfold allotments"
FLAGGED = "Designer handbags half price, message me"
FOOD_POST = "Tinned tomatoes and pasta for Friday's food bank"
SECRETS = [NAME, CONTACT, COMMENT]


def settle(data) -> None:
    """Sync a box with its peers until a round moves nothing."""
    for _ in range(4):
        out = kith("--data", str(data), "sync")
        if " 0 in, 0 out" in out:
            return
    raise AssertionError(f"syncing did not settle: {out}")


def disk(data) -> bytes:
    """A box's database file and its WAL, as bytes."""
    db = data / "kith.db"
    wal = db.with_name("kith.db-wal")
    return db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


@pytest.fixture(scope="module")
def centres(tmp_path_factory):
    """The demo box and a neighbour's box, served and paired; yield their dirs and URLs."""
    root = tmp_path_factory.mktemp("newcomer")
    demo, neighbour = root / "demo", root / "neighbour"
    done = subprocess.run(
        [KITH, "--data", str(demo), "demo"], capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stdout + done.stderr
    password = root / "password"
    password.write_text("neighbour-admin-password\n")
    kith(*init_args(neighbour, password, "Riverside Centre"))
    with ExitStack() as stack:
        _, demo_url = stack.enter_context(serving("--data", str(demo), log=root / "demo.log"))
        stack.enter_context(serving("--data", str(neighbour), log=root / "neighbour.log"))
        pair(neighbour, demo, demo_url)
        settle(neighbour)
        yield {"demo": demo, "neighbour": neighbour, "url": demo_url}


@pytest.fixture(scope="module")
def phone(browser, centres):
    """A phone's browser on the demo box; only loopback requests are let through."""
    context = browser.new_context(base_url=centres["url"], **DEVICES["phone"])
    context.set_default_timeout(10_000)
    off_host: list[str] = []

    def keep_local(route):
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            off_host.append(route.request.url)
            route.abort()

    context.route("**/*", keep_local)
    yield context.new_page()
    context.close()
    assert not off_host, off_host


def test_a_newcomer_reads_the_rules_reports_and_leaves_without_a_trace(phone, centres):
    page = phone
    # Sign up, then read and accept the code of conduct before taking part.
    page.goto("/signup")
    page.get_by_label("Your name").fill(NAME)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Phone or email for the centre's staff").fill(CONTACT)
    page.locator("main").get_by_role("button", name="Sign up").click()
    page.wait_for_url(lambda url: urlsplit(url).path == "/")
    page.get_by_role("link", name="Code of conduct").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Code of conduct")
    expect(page.locator("main")).to_contain_text("No adverts or selling for profit")
    page.get_by_role("button", name="I have read and accept the code of conduct").click()
    expect(page.locator(".flash")).to_be_visible()

    # Take part: a comment on a food bank's need.
    page.goto("/?q=tomatoes")
    page.get_by_role("link", name=FOOD_POST).click()
    page.get_by_label("Add a comment").fill(COMMENT)
    page.get_by_role("button", name="Post comment").click()
    expect(page.locator(".flash")).to_contain_text("Your comment is posted.")

    # Two members reported the handbags advert; the newcomer's report hides it.
    page.goto("/?q=handbags")
    page.get_by_role("link", name=FLAGGED).click()
    post_path = urlsplit(page.url).path
    page.get_by_text("Report this post").click()
    page.get_by_label("What is wrong?").first.select_option(label="Spam")
    page.get_by_role("button", name="Send report").first.click()
    expect(page.locator(".flash")).to_contain_text("Enough people reported it")
    assert page.goto(post_path).status == 404
    page.goto("/?q=handbags")
    expect(page.get_by_role("link", name=FLAGGED)).to_have_count(0)

    page.get_by_role("link", name="Moderation log").click()
    first = page.locator("ol.modlog > li").first
    expect(first).to_contain_text("was hidden")
    expect(first).to_contain_text("Automatically, after flags from members")
    expect(first).to_contain_text("Flagged by members, waiting for staff")
    log_text = page.locator("main").inner_text()
    assert FLAGGED not in log_text and NAME not in log_text and "Rob Quick" not in log_text

    # The neighbour's box receives the comment (and her name) by sync.
    settle(centres["neighbour"])
    assert NAME.encode() in disk(centres["neighbour"])

    # Everything held about her, as a page and as a JSON download.
    page.get_by_role("link", name="Your data").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your data")
    expect(page.locator("main")).to_contain_text(CONTACT)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download all of it (JSON)").click()
    data = json.loads(download.value.path().read_text(encoding="utf-8"))
    assert data["profile"]["name"] == NAME
    assert COMMENT in json.dumps(data)

    # Erase the account, keeping the comment as by "A former member".
    page.get_by_role("link", name="Erase my account").first.click()
    page.get_by_label(re.compile("Keep them")).check()
    page.get_by_label("Your password, to confirm it is you").fill(PASSWORD)
    page.locator("main").get_by_role("button", name="Erase my account").click()
    page.wait_for_url("**/account/goodbye")
    page.goto("/?q=tomatoes")
    page.get_by_role("link", name=FOOD_POST).click()
    comments = page.locator("#comments")
    expect(comments).to_contain_text(COMMENT)  # kept, as she chose
    expect(comments).to_contain_text("A former member")
    expect(page.locator("body")).not_to_contain_text(NAME)

    # Both boxes forget her name and contact, on disk too.
    settle(centres["neighbour"])
    for box in ("demo", "neighbour"):
        held = disk(centres[box])
        for value in (NAME, CONTACT):
            assert value.encode() not in held, (box, value)
