"""What every `kith` subcommand shares: its error type and where the box lives."""

from __future__ import annotations

import argparse
from pathlib import Path

from appliance.box import default_data_dir


class CommandError(Exception):
    """A failure to report as one line."""


def box_dir(args) -> Path:
    return Path(args.data) if args.data else default_data_dir()


def data_parent() -> argparse.ArgumentParser:
    """Return the parent parser that gives a subcommand the --data option."""
    data = argparse.ArgumentParser(add_help=False)
    data.add_argument(
        "--data",
        default=argparse.SUPPRESS,
        help="the box's data directory (default: $KITH_DATA, else ~/.local/share/kith)",
    )
    return data
