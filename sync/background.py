"""Syncing in the background while `kith serve` runs: every few minutes, and at once
when a paired box appears on the network."""

from __future__ import annotations

import logging
import threading
import time

from appliance.box import Box
from appliance.db import database
from appliance.services import peers
from sync.client import sync_round

log = logging.getLogger("kith.sync")


class BackgroundSync:
    """A daemon thread running sync rounds with every paired peer that has an address."""

    def __init__(self, box: Box, interval_s: float, discovery=None):
        self.box = box
        self.interval_s = interval_s
        self.discovery = discovery
        self._seen: set[str] = set()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kith-sync", daemon=True)

    def start(self) -> BackgroundSync:
        """Start the thread; the first round runs straight away."""
        self._thread.start()
        return self

    def wake(self) -> None:
        """Run a round now (a peer appeared), not at the next interval."""
        self._wake.set()

    def stop(self, timeout: float = 10) -> None:
        """Stop after the round in progress, if any."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def round(self) -> list:
        """Sync once with every paired peer that has an address; return the results."""
        results = []
        for peer in peers.list_peers(self.box):
            if peer["paired"] and peer["url"] and not self._stop.is_set():
                result = sync_round(self.box, peer["origin"])
                if result.error:
                    log.warning("sync with %s stopped: %s", result.name, result.error)
                results.append(result)
        return results

    def _appeared(self) -> bool:
        """Note paired boxes seen on the LAN (and their address); True if one just came."""
        if self.discovery is None:
            return False
        paired = {p["fingerprint"]: p for p in peers.list_peers(self.box) if p["paired"]}
        seen = set()
        for box in self.discovery.nearby():
            peer = paired.get(box.fp)
            if peer and box.addresses:
                seen.add(box.fp)
                peers.set_address(peer["origin"], f"http://{box.addresses[0]}:{box.port}")
        appeared = bool(seen - self._seen)
        self._seen = seen
        return appeared

    def _run(self) -> None:
        # This thread has its own SQLite connection (peewee keeps one per thread).
        database.connect(reuse_if_open=True)
        try:
            next_round = 0.0
            while not self._stop.is_set():
                try:
                    if self._appeared() or time.monotonic() >= next_round:
                        self.round()
                        next_round = time.monotonic() + self.interval_s
                except Exception:  # a bug must not end background sync for good
                    log.exception("background sync round failed")
                # Look at the LAN often, sync when due or when a paired box appears.
                self._wake.wait(min(self.interval_s, 15))
                if self._wake.is_set() and not self._stop.is_set():
                    next_round = 0.0
                self._wake.clear()
        finally:
            database.close()
