"""Fixtures for the core: a box with a centre on its own database, members and staff."""

from __future__ import annotations

import pytest
from boxes import START_MS, member, new_box, with_role
from kithtest import Clock

from appliance.box import Box
from appliance.services.accounts import Actor


@pytest.fixture
def clock() -> Clock:
    """The box's clock, at 2026-01-01 12:00 UTC until a test advances it."""
    return Clock(START_MS)


@pytest.fixture
def box(tmp_path, clock) -> Box:
    """A fresh box with a centre named Test Centre and its default categories."""
    return new_box(tmp_path / "box", clock, centre_name="Test Centre")


@pytest.fixture
def alice(box) -> Actor:
    return member(box, "Alice")


@pytest.fixture
def bob(box) -> Actor:
    return member(box, "Bob")


@pytest.fixture
def staff(box) -> Actor:
    return with_role(box, "Sam Staff", "staff")


@pytest.fixture
def admin(box) -> Actor:
    return with_role(box, "Ada Admin", "admin")
