"""The page checker: worker processes parse and verify pulled pages exactly as
Log.check_lines does here, split between them, and a worker that dies costs nothing but
time."""

from __future__ import annotations

import time

import pytest
from kithtest import Clock

from appliance.box import Box
from appliance.db import database
from appliance.log import check_lines
from sync.checker import Handed, PageChecker

WAIT_FOR_WORKERS_S = 60


@pytest.fixture(scope="module")
def lines(tmp_path_factory) -> list[bytes]:
    """The wire lines of 40 records a box wrote."""
    box = Box.create(tmp_path_factory.mktemp("box") / "box")
    box.log.now_ms = Clock(1_767_225_600_000)
    for n in range(40):
        box.log.append("member.joined", {"name": f"Member {n}"})
    written = list(box.log.export())
    database.close()
    return written


def tampered(line: bytes) -> bytes:
    """The line with one byte of its signature changed."""
    at = line.index(b'"sig":"') + 10
    return line[:at] + (b"A" if line[at : at + 1] != b"A" else b"B") + line[at + 1 :]


def mixed_page(lines: list[bytes]) -> list[bytes]:
    """Good records, a tampered one, a blank line, non-JSON, re-spaced JSON, a newline."""
    return [
        lines[0],
        tampered(lines[1]),
        b"",
        lines[2],
        b"not json at all",
        lines[3].replace(b'","', b'", "', 1),
        lines[4] + b"\n",
        lines[5],
    ]


def handed(checker: PageChecker, page: list[bytes], workers: int) -> Handed:
    """Submit a page until it is split between `workers` workers (started before)."""
    deadline = time.monotonic() + WAIT_FOR_WORKERS_S
    while True:
        ticket = checker.submit(page)
        if isinstance(ticket, Handed) and len(ticket.parts) == workers:
            return ticket
        checker.result(ticket, page)
        assert time.monotonic() < deadline, "the checker's workers never came up"
        time.sleep(0.05)


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_check_a_page_as_check_lines_does(lines, workers):
    page = mixed_page(lines)
    expected = check_lines(page)
    assert [c.error is None for c in expected] == [True, False, True, False, False, True, True]
    with PageChecker(workers) as checker:
        assert checker.start() and not checker.start()
        ticket = handed(checker, page, workers)
        assert checker.submit(page) == expected  # busy with a page: this one checked here
        assert checker.result(ticket, page) == expected  # line numbers run across the parts
        for first in (6, 20):  # free again: the next pages go to the workers too
            more = lines[first : first + 15]
            ticket = checker.submit(more)
            assert isinstance(ticket, Handed)
            assert checker.result(ticket, more) == check_lines(more)
        assert checker.running


def test_a_checker_never_started_checks_here(lines):
    with PageChecker() as checker:
        assert checker.submit(lines) == check_lines(lines)
        assert not checker.running
    with PageChecker(workers=0) as checker:  # a one-core box
        assert not checker.start()
        assert checker.submit(lines[:2]) == check_lines(lines[:2])


def test_the_part_of_a_worker_that_dies_is_checked_here(lines):
    page = mixed_page(lines) + lines[10:30]
    with PageChecker(2) as checker:
        checker.start()
        ticket = handed(checker, page, 2)
        # As the kernel might, short of memory: the second part's worker, so the part
        # checked here keeps its line numbers from the middle of the page.
        dying = ticket.parts[1][0].process
        dying.kill()
        # SIGKILL lands when the kernel gets to it: wait, or on a loaded machine the
        # worker may still look alive at the next submit (it had answered already).
        dying.wait(timeout=30)
        assert checker.result(ticket, page) == check_lines(page)
        ticket = checker.submit(page)  # the other worker goes on alone
        assert isinstance(ticket, Handed) and len(ticket.parts) == 1
        last = ticket.parts[0][0].process
        last.kill()
        last.wait(timeout=30)
        assert checker.result(ticket, page) == check_lines(page)
        assert checker.submit(page) == check_lines(page)  # none left: all checked here
        assert not checker.running
