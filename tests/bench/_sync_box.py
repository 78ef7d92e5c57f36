"""Child-process work for tests/bench/sync.py, each with one box open in its own process.

Usage:
  python tests/bench/_sync_box.py seed DATA N       fill DATA's box up to N records
  python tests/bench/_sync_box.py add DATA N        append N new records (posts and replies)
  python tests/bench/_sync_box.py sync DATA [--cprofile FILE]
                                                    run `kith --data DATA sync`, counting bytes
  python tests/bench/_sync_box.py profile SRC DATA N [--cprofile]
                                                    ingest SRC's first N records into DATA

Each prints progress lines and, last, one line "RESULT {json}". The box is opened in the
child, as `kith sync` opens it, while the box's `kith serve` keeps the same file open.
"""

from __future__ import annotations

import cProfile
import importlib
import json
import pstats
import random
import socket
import sqlite3
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TRANSACTION = 2000  # records appended per transaction while seeding
RECENT_POSTS = 300  # replies land on one of the newest posts, as on a real board
WORDS = (
    "bread tins pasta lift hospital duvet kettle streetlight drain crossing volunteers "
    "nappies shopping phone computer garden fence paint bike pram chairs tables soup "
    "blankets school bus pharmacy letters forms ladder drill coats shoes toys books"
).split()
PLACES = ["Main hall", "Car park", "Millbrook Road", "Riverside estate", "The library", "Park"]
SLUGS = ["food", "travel", "local-fix", "household", "volunteering", "other"]


def result(**values) -> None:
    print("RESULT " + json.dumps(values), flush=True)


