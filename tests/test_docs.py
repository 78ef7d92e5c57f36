"""The README documents every setting and command, and CI runs the README's test command."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from appliance.cli import build_parser
from appliance.settings import SETTINGS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands(parser: argparse.ArgumentParser, prefix: str = "kith") -> list[str]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = _commands(sub, f"{prefix} {name}")
                found.extend(nested or [f"{prefix} {name}"])
    return found


def test_every_setting_is_documented_with_its_default():
    for setting in SETTINGS:
        row = re.search(rf"^\| `{setting.name}` \| `([^`]*)` \| (.+) \|$", README, re.M)
        assert row, f"setting {setting.name} is missing from the README table"
        assert row.group(1) == str(setting.default)
        assert row.group(2) == setting.help


def test_every_command_is_documented():
    commands = _commands(build_parser())
    assert "kith log export" in commands
    for command in commands:
        assert f"`{command}" in README, f"{command} is missing from the README"


def test_ci_runs_the_readme_test_command():
    blocks = re.findall(r"^    (\S.*)$", README, re.M)
    run_command, test_command = blocks[0], blocks[1]
    assert "kith --data ./demo-box demo" in run_command and "serve" in run_command
    ci_lines = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci_lines[-1] == test_command
