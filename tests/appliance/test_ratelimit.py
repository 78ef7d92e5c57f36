"""The sliding-window limiter on its own: counts, windows, keys, giving back, memory."""

from __future__ import annotations

import threading

from kithtest import Clock

from appliance.ratelimit import HOUR_MS, LIMITS, MINUTE_MS, SWEEP_MS, Limit, Limiter

START = 1_800_000_000_000


def limiter(clock: Clock, **limits: Limit) -> Limiter:
    return Limiter(clock, {"act": limits} if limits else LIMITS)


def test_the_limits_are_the_documented_ones():
    assert LIMITS["post"] == {"account": Limit(10, HOUR_MS), "address": Limit(30, HOUR_MS)}
    assert LIMITS["comment"] == {"account": Limit(30, HOUR_MS), "address": Limit(60, HOUR_MS)}
    assert LIMITS["flag"] == {"account": Limit(20, HOUR_MS), "address": Limit(40, HOUR_MS)}
    assert LIMITS["signup"] == {"address": Limit(5, HOUR_MS)}
    assert LIMITS["login"] == {
        "name": Limit(10, 15 * MINUTE_MS),
        "address": Limit(30, 15 * MINUTE_MS),
    }


def test_a_limit_is_hit_and_lifted_as_the_window_slides():
    clock = Clock(START)
    lim = limiter(clock, account=Limit(3, HOUR_MS))
    for _ in range(3):
        assert lim.take("act", {"account": "a"})[0] is None
        clock.advance(10 * MINUTE_MS)
    # Three in the last hour: the first of them leaves the window 30 minutes from now.
    refusal, _ = lim.take("act", {"account": "a"})
    assert refusal is not None
    assert (refusal.action, refusal.by, refusal.retry_ms) == ("act", "account", 30 * MINUTE_MS)
    clock.advance(30 * MINUTE_MS - 1)
    assert lim.take("act", {"account": "a"})[0].retry_ms == 1
    clock.advance(1)
    assert lim.take("act", {"account": "a"})[0] is None
    # A refused attempt is not counted: the next one is only as far off as before.
    refusal, _ = lim.take("act", {"account": "a"})
    assert refusal.retry_ms == 10 * MINUTE_MS


def test_keys_are_counted_apart():
    clock = Clock(START)
    lim = limiter(clock, account=Limit(1, HOUR_MS), address=Limit(2, HOUR_MS))
    assert lim.take("act", {"account": "a", "address": "10.0.0.1"})[0] is None
    # Another account from the same address: its own count, the address's shared.
    assert lim.take("act", {"account": "b", "address": "10.0.0.1"})[0] is None
    refusal, _ = lim.take("act", {"account": "c", "address": "10.0.0.1"})
    assert refusal.by == "address"
    # The same account from another address: the account's own limit.
    refusal, _ = lim.take("act", {"account": "a", "address": "10.0.0.2"})
    assert refusal.by == "account"
    # Nothing was counted for the refused attempts: 10.0.0.2 is still free.
    assert lim.take("act", {"account": "d", "address": "10.0.0.2"})[0] is None


def test_the_longest_wait_is_the_one_reported():
    clock = Clock(START)
    lim = limiter(clock, account=Limit(1, HOUR_MS), address=Limit(1, 15 * MINUTE_MS))
    lim.take("act", {"account": "a", "address": "x"})
    refusal, _ = lim.take("act", {"account": "a", "address": "x"})
    assert (refusal.by, refusal.retry_ms) == ("account", HOUR_MS)


def test_an_event_given_back_does_not_count():
    clock = Clock(START)
    lim = limiter(clock, account=Limit(2, HOUR_MS))
    for _ in range(5):
        refusal, at = lim.take("act", {"account": "a"})
        assert refusal is None
        lim.give_back("act", {"account": "a"}, at)
    lim.take("act", {"account": "a"})
    lim.take("act", {"account": "a"})
    assert lim.take("act", {"account": "a"})[0] is not None


def test_expired_keys_are_dropped():
    clock = Clock(START)
    lim = limiter(clock, address=Limit(5, HOUR_MS))
    for n in range(1000):
        lim.take("act", {"address": f"10.0.{n // 250}.{n % 250}"})
    assert len(lim) == 1000
    clock.advance(HOUR_MS + SWEEP_MS)
    lim.take("act", {"address": "10.9.9.9"})
    assert len(lim) == 1


def test_threads_never_count_past_the_limit():
    clock = Clock(START)
    lim = limiter(clock, account=Limit(50, HOUR_MS))
    allowed = []

    def hammer():
        for _ in range(40):
            if lim.take("act", {"account": "a"})[0] is None:
                allowed.append(1)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(allowed) == 50
