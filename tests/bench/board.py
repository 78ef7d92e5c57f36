"""Benchmark: the board page against a hello-world route on the same waitress server.

Run:  .venv/bin/python tests/bench/board.py [--posts 10000] [--concurrency 8]

Builds a box with --posts posts in a temporary directory (or --data DIR, reused if it
already holds a box), starts one waitress server in a subprocess serving the box's app
with an extra /hello route, and loads `/` and `/hello` with the same client (a pool of
threads, each with its own keep-alive http.client connection to 127.0.0.1), each bounded
by a request count and a time limit. Prints requests/s, their ratio, p50/p99 latency, the
board page's size and the server's memory. Targets (from the issue): ratio >= 0.5, board
page < 40 KB, server RSS < 60 MB. The script prints figures; it asserts no timings.

`--profile N` also runs cProfile in this process over N board renders (app.test_client)
and prints where the time goes.

Not a test: pytest does not collect it (its name does not start with test_).
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

HOST = "127.0.0.1"
PASSWORD = "bench-password"
TARGET_RATIO = 0.5
TARGET_PAGE_BYTES = 40_000  # 40 KB
TARGET_RSS_BYTES = 60_000_000  # 60 MB

MEMBERS = ["Ada Lovelace", "Ben Okri", "Chloe Park", "Dan Ruiz", "Esi Mensah"]
PLACES = ["Main hall", "Car park", "Millbrook Road", "Riverside estate", "The library", "Park"]
WORDS = (
    "bread tins pasta lift hospital duvet kettle streetlight drain crossing volunteers "
    "nappies shopping phone computer garden fence paint bike pram chairs tables soup "
    "blankets school bus pharmacy letters forms ladder drill coats shoes toys books"
).split()


# --- building the box -------------------------------------------------------------------


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def build_box(data_dir: Path, posts: int, seed: int = 1) -> tuple[float, int]:
    """Create a box with `posts` posts; return (seconds taken, records stored)."""
    from appliance.commands.core import init_box
    from appliance.db import database
    from appliance.demo import box_members_with_role
    from appliance.models import StoredRecord
    from appliance.services import accounts, board, centre

    rng = random.Random(seed)
    started = time.perf_counter()
    box = init_box(data_dir, "Bench Community Centre", "Admin", PASSWORD)
    admin = accounts.actor_for(box, next(box_members_with_role(box, "admin")))
    for place in PLACES:
        centre.set_place(box, admin, place)
    people = [accounts.actor_for(box, accounts.sign_up(box, n, PASSWORD)) for n in MEMBERS]
    slugs = [c.slug for c in centre.categories(box)]
    today = board.today(box)
    batch = 500
    for start in range(0, posts, batch):
        with database.atomic():
            for i in range(start, min(start + batch, posts)):
                author = people[i % len(people)]
                due = rng.random() < 0.2
                post_id = board.create_post(
                    box,
                    author,
                    {
                        "type": ("need", "offer", "should")[i % 3],
                        "category": rng.choice(slugs),
                        "place": rng.choice(PLACES),
                        "title": f"{_text(rng, rng.randint(3, 9)).capitalize()} #{i}",
                        "details": _text(rng, rng.randint(5, 60)),
                        "needed_by": (
                            today.fromordinal(today.toordinal() + rng.randint(1, 30))
                        ).isoformat()
                        if due
                        else None,
                    },
                )
                roll = rng.random()
                helper = people[(i + 1) % len(people)]
                if roll < 0.15:  # on_it
                    board.offer_help(box, helper, post_id, "on_it")
                elif roll < 0.40:  # resolved
                    board.resolve(box, author, post_id, "Sorted, thank you.")
                if i % 10 == 0:
                    board.add_comment(box, helper, post_id, _text(rng, 12))
    seconds = time.perf_counter() - started
    return seconds, StoredRecord.select().count()


# --- the server ---------------------------------------------------------------------------


class Server:
    """The waitress subprocess of tests/bench/_server.py."""

    def __init__(self, data_dir: Path):
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("_server.py")), str(data_dir)],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"the server did not start (printed {line!r})")
        self.port = int(line.split()[1])

    def memory(self) -> dict[str, int]:
        """Return VmRSS and VmHWM of the server process, in bytes."""
        found = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = int(value.split()[0]) * 1024
        return found

    def cpu_seconds(self) -> float:
        """Return the CPU time (user + system) the server process has used so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --- the client ---------------------------------------------------------------------------


def fetch(conn: http.client.HTTPConnection, path: str) -> bytes:
    """GET path on a keep-alive connection; return the body of a 200 answer."""
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"GET {path} answered {response.status}")
    if response.getheader("Connection", "").lower() == "close":
        conn.close()  # http.client reconnects on the next request
    return body


def burst(port: int, path: str, count: int, seconds: float, concurrency: int) -> tuple:
    """GET path `count` times, stopping early after `seconds`, from `concurrency` threads,
    each with its own keep-alive connection; return (requests done, elapsed, latencies).
    A `{n}` in the path becomes the request's number, so every URL is different.
    """
    lock = threading.Lock()
    remaining = [count]
    latencies: list[float] = []

    def worker() -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        try:
            while time.perf_counter() < deadline:
                with lock:
                    if remaining[0] <= 0:
                        return
                    remaining[0] -= 1
                    number = remaining[0]
                t0 = time.perf_counter()
                fetch(conn, path.format(n=number))
                elapsed = time.perf_counter() - t0
                with lock:
                    latencies.append(elapsed)
        finally:
            conn.close()

    started = time.perf_counter()
    deadline = started + seconds
    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    return len(latencies), time.perf_counter() - started, latencies


