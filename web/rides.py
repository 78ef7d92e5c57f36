"""(being written) community travel pages."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("rides", __name__)
