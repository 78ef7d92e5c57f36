"""Fixtures for the web front: a box with an admin, the Flask app with CSRF on, browsers.

Every browser is a separate Flask test client (its own cookie jar) that signs up and
logs in through the real /signup and /login forms and posts forms with the csrf_token
the page gave it, so the CSRF protection stays on in every test.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from kithtest import Clock
from pagetools import ADMIN, ADMIN_PASSWORD, PASSWORD, START_MS, Browser, actor

from appliance.box import Box
from appliance.commands.core import init_box
from appliance.services import accounts, members
from web import create_app


@pytest.fixture
def clock() -> Clock:
    """The box's clock: 2027-03-17 12:00 UTC (a Wednesday) until a test advances it."""
    return Clock(START_MS)


@pytest.fixture
def box(tmp_path, clock) -> Box:
    """A box made as `kith init` makes it: centre Test Centre, admin Admin (verified)."""
    box = init_box(tmp_path / "box", "Test Centre", ADMIN, ADMIN_PASSWORD)
    box.log.now_ms = clock
    return box


@pytest.fixture
def app(box):
    return create_app(box, {"TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def browser(client) -> Browser:
    """A visitor's browser: not signed in."""
    return Browser(client)


@pytest.fixture
def new_browser(app) -> Callable[..., Browser]:
    """Return a function making a fresh browser, signed up as `name` if one is given."""

    def make(name: str | None = None, headers: dict | None = None, contact: str = "") -> Browser:
        b = Browser(app.test_client(), headers)
        if name:
            response = b.signup(name, PASSWORD, contact)
            assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        return b

    return make


@pytest.fixture
def alice(new_browser) -> Browser:
    return new_browser("Alice")


@pytest.fixture
def bob(new_browser) -> Browser:
    return new_browser("Bob")


@pytest.fixture
def admin_client(app) -> Browser:
    """The admin (also staff) logged in through the login form."""
    b = Browser(app.test_client())
    response = b.login(ADMIN, ADMIN_PASSWORD)
    assert response.status_code == 302
    return b


@pytest.fixture
def staff_client(app, box) -> Browser:
    """A member the admin made staff (not admin), logged in through the login form."""
    staff_id = accounts.sign_up(box, "Sam Staff", PASSWORD)
    members.grant_role(box, actor(box, ADMIN), staff_id, "staff")
    b = Browser(app.test_client())
    response = b.login("Sam Staff")
    assert response.status_code == 302
    return b
