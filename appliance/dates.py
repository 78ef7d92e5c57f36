"""Dates as people and records write them: strictly YYYY-MM-DD."""

from __future__ import annotations

import datetime
import re

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_day(text: str) -> datetime.date:
    """Return the date for 'YYYY-MM-DD'; raise ValueError for any other spelling.

    Python 3.11's fromisoformat also takes '20260105' and week dates; records and URLs
    accept one spelling only, so the same day is always written the same way.
    """
    if not isinstance(text, str) or not _DAY.match(text):
        raise ValueError(f"not a YYYY-MM-DD date: {text!r}")
    return datetime.date.fromisoformat(text)