class Route:
    """The running totals of one route across the interleaved rounds."""

    def __init__(self, name: str, path: str):
        self.name, self.path = name, path
        self.count, self.seconds, self.latencies, self.cpu = 0, 0.0, [], 0.0

    def add(self, result: tuple, cpu: float) -> None:
        count, seconds, latencies = result
        self.cpu += cpu
        self.count += count
        self.seconds += seconds
        self.latencies += latencies

    @property
    def rate(self) -> float:
        return self.count / self.seconds


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# --- profiling ----------------------------------------------------------------------------


def profile(data_dir: Path, renders: int) -> None:
    """cProfile the board page rendered in this process through app.test_client."""
    import cProfile
    import pstats

    from appliance.box import Box
    from web import create_app

    app = create_app(Box.open(data_dir))
    client = app.test_client()
    client.get("/")
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for _ in range(renders):
        client.get("/")
    profiler.disable()
    seconds = time.perf_counter() - started
    print(f"\nprofile: {renders} renders of / in-process, {seconds / renders * 1000:.1f} ms each")
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(20)


# --- main ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=10_000, help="posts in the box")
    parser.add_argument("--data", help="use (or build once in) this data dir instead of a temp dir")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads")
    parser.add_argument("--requests", type=int, default=2000, help="measured requests per route")
    parser.add_argument("--warmup", type=int, default=100, help="unmeasured requests per route")
    parser.add_argument("--max-seconds", type=float, default=10.0, help="time limit per route")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds per route")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="cProfile N renders")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="kith-bench-") as tmp:
        from appliance.box import Box, is_box

        data_dir = Path(args.data) if args.data else Path(tmp) / "box"
        print(f"cpus: {os.cpu_count()}  python: {sys.version.split()[0]}")
        if is_box(data_dir):
            box = Box.open(data_dir)
            print(f"box: reusing {data_dir}")
        else:
            seconds, records = build_box(data_dir, args.posts)
            box = Box.open(data_dir)
            print(f"seeding: {args.posts} posts, {records} records in {seconds:.1f} s")
        from appliance.models import Post

        db_bytes = sum(p.stat().st_size for p in data_dir.glob("kith.db*"))
        print(f"box: {Post.select().count()} posts, database {db_bytes / 1e6:.1f} MB")

        server = Server(data_dir)
        try:
            rss_idle = server.memory()
            print(
                f"server: pid {server.proc.pid}, waitress threads {box.settings['threads']}, "
                f"client: {args.concurrency} threads, keep-alive http.client, "
                f"{args.warmup} warm-up + up to {args.requests} requests or "
                f"{args.max_seconds:g} s per route, in {args.rounds} interleaved rounds"
            )
            # "board" is what a visitor's phone gets (the rendered page is reused until a
            # record arrives); "fresh" adds an ignored argument that differs per request,
            # so every board page is queried and rendered anew: the cost without the cache.
            routes = [Route("hello", "/hello"), Route("board", "/"), Route("fresh", "/?n={n}")]
            conn = http.client.HTTPConnection(HOST, server.port, timeout=30)
            page = fetch(conn, "/")
            conn.close()
            for route in routes:
                burst(server.port, route.path, args.warmup, args.max_seconds, args.concurrency)
            # Interleaved rounds, so a change in the machine's background load during the
            # run falls on both routes alike.
            for _ in range(args.rounds):
                for route in routes:
                    cpu = server.cpu_seconds()
                    result = burst(
                        server.port,
                        route.path,
                        args.requests // args.rounds,
                        args.max_seconds / args.rounds,
                        args.concurrency,
                    )
                    route.add(result, server.cpu_seconds() - cpu)
            rss = server.memory()
        finally:
            server.stop()

        print()
        for route in routes:
            print(
                f"{route.name:5s}: {route.count} requests in {route.seconds:.2f} s = "
                f"{route.rate:8.1f} req/s; p50 {percentile(route.latencies, 50) * 1000:.1f} ms, "
                f"p99 {percentile(route.latencies, 99) * 1000:.1f} ms; "
                f"server CPU {route.cpu / route.count * 1000:.2f} ms/request"
            )
        ratio = routes[1].rate / routes[0].rate
        cpu_ratio = (routes[0].cpu / routes[0].count) / (routes[1].cpu / routes[1].count)
        mb = 1_000_000
        print(f"ratio board/hello: {ratio:.3f}  (target >= {TARGET_RATIO})")
        print(f"ratio of server CPU per request, hello/board: {cpu_ratio:.3f}")
        print(f"ratio fresh board/hello (no page cache): {routes[2].rate / routes[0].rate:.3f}")
        print(
            f"board page: {len(page)} bytes, {len(gzip.compress(page))} gzipped  "
            f"(target < {TARGET_PAGE_BYTES})"
        )
        print(
            f"server RSS: idle {rss_idle['VmRSS'] / mb:.1f} MB; after load VmRSS "
            f"{rss['VmRSS'] / mb:.1f} MB, VmHWM {rss['VmHWM'] / mb:.1f} MB  "
            f"(target < {TARGET_RSS_BYTES / mb:.0f} MB)"
        )
        misses = []
        if ratio < TARGET_RATIO:
            misses.append("ratio")
        if len(page) >= TARGET_PAGE_BYTES:
            misses.append("page size")
        if rss["VmHWM"] >= TARGET_RSS_BYTES:
            misses.append("RSS")
        print("targets: " + (f"missed: {', '.join(misses)}" if misses else "all met"))

        if args.profile:
            profile(data_dir, args.profile)
        from appliance.db import database

        database.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
