"""The calling side of sync: pair with a box by address, and run a round with a peer.

A round pulls pages until the peer has nothing more we accept, then pushes what the
peer lacks. Every pulled page is applied through `Log.ingest` together with the
cursor, so a round cut off at any point resumes where it stopped.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import json
import urllib.parse
from dataclasses import dataclass, field

from appliance import backup
from appliance.box import Box
from appliance.services import peers
from sync import exchange
from sync.auth import sign_request
from sync.checker import PageChecker

TIMEOUT_S = 30
# Records behind a peer from which a pull starts page checkers: fewer are verified here in
# less time than the workers take to start.
WORKERS_FROM = 2000


class SyncError(Exception):
    """A round or a pairing that could not finish; the message is for staff."""


@dataclass
class RoundResult:
    """What one round with one peer did."""

    peer: str
    name: str
    pulled: int = 0
    pushed: int = 0
    duplicates: int = 0
    pages: int = 0
    error: str | None = None
    rejected: list[str] = field(default_factory=list)


def _request(box: Box, url: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    """Send one signed request to a box; return (status, body)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise SyncError(f"{url} is not an http:// address of a box")
    full_path = (parts.path.rstrip("/") or "") + path
    method = "GET" if body is None else "POST"
    headers = sign_request(box.log.key, method, full_path, body or b"", box.log.now_ms())
    headers["Content-Type"] = "application/json"
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=TIMEOUT_S)
    try:
        conn.request(method, full_path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    except OSError as exc:
        raise SyncError(f"cannot reach {url}: {exc.strerror or exc}") from None
    except http.client.HTTPException as exc:
        raise SyncError(f"{url} answered something that is not HTTP: {exc}") from None
    finally:
        conn.close()


def _error_of(status: int, body: bytes) -> str:
    try:
        return f"{status}: {json.loads(body)['error']}"
    except (ValueError, KeyError, TypeError):
        return f"{status}: {body[:200]!r}"


def request_pairing(box: Box, url: str) -> dict:
    """Introduce this box to the box at `url`; return its hello with the pairing code.

    Nothing is trusted yet: staff at both boxes must confirm the same code.
    """
    own_url = None  # a box behind NAT is reached by nobody; it calls its peers
    body = json.dumps({"name": box.centre.name, "url": own_url}).encode()
    status, answer = _request(box, url, "/sync/v1/pair", body)
    if status != 200:
        raise SyncError(f"{url} refused to pair ({_error_of(status, answer)})")
    hello = json.loads(answer)
    peers.remember(box, hello["origin"], hello["name"], url.rstrip("/"))
    expected = peers.pairing_code(box.origin, hello["origin"])
    if hello.get("code") != expected:
        raise SyncError("the other box computed a different code: do not pair")
    return hello


def sync_round(box: Box, peer_origin: str) -> RoundResult:
    """Pull from and push to one paired peer until both hold what the other may send."""
    peer = peers.find(peer_origin)
    result = RoundResult(peer.origin, peer.name)
    try:
        if not peer.url:
            raise SyncError(f"{peer.name} has no address; it syncs by calling this box")
        if not peers.is_paired(box, peer.origin):
            raise SyncError(f"{peer.name} is not paired")
        about_them = _pull_all(box, peer, result)
        _push_all(box, peer, about_them, result)
    except SyncError as exc:
        result.error = str(exc)
        about_them = None
    peers.note_sync(box, peer.origin, result.pulled, result.pushed, result.error, about_them)
    if result.error is None:
        # The peer told us how far it holds our own origin: a restored box is safe again.
        backup.learned_from_peer(box, peer.origin, about_them.get("have", {}))
    return result


def _pull_all(box: Box, peer, result: RoundResult) -> dict:
    have = exchange.held(box)  # then kept up to date page by page
    ask = {"have": dict(have), "accepts": exchange.accepts(box)}
    page, checking = _pull_page(box, peer, ask), None
    long = False
    with PageChecker() as checker, contextlib.ExitStack() as long_pull:
        while True:
            header, lines, about_them = page
            origin = header.get("origin")
            if origin is None:
                return about_them
            if header["more"] and not long:
                # A long pull: SQLite set for bulk writes, the largest pages the protocol
                # allows and, if it is worth their start-up, worker processes checking
                # pages while this process stores them.
                long = True
                long_pull.enter_context(exchange.bulk_writes())
                if exchange.lag(have, ask["accepts"], about_them["have"]) >= WORKERS_FROM:
                    checker.start()
            # Pages stay small while the workers start: this process checks those itself.
            sizes = exchange.LONG_PULL_PAGES if long and not checker.starting else {}
            if checking is None:
                checking = checker.submit(lines)
            following = next_checking = None
            if header["more"]:
                # Fetch the next page before storing this one, so the workers check it
                # meanwhile. A failure to fetch it counts only once we get to it.
                next_ask = {
                    "have": {**have, origin: max(have.get(origin, 0), header["through"])},
                    "accepts": ask["accepts"],
                    **sizes,
                }
                try:
                    following = _pull_page(box, peer, next_ask)
                except SyncError as exc:
                    following = exc
            checked = checker.result(checking, lines)
            if isinstance(following, tuple) and following[0].get("origin") is not None:
                next_checking = checker.submit(following[1])
            _apply_page(box, peer, ask, page, checked, result)
            have[origin] = max(have.get(origin, 0), header["through"])
            accepts = exchange.accepts(box)
            if following is not None and accepts == ask["accepts"]:
                if isinstance(following, SyncError):
                    raise following
                ask, page, checking = next_ask, following, next_checking
                continue
            if next_checking is not None:  # asked with the trust we had before: drop it
                checker.result(next_checking, following[1])
            # A page may have brought trust in more boxes (a peer's trust.granted): ask again
            # at once for their records rather than a round later.
            if not header["more"] and accepts == ask["accepts"]:
                return about_them
            ask = {"have": dict(have), "accepts": accepts, **sizes}
            page, checking = _pull_page(box, peer, ask), None


def _pull_page(box: Box, peer, ask: dict) -> tuple[dict, list[bytes], dict]:
    """Request one page; return its header, its lines and what the peer says of itself."""
    status, answer = _request(box, peer.url, "/sync/v1/pull", json.dumps(ask).encode())
    if status != 200:
        raise SyncError(f"{peer.name} refused to send ({_error_of(status, answer)})")
    try:
        header, lines = exchange.parse_page(answer)
        about_them = {"have": header.get("have", {}), "accepts": header.get("accepts", {})}
    except (ValueError, TypeError) as exc:
        raise SyncError(f"{peer.name} sent a malformed page: {exc}") from None
    return header, lines, about_them


def _apply_page(box: Box, peer, ask: dict, page: tuple, checked: list, result: RoundResult):
    """Store a checked page and move our cursor, in one transaction; raise SyncError if refused."""
    header, lines, _ = page
    # Blank lines are neither in `lines` nor in `checked`: one checked entry per line.
    parsed = [c.record.fields if c.record else None for c in checked]
    if len(parsed) != len(lines):
        parsed = None
    try:
        exchange.check_page(header, lines, peer.origin, parsed)
    except (ValueError, TypeError) as exc:
        raise SyncError(f"{peer.name} sent a malformed page: {exc}") from None
    origin = header["origin"]
    if header["through"] <= ask["have"].get(origin, 0):
        raise SyncError(f"{peer.name} sent a page that does not move forward")
    advance = functools.partial(exchange.advance_cursor, peer.origin, origin, header["through"])
    outcome = box.log.ingest_checked(checked, also=advance)
    result.pages += 1
    if not outcome.ok:
        result.rejected = [f"line {r.line}: {r.reason}" for r in outcome.rejected]
        raise SyncError(
            f"refused a page from {peer.name}: {result.rejected[0]}"
            + (f" (and {len(result.rejected) - 1} more)" if len(result.rejected) > 1 else "")
        )
    result.pulled += len(outcome.accepted)
    result.duplicates += outcome.duplicates


def _push_all(box: Box, peer, about_them: dict, result: RoundResult) -> None:
    # Updated in place: after the round it is what the peer holds (kept for USB bundles).
    their_have = about_them.setdefault("have", {})
    accepts = about_them.get("accepts", {})
    ours = exchange.held(box)
    while (
        page := exchange.next_page(box, peer.origin, their_have, accepts, ours=ours)
    ) is not None:
        body = b"\n".join([page.header(), *page.lines]) + b"\n"
        status, answer = _request(box, peer.url, "/sync/v1/push", body)
        if status != 200:
            raise SyncError(f"{peer.name} refused what we sent ({_error_of(status, answer)})")
        reply = json.loads(answer)
        result.pushed += reply.get("accepted", 0)
        result.pages += 1
        their_have[page.origin] = page.through
