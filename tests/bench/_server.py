"""Serve a box's app plus a hello-world route on one waitress server, for tests/bench/board.py.

Usage: python tests/bench/_server.py DATA_DIR

Prints "PORT <n>" once the socket is bound, then serves until terminated. The server is
set up as `kith serve` sets it up (same app, same threads setting), with one extra route,
/hello, on the same app, so both routes pass through the same request hooks.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main(data_dir: str) -> None:
    import waitress

    from appliance.box import Box
    from web import create_app

    # waitress warns "Task queue depth is N" whenever the client has more requests in
    # flight than the server has threads, which the benchmark does on purpose.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    box = Box.open(Path(data_dir))
    app = create_app(box)
    app.add_url_rule("/hello", "hello", lambda: "hello")
    server = waitress.create_server(
        app, host="127.0.0.1", port=0, threads=box.settings["threads"], ident="kith"
    )
    print(f"PORT {server.effective_port}", flush=True)
    server.run()


if __name__ == "__main__":
    main(sys.argv[1])
