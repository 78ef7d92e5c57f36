"""The box's regular sweeps: "still needed?" checks, closing votes, and retention.

`kith sweep` runs them once; `kith serve` runs them hourly in a Sweeper thread. Each
sweep runs on its own, so one that fails (a bug, or a restored box that may not write
yet) is logged and the others still run.
"""

from __future__ import annotations

import importlib
import logging
import threading

from appliance.box import Box
from appliance.db import database
from appliance.errors import ServiceError

log = logging.getLogger("kith.sweep")

# name -> (module, function): each takes the box and returns its counts.
SWEEPS = {
    "stale": ("appliance.services.stale", "sweep"),
    "proposals": ("appliance.services.proposals", "close_due"),
    "retention": ("appliance.services.retention", "sweep"),
    # Once a day (it skips a day whose dump is written): the signed open-data dump.
    "open_data": ("appliance.services.open_dump", "daily"),
}
HOURLY_S = 3600.0
FIRST_AFTER_S = 60.0


def run_all(box: Box) -> dict:
    """Run every sweep once; return each one's counts and, under "errors", any failures."""
    results: dict = {}
    errors: dict[str, str] = {}
    for name, (module, function) in SWEEPS.items():
        try:
            # Imported here: each sweep's module is its area's, and one that cannot even
            # be imported must not stop the others.
            results[name] = getattr(importlib.import_module(module), function)(box)
        except ServiceError as exc:  # a refusal, e.g. a restored box not yet synced
            log.warning("the %s sweep did not run: %s", name, exc)
            errors[name] = str(exc)
        except Exception as exc:
            log.exception("the %s sweep failed", name)
            errors[name] = f"{type(exc).__name__}: {exc}"
    results["errors"] = errors
    return results


def summary(results: dict) -> str:
    """Return run_all's results as one line, e.g. "stale: 2; retention: sessions 3"."""
    parts = []
    for name in SWEEPS:
        if name in results["errors"]:
            parts.append(f"{name}: failed ({results['errors'][name]})")
            continue
        value = results.get(name)
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items()) or "nothing"
        parts.append(f"{name}: {value}")
    return "; ".join(parts)


class Sweeper:
    """A daemon thread running run_all every `interval_s`, the first time after `first_s`."""

    def __init__(self, box: Box, interval_s: float = HOURLY_S, first_s: float = FIRST_AFTER_S):
        self.box = box
        self.interval_s = interval_s
        self.first_s = first_s
        self.runs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kith-sweep", daemon=True)

    def start(self) -> Sweeper:
        """Start the thread."""
        self._thread.start()
        return self

    def stop(self, timeout: float = 10) -> None:
        """Stop after the sweep in progress, if any."""
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        # This thread has its own SQLite connection (peewee keeps one per thread).
        database.connect(reuse_if_open=True)
        try:
            wait = self.first_s
            while not self._stop.wait(wait):
                try:
                    results = run_all(self.box)
                    log.info("sweep: %s", summary(results))
                except Exception:  # a bug must not end the sweeps for good
                    log.exception("the sweeps failed")
                self.runs += 1
                wait = self.interval_s
        finally:
            database.close()