def peak_rss(pid: int | str = "self") -> int:
    """Return a process's VmHWM (peak resident set) in bytes (0 if it has gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


# --- writing records ----------------------------------------------------------------------


class Writer:
    """Appends a believable mix of records through box.log.append: posts, comments, offers
    of help (and withdrawals), resolutions and thanks, replies spread over recent posts."""

    def __init__(self, box, rng: random.Random):
        from appliance.models import Helper, Member, Post

        self.box, self.rng = box, rng
        self.members = [m.id for m in Member.select(Member.id)]
        self.posts: list[dict] = []
        for post in Post.select().order_by(Post.created_ms.desc()).limit(RECENT_POSTS):
            helpers = [h.member for h in Helper.select().where(Helper.post == post.id)]
            self.posts.append(
                {
                    "id": post.id,
                    "author": post.author,
                    "helpers": helpers,
                    "resolved": post.status == "resolved",
                    "thanked": False,
                }
            )

    def text(self, low: int, high: int) -> str:
        return " ".join(self.rng.choice(WORDS) for _ in range(self.rng.randint(low, high)))

    def add_member(self, number: int) -> None:
        rec = self.box.log.append("member.joined", {"name": f"Neighbour {number}"})
        self.members.append(rec.id)

    def add_post(self) -> None:
        rng = self.rng
        author = rng.choice(self.members)
        body = {
            "type": rng.choice(("need", "offer", "should")),
            "title": self.text(3, 9).capitalize(),
            "details": self.text(5, 50),
            "category": rng.choice(SLUGS),
            "place": rng.choice(PLACES),
            "needed_by": None,
        }
        rec = self.box.log.append("post.created", body, author=author)
        self.posts.append(
            {"id": rec.id, "author": author, "helpers": [], "resolved": False, "thanked": False}
        )
        if len(self.posts) > RECENT_POSTS:
            self.posts.pop(0)

    def add_reply(self) -> None:
        """Append one record on a recent post: a comment, help, a resolution or thanks."""
        rng, append = self.rng, self.box.log.append
        post = rng.choice(self.posts)
        others = [m for m in self.members if m != post["author"]]
        roll = rng.random()
        if post["resolved"]:
            if post["helpers"] and not post["thanked"] and roll < 0.5:
                append(
                    "thanks.given",
                    {"helper": rng.choice(post["helpers"]), "message": self.text(3, 12)},
                    subject=post["id"],
                    author=post["author"],
                )
                post["thanked"] = True
            else:
                append(
                    "comment.added",
                    {"text": self.text(3, 25)},
                    subject=post["id"],
                    author=rng.choice(self.members),
                )
        elif roll < 0.55:
            append(
                "comment.added",
                {"text": self.text(3, 25)},
                subject=post["id"],
                author=rng.choice(self.members),
            )
        elif roll < 0.82:
            helper = rng.choice(others)
            append(
                "help.offered",
                {"mode": rng.choice(("can_help", "on_it"))},
                subject=post["id"],
                author=helper,
            )
            if helper not in post["helpers"]:
                post["helpers"].append(helper)
        elif roll < 0.85 and post["helpers"]:
            helper = post["helpers"].pop()
            append("help.withdrawn", {}, subject=post["id"], author=helper)
        else:
            append(
                "post.resolved",
                {"note": self.text(0, 8)},
                subject=post["id"],
                author=post["author"],
            )
            post["resolved"] = True

    def add(self, count: int, post_share: float = 0.3) -> None:
        for _ in range(count):
            if not self.posts or self.rng.random() < post_share:
                self.add_post()
            else:
                self.add_reply()


class DeferredRefolds:
    """While seeding, refold each entity once per transaction instead of once per record.

    Records still go through the real Log.append (signed, stored, counters moved); only
    projection.refold is held back, and every touched entity refolded (refold_many) before
    the commit.
    A projection is a function of the records alone, so the box ends as it would have.
    """

    def __init__(self):
        from appliance import projection

        self.projection, self.refold = projection, projection.refold
        self.pending: dict[str, None] = {}

    def __enter__(self):
        self.projection.refold = self.pending.setdefault
        return self

    def flush(self) -> None:
        self.projection.refold_many(self.pending)
        self.pending.clear()

    def __exit__(self, *exc_info) -> None:
        self.projection.refold = self.refold


def seed(data: str, target: int) -> None:
    from appliance.box import Box
    from appliance.db import database
    from appliance.models import StoredRecord

    box = Box.open(Path(data))
    writer = Writer(box, random.Random(target))
    started = time.perf_counter()
    with database.atomic():
        for number in range(40 - len(writer.members)):
            writer.add_member(number)
    have = StoredRecord.select().count()
    last_report = have
    with DeferredRefolds() as deferred:
        while have < target:
            step = min(TRANSACTION, target - have)
            with database.atomic():
                writer.add(step)
                deferred.flush()
            have += step
            if have - last_report >= 10_000 or have == target:
                seconds = time.perf_counter() - started
                print(f"  seeded {have}/{target} records ({seconds:.0f} s)", flush=True)
                last_report = have
    database.close()
    result(records=have, seconds=time.perf_counter() - started)


def add(data: str, count: int) -> None:
    from appliance.box import Box
    from appliance.db import database

    box = Box.open(Path(data))
    writer = Writer(box, random.Random(time.time_ns()))
    with database.atomic():
        writer.add(count)
    database.close()
    result(added=count)


# --- syncing ------------------------------------------------------------------------------


class Wire:
    """Counts the bytes this process sends and receives on its sockets: the HTTP request
    and response lines, headers and bodies (what TCP carries; not the TCP/IP headers)."""

    sent = received = connections = 0

    @classmethod
    def install(cls) -> None:
        sock = socket.socket
        sendall, send, recv, recv_into, connect = (
            sock.sendall,
            sock.send,
            sock.recv,
            sock.recv_into,
            sock.connect,
        )

        def count_sendall(self, data, *args):
            cls.sent += len(memoryview(data).cast("B"))
            return sendall(self, data, *args)

        def count_send(self, data, *args):
            n = send(self, data, *args)
            cls.sent += n
            return n

        def count_recv(self, *args):
            data = recv(self, *args)
            cls.received += len(data)
            return data

        def count_recv_into(self, buffer, *args):
            n = recv_into(self, buffer, *args)
            cls.received += n
            return n

        def count_connect(self, address):
            cls.connections += 1
            return connect(self, address)

        sock.sendall, sock.send, sock.recv = count_sendall, count_send, count_recv
        sock.recv_into, sock.connect = count_recv_into, count_connect


def cpu_seconds(who: int | None = None) -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF if who is None else who)
    return usage.ru_utime + usage.ru_stime


def measure_workers() -> list[int]:
    """Note each page checker's peak RSS as it is stopped; return the list they go into.

    (The kernel's figure for ended children counts the parent's pages a child shares
    between fork and exec, so it would report this process's size, not the worker's.)
    """
    from sync import checker

    peaks: list[int] = []
    stop = checker._Worker.stop

    def measured_stop(worker) -> None:
        peaks.append(peak_rss(worker.process.pid))
        stop(worker)

    checker._Worker.stop = measured_stop
    return peaks


def children_cpu() -> float:
    """Return the CPU seconds of this process's ended children (the sync's page checkers)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def sync(data: str, profile_to: str | None = None) -> None:
    """Run `kith --data DATA sync` in this process (the same entry point as the command),
    optionally under cProfile with the stats written to `profile_to`."""
    Wire.install()
    from appliance import cli

    # cmd_sync imports these lazily; imported here so the timing leaves imports out. So
    # is the codec the socket module imports on its first name lookup (IDNA, even for
    # 127.0.0.1): about 2 ms of import that every `kith sync` pays at start-up.
    for module in ("appliance.services.peers", "sync.client", "encodings.idna"):
        importlib.import_module(module)

    workers_rss = measure_workers()
    profiler = cProfile.Profile() if profile_to else None
    cpu = cpu_seconds()
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    status = cli.main(["--data", data, "sync"])
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile_to)
    seconds = time.perf_counter() - started
    sys.stdout.flush()
    result(
        status=status,
        seconds=seconds,
        cpu=cpu_seconds() - cpu,
        workers=len(workers_rss),
        workers_cpu=children_cpu(),
        workers_rss=max(workers_rss, default=0),
        sent=Wire.sent,
        received=Wire.received,
        requests=Wire.connections,
        peak_rss=peak_rss(),
    )


