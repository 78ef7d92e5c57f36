"""Dates as people and records write them (strictly YYYY-MM-DD), and days in the centre's
time zone: what "today" is there, and when a day starts."""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from appliance.errors import N_

if TYPE_CHECKING:
    from appliance.box import Box

DAY_MS = 86_400_000
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_day(text: str) -> datetime.date:
    """Return the date for 'YYYY-MM-DD'; raise ValueError for any other spelling.

    Python 3.11's fromisoformat also takes '20260105' and week dates; records and URLs
    accept one spelling only, so the same day is always written the same way.
    """
    if not isinstance(text, str) or not _DAY.match(text):
        raise ValueError(f"not a YYYY-MM-DD date: {text!r}")
    return datetime.date.fromisoformat(text)


def check_range(values: Mapping[str, str], errors: dict[str, str], bad_day: str) -> None:
    """Note in `errors` a "from" or "to" that is not a date, or a "to" before the "from".

    `bad_day` is the message for a date spelt another way (the caller's own wording).
    """
    days = {}
    for name in ("from", "to"):
        if values.get(name):
            try:
                days[name] = parse_day(values[name])
            except ValueError:
                errors[name] = bad_day
    if len(days) == 2 and days["from"] > days["to"]:
        errors["to"] = N_("The end date is before the start date.")


def zone(box: Box) -> ZoneInfo:
    """Return the centre's time zone."""
    return ZoneInfo(box.settings["timezone"])


def local_time(box: Box, ms: int) -> datetime.datetime:
    """Return a moment (ms since the epoch) as the centre's clocks show it."""
    return datetime.datetime.fromtimestamp(ms / 1000, zone(box))


def local_day(box: Box, ms: int | None = None) -> datetime.date:
    """Return the centre's date at a moment (default: now, by the box's clock)."""
    return local_time(box, box.log.now_ms() if ms is None else ms).date()


def local_ms(box: Box, day: datetime.date, at: datetime.time) -> int:
    """Return the moment (ms since the epoch) a local date and time fall on at the centre."""
    return int(datetime.datetime.combine(day, at, zone(box)).timestamp() * 1000)


def day_start_ms(box: Box, day: datetime.date) -> int:
    """Return the moment a day starts at the centre (midnight there), in ms since the epoch."""
    return local_ms(box, day, datetime.time())
