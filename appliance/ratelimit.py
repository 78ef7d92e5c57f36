"""Rate limits on posting, commenting, flagging, sign-up and login: a sliding window.

Each action has a limit per account (or, for login, per name typed) and per address:
at most `count` counted events in the last `window_ms`. Nothing is written down: the
counts live in memory, so a restart forgives everyone, and a refusal records nothing.

Hand-written rather than flask-limiter: the window must follow the box's clock
(box.log.now_ms, which tests move and a Pi without a real-time clock corrects), the
core must not import Flask, and flask-limiter's storage and clock do not fit either
need; what is needed is about forty lines.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS


@dataclass(frozen=True)
class Limit:
    """At most `count` events in any `window_ms`."""

    count: int
    window_ms: int


# action -> {what the key is: limit}. "account" is the signed-in member, "address" the
# network address a request came from, "name" the account name typed at login.
LIMITS: dict[str, dict[str, Limit]] = {
    "post": {
        # A busy organiser posts a few needs a day; ten an hour is far beyond that.
        "account": Limit(10, HOUR_MS),
        # A shared phone or a family's laptop: several people may post from it.
        "address": Limit(30, HOUR_MS),
    },
    "comment": {
        # A lively thread needs room; thirty an hour still stops a flood.
        "account": Limit(30, HOUR_MS),
        "address": Limit(60, HOUR_MS),
    },
    "flag": {
        # Flagging a run of spam is fine; flagging the whole board is not.
        "account": Limit(20, HOUR_MS),
        "address": Limit(40, HOUR_MS),
    },
    "signup": {
        # A household might make a few accounts; a script makes hundreds.
        "address": Limit(5, HOUR_MS),
    },
    "login": {
        # Failed attempts: enough for typos, far too few for guessing a password.
        "name": Limit(10, 15 * MINUTE_MS),
        "address": Limit(30, 15 * MINUTE_MS),
    },
}
# How often the whole table is swept of expired entries (memory stays bounded).
SWEEP_MS = MINUTE_MS


@dataclass(frozen=True)
class Refusal:
    """Why an event was refused: which key hit which limit, and when to try again."""

    action: str
    by: str
    limit: Limit
    retry_ms: int


class Limiter:
    """Sliding-window counts per (action, key kind, key), safe across waitress threads."""

    def __init__(self, clock: Callable[[], int], limits: dict[str, dict[str, Limit]] = LIMITS):
        self._clock = clock
        self._limits = limits
        self._lock = threading.Lock()
        self._hits: dict[tuple[str, str, str], deque[int]] = {}
        self._swept = clock()

    def take(self, action: str, keys: dict[str, str]) -> tuple[Refusal | None, int]:
        """Count one event for every key, unless one of them is at its limit.

        Returns (the refusal with the longest wait, or None) and the time counted, which
        give_back needs if the event should not count after all.
        """
        limits = self._limits[action]
        with self._lock:
            now = self._clock()
            self._sweep(now)
            refusals = []
            for by, key in keys.items():
                limit = limits[by]
                hits = self._current(action, by, key, limit, now)
                if len(hits) >= limit.count:
                    retry = hits[-limit.count] + limit.window_ms - now
                    refusals.append(Refusal(action, by, limit, max(retry, 1)))
            if refusals:
                return max(refusals, key=lambda r: r.retry_ms), now
            for by, key in keys.items():
                self._hits.setdefault((action, by, key), deque()).append(now)
            return None, now

    def give_back(self, action: str, keys: dict[str, str], at_ms: int) -> None:
        """Uncount an event taken at at_ms (it failed, so it should not count)."""
        with self._lock:
            for by, key in keys.items():
                hits = self._hits.get((action, by, key))
                if hits is not None and at_ms in hits:
                    hits.remove(at_ms)

    def _current(self, action: str, by: str, key: str, limit: Limit, now: int) -> deque[int]:
        hits = self._hits.get((action, by, key), deque())
        while hits and hits[0] <= now - limit.window_ms:
            hits.popleft()
        return hits

    def _sweep(self, now: int) -> None:
        # Drop every key whose newest event has left its window: forgotten addresses and
        # names would otherwise pile up for as long as the server runs.
        if now - self._swept < SWEEP_MS:
            return
        self._swept = now
        for entry in list(self._hits):
            action, by, _key = entry
            hits = self._hits[entry]
            if not hits or hits[-1] <= now - self._limits[action][by].window_ms:
                del self._hits[entry]

    def __len__(self) -> int:
        """Return how many keys are being counted (for tests of the memory bound)."""
        return len(self._hits)
