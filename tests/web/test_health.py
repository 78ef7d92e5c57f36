"""The staff health page, a restored box's pages, and a full disk."""

from __future__ import annotations

import logging
import re

from pagetools import ADMIN, ADMIN_PASSWORD, POST_DEFAULTS, Browser, Page, record_count

from appliance.backup import RESTORED_MESSAGE
from appliance.box import RESTORED_FILE, Box
from appliance.db import database
from web import create_app

CHECKS = ["Storage", "Database", "Last backup", "Last sync", "Clock", "Key files", "Restore"]


def headings(page) -> list[str]:
    return [h.text().split(":")[0] for h in page.find_all("h2")]


def test_staff_and_admins_see_every_check_with_what_to_do(staff_client, admin_client):
    for who in (staff_client, admin_client):
        page = who.get("/staff/health")
        assert headings(page) == CHECKS
        # A new box has never been backed up: that needs doing, and the page says how.
        backup = next(c for c in page.find_all("li", class_="card") if "Last backup" in c.text())
        assert "Needs action" in backup.text() and "Run kith backup now" in backup.text()
        assert page.one(role="alert").text().startswith("Something needs doing now")
        storage = page.find_all("li", class_="card")[0].text()
        assert re.search(r"Storage: Fine .* free of .* \(\d+%\)\.", storage), storage


def test_visitors_are_sent_to_log_in_and_members_refused(browser, alice):
    response = browser.get("/staff/health", status=302).response
    assert response.headers["Location"] == "/login?next=/staff/health"
    page = alice.get("/staff/health", status=403)
    assert page.one(role="alert").text() == "Only the centre's staff can do that."


def test_a_restored_box_explains_why_it_takes_no_posts(box, clock):
    (box.data_dir / RESTORED_FILE).write_text('{"seq": 12}')
    restored = Box.open(box.data_dir)  # as `kith serve` opens it after `kith restore`
    restored.log.now_ms = clock
    app = create_app(restored, {"TESTING": True})
    admin = Browser(app.test_client())
    assert admin.login(ADMIN, ADMIN_PASSWORD).status_code == 302  # a login signs nothing
    before = record_count(restored)

    page = admin.get("/new/form")
    response = admin.submit(page, data=POST_DEFAULTS)
    assert response.status_code == 409
    assert RESTORED_MESSAGE in response.get_data(as_text=True)
    assert record_count(restored) == before

    health = admin.get("/staff/health")
    restore = next(c for c in health.find_all("li", class_="card") if "Restore" in c.text())
    assert "up to record 12" in restore.text() and "kith sync" in restore.text()


def test_a_full_disk_shows_a_clear_page_and_a_log_line_and_loses_nothing(alice, box, caplog):
    # SQLite answers SQLITE_FULL ("database or disk is full") once the file may not grow.
    pages = database.execute_sql("PRAGMA page_count").fetchone()[0]
    database.execute_sql(f"PRAGMA max_page_count = {pages}")
    long_post = {**POST_DEFAULTS, "details": "Tins, pasta, rice. " * 200}
    for _ in range(20):  # a long post needs new pages; the first may still find room
        before = record_count(box)
        with caplog.at_level(logging.ERROR):
            response = alice.submit(alice.get("/new/form"), data=long_post)
        if response.status_code != 302:
            break
    assert response.status_code == 507
    page = Page(response)
    assert page.one(role="alert").text().startswith("The box's storage is full")
    assert any("storage is full" in r.getMessage() for r in caplog.records)
    assert record_count(box) == before  # nothing half-saved
    assert database.execute_sql("PRAGMA integrity_check").fetchall() == [("ok",)]
