"""Pages of the governance area (issue 7): filled in by its helper."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("governance", __name__)
