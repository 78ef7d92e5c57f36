"""Fixtures for the browser tests: a real demo box served by `kith serve`, driven by
Debian's headless Chromium through Playwright's sync API.

One box, one server and one browser serve the whole session; every test gets fresh
browser contexts (its own cookies), so tests stay independent and fast. Nothing here
downloads a browser: if Chromium or axe-core is missing the tests fail and say to run
`bash tests/setup`.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from kithtest import KITH, serving

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE_JS = ROOT / "tests" / ".axe" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = Path("/tmp/kith-shots")

DEMO_PASSWORD = "kith-demo"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "user_agent": (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36"
    ),
}
DESKTOP = {
    "viewport": {"width": 1280, "height": 800},
    "user_agent": (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
    ),
}

DEVICES = {"phone": PHONE, "desktop": DESKTOP}

LOCAL_HOSTS = {"127.0.0.1"}


def _require(path: Path, what: str) -> None:
    if not path.exists():
        pytest.fail(
            f"{what} is missing ({path}). Run `bash tests/setup` to install the browser "
            "test requirements (Debian's chromium and axe-core).",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def axe_js() -> Path:
    """Path to axe-core's axe.min.js, installed by tests/setup."""
    _require(AXE_JS, "axe-core")
    return AXE_JS


@pytest.fixture(scope="session")
def shots_dir() -> Path:
    """Where screenshots go: outside the repository, for a human to look at."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


@pytest.fixture(scope="session")
def demo_box(tmp_path_factory) -> Path:
    """A box filled with demo content by the real `kith demo` command."""
    data = tmp_path_factory.mktemp("kith-browser") / "box"
    done = subprocess.run(
        [KITH, "--data", str(data), "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )
    if done.returncode != 0:
        pytest.fail(
            f"`kith demo` failed with status {done.returncode}:\n{done.stdout}{done.stderr}",
            pytrace=False,
        )
    return data


@pytest.fixture(scope="session")
def server_url(demo_box: Path) -> Iterator[str]:
    """Run `kith serve --host 127.0.0.1 --port 0` on the demo box; yield its base URL."""
    with serving("--data", str(demo_box), log=demo_box.parent / "serve.log") as (_, url):
        yield url


# Module scope, not session: while Playwright's sync API is live in this process,
# zeroconf (tests/sync/test_discovery.py, later in the same run) cannot run its event
# loop and times out; ending Chromium with each browser module keeps the two apart.
@pytest.fixture(scope="module")
def browser() -> Iterator:
    """One headless Debian Chromium per test module."""
    _require(CHROMIUM, "Debian's chromium")
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            try:
                yield browser
            finally:
                browser.close()
    finally:
        # Playwright's sync API leaves its stopped event loop set as this thread's loop.
        asyncio.set_event_loop(None)


@pytest.fixture
def new_page(browser, server_url) -> Iterator[Callable]:
    """Open a page in a fresh context: new_page("phone" or "desktop", **context options).

    Requests to anything but the local server are aborted and fail the test, and so do
    uncaught JavaScript errors, console errors (a CSP violation shows up as one) and
    stylesheets or scripts that fail to load. Pages answering 4xx on purpose (a form
    with a problem is a 400) are fine: their console "Failed to load resource" line is
    left to the tests that look at the page.
    """
    contexts = []
    off_host: list[str] = []
    js_errors: list[str] = []
    bad_assets: list[str] = []

    def on_console(page, msg):
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            js_errors.append(f"{page.url}: {msg.text}")

    def on_response(response):
        kind = response.request.resource_type
        if kind in ("stylesheet", "script", "image", "font") and response.status >= 400:
            bad_assets.append(f"{response.status} {response.url}")

    def keep_local(route):
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            off_host.append(route.request.url)
            route.abort()

    def open_page(device: str, **options):
        context = browser.new_context(base_url=server_url, **{**DEVICES[device], **options})
        contexts.append(context)
        context.set_default_timeout(10_000)
        context.route("**/*", keep_local)
        page = context.new_page()
        page.on("pageerror", lambda exc: js_errors.append(f"{page.url}: {exc}"))
        page.on("console", lambda msg: on_console(page, msg))
        page.on("response", on_response)
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not off_host, f"the pages tried to reach other hosts: {off_host}"
    assert not js_errors, "JavaScript errors in the browser:\n" + "\n".join(js_errors)
    assert not bad_assets, f"assets failed to load: {bad_assets}"


def _submit_login(page, name: str, password: str = DEMO_PASSWORD, next_path: str = "/"):
    """Sign in through the real login form and wait to land on next_path."""
    page.goto(f"/login?next={next_path}")
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Password").fill(password)
    page.locator("main").get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: urlsplit(url).path == next_path)
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name=name).is_visible(), f"{name} is not logged in"
    return page


@pytest.fixture
def log_in() -> Callable:
    """log_in(page, name): sign in through the real login form and wait for the board."""
    return _submit_login


@pytest.fixture(scope="module")
def signed_in(browser, server_url) -> Callable[[str], dict]:
    """signed_in(name) -> a storage state with that demo account logged in, for
    new_page(..., storage_state=...). Logs in once per name through the real form."""
    states: dict[str, dict] = {}

    def state(name: str) -> dict:
        if name not in states:
            context = browser.new_context(base_url=server_url, **DESKTOP)
            try:
                _submit_login(context.new_page(), name)
                states[name] = context.storage_state()
            finally:
                context.close()
        return states[name]

    return state
