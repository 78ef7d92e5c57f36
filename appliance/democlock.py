"""The demo's clock: it backdates a new demo box's records so the board has a history.

An HLC only moves forward, so the clock must be the box's from its very first record;
the demo moves it on (`jump`) to each moment it tells a story about, and every reading
steps it a little so records keep their order. It never reads later than the real
clock, so nothing is stamped in the future.
"""

from __future__ import annotations

from appliance.log import wall_clock_ms

DAY_MS = 86_400_000
MINUTE_MS = 60_000


class DemoClock:
    def __init__(self, start_ms: int, step_ms: int = 10 * MINUTE_MS, real=wall_clock_ms):
        self.t = start_ms
        self.step = step_ms
        self.real = real
        # A box made by the demo starts weeks back; an existing box's demo is stamped now.
        self.backdated = start_ms < real() - 7 * DAY_MS

    def __call__(self) -> int:
        reading = min(self.t, self.real())
        self.t += self.step
        return reading

    def jump(self, ms: int) -> None:
        """Move on to a later moment (never back: the HLC would not follow)."""
        self.t = max(self.t, ms)