# --- profiling the ingest -----------------------------------------------------------------


def pages(source: str, origin: str, count: int, per_page: int, max_bytes: int):
    """Yield pages of the source box's first `count` records of one origin, cut as a
    pull cuts them (at most per_page records and max_bytes), read with plain sqlite3."""
    db = sqlite3.connect(f"file:{Path(source) / 'kith.db'}?mode=ro", uri=True)
    rows = db.execute(
        "SELECT seq, raw FROM stored_record WHERE origin = ? AND scope = 'federation' "
        "ORDER BY seq LIMIT ?",
        (origin, count),
    )
    page, size = [], 0
    for seq, raw in rows:
        if page and (len(page) >= per_page or size + len(raw) + 1 > max_bytes):
            yield page
            page, size = [], 0
        page.append((seq, bytes(raw)))
        size += len(raw) + 1
    if page:
        yield page
    db.close()


def profile(source: str, data: str, count: int, use_cprofile: bool) -> None:
    """Ingest the source box's first records, page by page with the cursor, into a copy of
    an empty paired box; time the parse alone and the whole ingest, optionally profiled."""
    from appliance.box import Box
    from appliance.records import parse
    from sync import exchange

    src = sqlite3.connect(f"file:{Path(source) / 'kith.db'}?mode=ro", uri=True)
    origin = src.execute("SELECT origin FROM box_state").fetchone()[0]
    src.close()
    loaded = list(pages(source, origin, count, exchange.MAX_PAGE_RECORDS, exchange.MAX_PAGE_BYTES))
    records = sum(len(p) for p in loaded)

    started = time.perf_counter()
    for page in loaded:
        for _, raw in page:
            parse(raw)
    parse_seconds = time.perf_counter() - started

    box = Box.open(Path(data))
    peer = origin
    profiler = cProfile.Profile() if use_cprofile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    for page in loaded:
        through = page[-1][0]
        outcome = box.log.ingest(
            [raw for _, raw in page],
            also=lambda through=through: exchange.advance_cursor(peer, origin, through),
        )
        if not outcome.ok:
            raise SystemExit(f"ingest refused a page: {outcome.rejected[:3]}")
    if profiler:
        profiler.disable()
    ingest_seconds = time.perf_counter() - started
    # What every pull pays before any record moves: the vector each side computes.
    started = time.perf_counter()
    exchange.held(box)
    held_seconds = time.perf_counter() - started
    if profiler:
        print(f"cProfile of Log.ingest over {records} records in {len(loaded)} pages:")
        stats = pstats.Stats(profiler, stream=sys.stdout)
        stats.sort_stats("tottime").print_stats(15)
        stats.sort_stats("cumulative").print_stats(r"/(appliance|sync)/", 30)
    result(
        records=records,
        pages=len(loaded),
        parse=parse_seconds,
        ingest=ingest_seconds,
        held=held_seconds,
    )


def main(argv: list[str]) -> None:
    command, *rest = argv
    if command == "seed":
        seed(rest[0], int(rest[1]))
    elif command == "add":
        add(rest[0], int(rest[1]))
    elif command == "sync":
        sync(rest[0], rest[2] if rest[1:2] == ["--cprofile"] else None)
    elif command == "profile":
        profile(rest[0], rest[1], int(rest[2]), "--cprofile" in rest)
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
