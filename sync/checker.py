"""Checking pulled pages in worker processes while this process stores the previous page.

Verifying a record (Log.check_lines: parse, canonical bytes, Ed25519) costs more than
storing it, and cryptography's Ed25519 verify holds the GIL, so threads would not help:
during a long pull, worker processes check the next page, split between them, while
this process stores the current one. A worker costs a Python start-up, so only a pull
far behind its peer starts them (sync.client); until they are up, and if one fails,
pages are checked here.

A worker is a plain child Python running `serve` over pipes, not multiprocessing, whose
spawn would import the parent's __main__ again, and whose fork would copy open SQLite
connections and the server's threads.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pickle
import select
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

# Only what a worker needs: every worker imports this module, and its start-up is time the
# pull waits for (appliance.log, for the parent's side, is imported where it is used).
from appliance.records import Record, RecordError, parse

if TYPE_CHECKING:
    from appliance.log import Checked

# One worker per core, up to two: with this process and the server that sends the pages,
# that keeps a four-core box busy. A one-core box gains nothing from a worker.
WORKERS = 0 if (os.cpu_count() or 1) < 2 else 2
_COMMAND = "import sys; sys.path.insert(0, {root!r}); from sync.checker import serve; serve()"
_READY = "ready"


def _check_plain(lines: list[bytes], offset: int) -> list[tuple]:
    """Log.check_lines, numbered from offset + 1 and answered in plain tuples (a Record
    does not pickle: it forwards unknown attributes to its fields). The same loop, without
    importing the log and the database: tests keep the two answers equal."""
    answer: list[tuple] = []
    for number, line in enumerate(lines, start=offset + 1):
        if not line.strip():
            continue
        try:
            rec = parse(line)
        except RecordError as exc:
            answer.append((number, str(exc)))
            continue
        answer.append((number, rec.id, rec.raw, rec.fields))
    return answer


def _unplain(answer: list[tuple]) -> list[Checked]:
    from appliance.log import Checked  # noqa: F811 - the class itself, for the parent only

    return [
        Checked(t[0], record=Record(id=t[1], raw=t[2], fields=t[3]))
        if len(t) == 4
        else Checked(t[0], error=t[1])
        for t in answer
    ]


def _check_here(lines: list[bytes], offset: int = 0) -> list[Checked]:
    from appliance.log import check_lines

    checked = check_lines(lines)
    return [dataclasses.replace(c, line=c.line + offset) for c in checked] if offset else checked


def serve() -> None:
    """Run as a worker: read (offset, lines), answer their checks, until stdin closes."""
    # Ctrl-C at `kith sync` reaches the whole process group: the parent stops the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing else may write into the answer stream
    pickle.dump(_READY, answers)
    answers.flush()
    while True:
        try:
            offset, lines = pickle.load(requests)
        except EOFError:
            return
        pickle.dump(_check_plain(lines, offset), answers, protocol=pickle.HIGHEST_PROTOCOL)
        answers.flush()


class _Worker:
    """One child Python checking lines."""

    def __init__(self):
        root = str(Path(__file__).resolve().parents[1])
        self.process = subprocess.Popen(
            [sys.executable, "-c", _COMMAND.format(root=root)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self.ready = False

    def up(self) -> bool:
        """Return True once the worker has said it is ready (never waits)."""
        if not self.ready and self.process.poll() is None:
            readable, _, _ = select.select([self.process.stdout], [], [], 0)
            if readable:
                self.ready = pickle.load(self.process.stdout) == _READY
        return self.ready

    def send(self, offset: int, lines: list[bytes]) -> None:
        pickle.dump((offset, lines), self.process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        self.process.stdin.flush()

    def receive(self) -> list[Checked]:
        return _unplain(pickle.load(self.process.stdout))

    def stop(self) -> None:
        """End the worker at once: it holds nothing worth a goodbye."""
        self.process.kill()
        self.process.wait()
        with contextlib.suppress(OSError):  # a page half-written to a dead worker
            self.process.stdin.close()
        self.process.stdout.close()


_FAILED = (EOFError, OSError, pickle.UnpicklingError)


@dataclass(frozen=True)
class Handed:
    """A page given to the workers: (worker or None for here, first line, end) per part."""

    parts: list[tuple[_Worker | None, int, int]]


class PageChecker:
    """Checks pulled pages here, or split between worker processes once started."""

    def __init__(self, workers: int = WORKERS):
        self._count = workers
        self._workers: list[_Worker] = []
        self._started = False  # never twice, even after the workers failed
        self._busy = False  # a page is with the workers

    def start(self) -> bool:
        """Start the workers for the pages to come; return True the first time."""
        if self._started or not self._count or not sys.executable:
            return False
        self._started = True
        for _ in range(self._count):
            try:
                self._workers.append(_Worker())
            except OSError:  # no process to spare (or a sandbox forbids it): check here
                break
        return True

    @property
    def running(self) -> bool:
        """True once a worker is up (and has not failed)."""
        return bool(self._ready())

    @property
    def starting(self) -> bool:
        """True while workers have been started and none is up yet."""
        return bool(self._workers) and not self._ready()

    def _ready(self) -> list[_Worker]:
        ready = []
        for worker in list(self._workers):
            if worker.process.poll() is not None:
                self._drop(worker)  # it died after answering its last part
                continue
            try:
                if worker.up():
                    ready.append(worker)
            except _FAILED:
                self._drop(worker)
        return ready

    def _drop(self, worker: _Worker) -> None:
        self._workers.remove(worker)
        worker.stop()

    def submit(self, lines: list[bytes]) -> list[Checked] | Handed:
        """Split a page between the free workers (Handed) or, if none, check it here."""
        ready = [] if self._busy else self._ready()
        if not ready or not lines:
            return _check_here(lines)
        count = min(len(ready), len(lines))
        bounds = [len(lines) * i // count for i in range(count + 1)]
        parts = []
        for worker, start, end in zip(ready, bounds, bounds[1:], strict=False):
            try:
                worker.send(start, lines[start:end])
                parts.append((worker, start, end))
            except _FAILED:
                self._drop(worker)
                parts.append((None, start, end))
        self._busy = True
        return Handed(parts)

    def result(self, submitted: list[Checked] | Handed, lines: list[bytes]) -> list[Checked]:
        """Return a page's checked lines, given what submit returned for the same lines."""
        if not isinstance(submitted, Handed):
            return submitted
        self._busy = False
        checked: list[Checked] = []
        for worker, start, end in submitted.parts:
            if worker is not None and worker in self._workers:
                try:
                    checked.extend(worker.receive())
                    continue
                except _FAILED:
                    self._drop(worker)  # it died: its part is checked here
            checked.extend(_check_here(lines[start:end], start))
        return checked

    def close(self) -> None:
        """Stop the workers, if any were started."""
        while self._workers:
            self._drop(self._workers[0])
        self._busy = False

    def __enter__(self) -> PageChecker:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
