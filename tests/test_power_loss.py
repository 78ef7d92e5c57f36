"""Power loss: SIGKILL a real `kith serve` while people are posting, then start it again.

A Pi in a community centre loses power whenever someone pulls the plug. Every post the
server answered for (it redirected to the new post, so the transaction had committed)
must be there after the restart, the database must check clean, and every record must
still verify. SIGKILL gives the process no chance to flush or close anything, which is
as close to pulling the plug as a test on one machine gets (the page cache survives, so
this checks SQLite's WAL recovery and our transactions, not the SD card itself).
"""

from __future__ import annotations

import http.client
import http.cookiejar
import re
import signal
import sqlite3
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from kithtest import KITH, SERVING, _first_line, init_args, kith, serving

PASSWORD = "a long enough password"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Visitor:
    """One phone: a cookie jar, following redirects, reading CSRF tokens from forms."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=10) as resp:
            return resp.read().decode()

    def post(self, path: str, fields: dict) -> str:
        """Send a form the way a browser does; return the URL it ended on."""
        token = CSRF.search(self.get(path)).group(1)
        body = urllib.parse.urlencode({**fields, "csrf_token": token}).encode()
        with self.opener.open(self.base + path, data=body, timeout=10) as resp:
            return resp.geturl()


def start(data: Path, log: Path) -> tuple[subprocess.Popen, str]:
    with log.open("wb") as err:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [KITH, "--data", str(data), "serve", "--host", "127.0.0.1", "--port", "0"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
        )
    line, out = _first_line(proc, 60)
    match = SERVING.match(line or "")
    assert match, f"kith serve did not start: {out!r} {log.read_text(errors='replace')}"
    return proc, match["url"]


def test_posts_answered_before_a_sigkill_survive_it(tmp_path, monkeypatch):
    monkeypatch.setenv("KITH_SYNC_INTERVAL_S", "0")
    data = tmp_path / "box"
    secret = tmp_path / "password"
    secret.write_text(PASSWORD)
    kith(*init_args(data, secret, "Riverside Hall", "--admin-name", "Sam Patel"))

    proc, url = start(data, tmp_path / "serve.log")
    confirmed: list[str] = []  # titles the server answered for with the new post's page
    stop = threading.Event()

    def keep_posting(phone: int) -> None:
        visitor = Visitor(url)
        visitor.post("login", {"name": "Sam Patel", "password": PASSWORD})
        n = 0
        while not stop.is_set():
            n += 1
            title = f"Phone {phone} post {n}"
            fields = {
                "type": "need",
                "title": title,
                "details": "Tins please",
                "category": "food",
                "place": "Main hall",
                "needed_by": "",
            }
            try:
                landed = visitor.post("new/form", fields)
            except (urllib.error.URLError, http.client.HTTPException, OSError):
                # The server is gone, perhaps half-way through an answer (IncompleteRead
                # is an HTTPException, not an OSError): this post may or may not have
                # committed, so it is not counted as answered.
                return
            assert "/posts/" in landed, f"posting went to {landed}"
            confirmed.append(title)

    phones = [threading.Thread(target=keep_posting, args=(i,)) for i in range(3)]
    try:
        for phone in phones:
            phone.start()
        # Pull the plug once the posting is well under way.
        while len(confirmed) < 30 and all(p.is_alive() for p in phones):
            threading.Event().wait(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        stop.set()
        for phone in phones:
            phone.join(timeout=30)
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        proc.stdout.close()
    assert len(confirmed) >= 30, "the phones stopped posting before the plug was pulled"

    db = sqlite3.connect(data / "kith.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        titles = {row[0] for row in db.execute("SELECT title FROM post")}
    finally:
        db.close()
    lost = [t for t in confirmed if t not in titles]
    assert not lost, f"{len(lost)} answered posts were lost: {lost[:5]}"
    assert "verify" in kith("--data", str(data), "log", "verify")

    # The box starts again and goes on taking posts.
    with serving("--data", str(data), log=tmp_path / "again.log") as (_, again):
        visitor = Visitor(again)
        visitor.post("login", {"name": "Sam Patel", "password": PASSWORD})
        fields = {
            "type": "need",
            "title": "After the power cut",
            "details": "",
            "category": "food",
            "place": "Main hall",
            "needed_by": "",
        }
        assert "/posts/" in visitor.post("new/form", fields)
