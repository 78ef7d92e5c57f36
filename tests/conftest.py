"""Fixtures for every test folder.

tests/ has no __init__.py, so with pytest's default "prepend" import mode importing this
file puts tests/ on sys.path: every test module and conftest below can `import kithtest`,
whether the whole suite runs or a single folder or file.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# With tests/ on sys.path, the folders tests/appliance and tests/web would pass for
# namespace packages `appliance` and `web` (and hide the real ones) unless the project
# root is on sys.path too. `python -m pytest` run from the root puts it there; the
# `pytest` script, or a run from another folder, does not.
ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.append(ROOT)


@pytest.fixture(autouse=True)
def _close_database():
    """Close the one shared peewee handle after each test, whatever box it was opened on.

    Defined here, it is set up before and torn down after every autouse fixture of a
    folder's conftest or a test module.
    """
    from appliance.db import database

    yield
    if not database.is_closed():
        database.close()
