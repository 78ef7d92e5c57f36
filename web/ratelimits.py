"""Rate limits on posting, commenting, flagging, sign-up and login (filled in by its helper)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Check every limited action before its view runs."""
