"""Pages of the privacy area (issue 7): filled in by its helper."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("privacy", __name__)
