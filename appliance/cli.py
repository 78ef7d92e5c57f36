"""The `kith` command: the composition root that wires the core, web/ and sync/ together.

Each area keeps its subcommands in its own module with a `register(sub, data)`; this
module only assembles them. Every failure ends in one readable line on stderr and a
non-zero exit, because the person at the keyboard is often a centre's staff member
with no IT support.
"""

from __future__ import annotations

import argparse
import sys

from appliance.box import BoxError
from appliance.commands import CommandError, core, data_parent, maintenance, update
from appliance.db import NewerSchemaError
from appliance.errors import ServiceError
from appliance.settings import SettingsError
from sync import commands as sync_commands

# The order subcommands appear in `kith --help`.
AREAS = [core, sync_commands, maintenance, update]


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for `kith`."""
    data = data_parent()
    parser = argparse.ArgumentParser(
        prog="kith", description="Kith: a community notice board in a box.", parents=[data]
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for area in AREAS:
        area.register(sub, data)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the `kith` command; return the exit status."""
    args = build_parser().parse_args(argv)
    args.data = getattr(args, "data", None)
    try:
        args.func(args)
    except (CommandError, BoxError, SettingsError, NewerSchemaError) as exc:
        print(f"kith: {exc}", file=sys.stderr)
        return 1
    except ServiceError as exc:
        print(f"kith: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
