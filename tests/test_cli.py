"""The `kith` command: every failure is one readable line and a non-zero exit.

Most tests call appliance.cli.main() in this process (fast, and capsys sees the output);
the ones about what a person sees at a terminal (tracebacks, exit codes) run the
installed `kith` command.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest
from kithtest import KITH, init_args

from appliance.box import DB_FILE, KEY_FILE, SECRET_FILE, Box, is_box
from appliance.cli import main
from appliance.db import database
from appliance.models import Post, StoredRecord
from appliance.records import parse
from appliance.services import accounts

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def _clean_env(tmp_path, monkeypatch):
    """No KITH_* settings or data dir from outside, and a private HOME.

    (tests/conftest.py closes the database after each test.)
    """
    for name in list(os.environ):
        if name.startswith("KITH_"):
            monkeypatch.delenv(name)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture
def password_file(tmp_path) -> Path:
    path = tmp_path / "admin-password"
    path.write_text(PASSWORD + "\n", encoding="utf-8")
    return path


def init(data: Path, password_file: Path, centre: str = "Test Hall", *extra: str) -> int:
    """Run `kith init` in this process; return its exit status."""
    return main(init_args(data, password_file, centre, *extra))


@pytest.fixture
def data(tmp_path, password_file, capsys) -> Path:
    """A box made by `kith init`, with its output already read."""
    path = tmp_path / "box"
    assert init(path, password_file) == 0
    capsys.readouterr()
    return path


def one_line_error(stderr: str, *fragments: str) -> str:
    """Assert stderr is exactly one `kith: ...` line containing the fragments."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("kith: "), stderr
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def run_kith(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run the installed `kith` command as a person would."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("KITH_")}
    environ.update(env)
    return subprocess.run(
        [KITH, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=environ,
        stdin=subprocess.DEVNULL,
        cwd=tmp_path,
    )


def records() -> list[bytes]:
    return [bytes(r) for (r,) in StoredRecord.select(StoredRecord.raw).tuples()]


# --- init -----------------------------------------------------------------------------


def test_init_creates_a_box_with_a_private_key_and_an_admin(tmp_path, password_file, capsys):
    path = tmp_path / "box"
    assert init(path, password_file, "Test Hall", "--admin-name", "Ada Admin") == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "Test Hall" in out
    assert "Ada Admin" in out
    for name in (KEY_FILE, SECRET_FILE):
        assert stat.S_IMODE((path / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0

    box = Box.open(path)
    assert box.centre.name == "Test Hall"
    # The password file's trailing newline is not part of the password.
    member = accounts.log_in(box, "Ada Admin", PASSWORD)
    assert accounts.actor_for(box, member).is_admin
    kinds = [parse(raw).kind for raw in records()]
    assert kinds[0] == "centre.created"
    assert {"member.joined", "role.granted", "member.verified"} <= set(kinds)


def test_init_refuses_an_existing_box(data, password_file, capsys):
    key = (data / KEY_FILE).read_bytes()
    assert init(data, password_file, "Another Hall") == 1
    out, err = capsys.readouterr()
    one_line_error(err, str(data), "already holds a box")
    assert out == ""
    assert (data / KEY_FILE).read_bytes() == key


def test_init_with_a_short_password_creates_nothing(tmp_path, capsys):
    short = tmp_path / "short"
    short.write_text("seven77\n", encoding="utf-8")
    path = tmp_path / "box"
    assert init(path, short) == 1
    one_line_error(capsys.readouterr().err, "at least 8 characters", "nothing was created")
    assert not path.exists()


def test_init_with_a_missing_password_file_creates_nothing(tmp_path, capsys):
    path = tmp_path / "box"
    assert init(path, tmp_path / "no-such-file") == 1
    one_line_error(capsys.readouterr().err, "cannot read the password file")
    assert not path.exists()


def test_init_without_a_terminal_or_password_file_asks_for_the_file(tmp_path):
    done = run_kith(tmp_path, "--data", str(tmp_path / "box"), "init", "--centre", "X")
    assert done.returncode == 1
    one_line_error(done.stderr, "--admin-password-file")
    assert not (tmp_path / "box").exists()


def test_init_refusals_from_the_real_command_are_one_line(tmp_path, password_file):
    path = tmp_path / "box"
    done = run_kith(tmp_path, *init_args(path, tmp_path / "missing", "X"))
    assert done.returncode == 1
    one_line_error(done.stderr, "cannot read the password file")

    assert run_kith(tmp_path, *init_args(path, password_file, "X")).returncode == 0
    done = run_kith(tmp_path, *init_args(path, password_file, "X"))
    assert done.returncode == 1
    one_line_error(done.stderr, "already holds a box")


# --- commands on a directory without a box ----------------------------------------------


# (`kith serve` without a box serves the first-boot setup: tests/test_first_boot_serve.py)
@pytest.mark.parametrize("command", [["log", "export"], ["log", "verify"]])
def test_commands_without_a_box_fail_with_one_line(tmp_path, capsys, command):
    path = tmp_path / "nothing-here"
    assert main(["--data", str(path), *command]) == 1
    out, err = capsys.readouterr()
    one_line_error(err, "no box in", "kith init")
    assert out == ""
    assert not path.exists()


# --- log export and verify -------------------------------------------------------------


def test_log_export_prints_every_record_as_a_json_line(data, capsys):
    assert main(["--data", str(data), "demo"]) == 0
    capsys.readouterr()
    assert main(["--data", str(data), "log", "export"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.endswith("\n")
    lines = out.splitlines()
    parsed = [parse(line) for line in lines]
    assert len(parsed) == StoredRecord.select().count() > 12
    # The exact stored bytes, in arrival order.
    assert [line.encode("utf-8") for line in lines] == records()
    assert parsed[0].kind == "centre.created"
    assert sum(1 for r in parsed if r.kind == "post.created") == Post.select().count()


def test_log_export_from_the_real_command_is_exact_bytes(tmp_path, data):
    done = subprocess.run(
        [KITH, "--data", str(data), "log", "export"],
        capture_output=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("KITH_")},
    )
    assert done.returncode == 0
    Box.open(data)
    assert done.stdout == b"".join(raw + b"\n" for raw in records())


def test_log_verify_succeeds_on_a_good_box(data, capsys):
    assert main(["--data", str(data), "log", "verify"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    count = StoredRecord.select().count()
    assert out.strip() == f"All {count} records verify."


def _flip_letter(raw: bytes) -> bytes:
    """Change one letter inside the record's body: still canonical JSON, bad signature."""
    at = raw.index(b'"body":{') + len(b'"body":{"')
    while not chr(raw[at]).isalpha():
        at += 1
    flipped = raw[at] ^ 0x20  # upper <-> lower case
    return raw[:at] + bytes([flipped]) + raw[at + 1 :]


def _break_json(raw: bytes) -> bytes:
    return raw[:-1] + b"]"


TAMPERINGS = {
    "a letter in the body": (_flip_letter, "signature does not verify"),
    "the closing brace": (_break_json, "not JSON"),
}


@pytest.mark.parametrize("how", sorted(TAMPERINGS))
def test_log_verify_names_a_tampered_record(data, capsys, how):
    assert main(["--data", str(data), "demo"]) == 0
    capsys.readouterr()
    tamper, reason = TAMPERINGS[how]
    database.close()
    with sqlite3.connect(data / DB_FILE) as db:
        (count,) = db.execute("SELECT count(*) FROM stored_record").fetchone()
        victim, raw = db.execute(
            "SELECT id, raw FROM stored_record WHERE kind = 'post.created' LIMIT 1"
        ).fetchone()
        changed = tamper(bytes(raw))
        assert changed != bytes(raw)
        db.execute("UPDATE stored_record SET raw = ? WHERE id = ?", (changed, victim))
    db.close()

    assert main(["--data", str(data), "log", "verify"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert lines[0].startswith(f"{victim}: {reason}")
    assert lines[-1] == f"kith: 1 of {count} records failed verification"
    assert len(lines) == 2


def test_log_verify_from_the_real_command_fails_on_tampering(tmp_path, data):
    database.close()
    with sqlite3.connect(data / DB_FILE) as db:
        victim, raw = db.execute(
            "SELECT id, raw FROM stored_record ORDER BY rowid LIMIT 1"
        ).fetchone()
        db.execute(
            "UPDATE stored_record SET raw = ? WHERE id = ?", (_flip_letter(bytes(raw)), victim)
        )
    db.close()
    done = run_kith(tmp_path, "--data", str(data), "log", "verify")
    assert done.returncode == 1
    assert victim in done.stderr
    assert "Traceback" not in done.stderr


# --- where the data lives --------------------------------------------------------------


def test_data_dir_comes_from_kith_data_without_data(tmp_path, password_file, monkeypatch):
    from_env = tmp_path / "from-env"
    monkeypatch.setenv("KITH_DATA", str(from_env))
    assert main(["init", "--centre", "Env Hall", "--admin-password-file", str(password_file)]) == 0
    assert is_box(from_env)


def test_data_option_wins_over_kith_data(tmp_path, password_file, monkeypatch):
    from_env, from_option = tmp_path / "from-env", tmp_path / "from-option"
    monkeypatch.setenv("KITH_DATA", str(from_env))
    assert init(from_option, password_file) == 0
    assert is_box(from_option)
    assert not from_env.exists()


def test_data_option_works_after_the_command_too(tmp_path, password_file, capsys):
    path = tmp_path / "box"
    args = ["init", "--data", str(path), "--centre", "X", "--admin-password-file"]
    assert main([*args, str(password_file)]) == 0
    capsys.readouterr()
    assert main(["log", "verify", "--data", str(path)]) == 0
    assert "records verify" in capsys.readouterr().out


def test_data_dir_defaults_to_xdg_data_home(tmp_path, password_file, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert main(["init", "--centre", "X", "--admin-password-file", str(password_file)]) == 0
    assert is_box(tmp_path / "xdg" / "kith")


def test_data_dir_defaults_to_the_home_directory(tmp_path, password_file):
    assert main(["init", "--centre", "X", "--admin-password-file", str(password_file)]) == 0
    assert is_box(tmp_path / "home" / ".local" / "share" / "kith")


def test_kith_data_reaches_the_real_command(tmp_path, password_file):
    path = tmp_path / "box"
    done = run_kith(
        tmp_path,
        "init",
        "--centre",
        "X",
        "--admin-password-file",
        str(password_file),
        KITH_DATA=str(path),
    )
    assert done.returncode == 0, done.stderr
    assert is_box(path)


# --- the key and the settings ----------------------------------------------------------


def test_a_key_readable_by_others_is_refused(data, capsys):
    (data / KEY_FILE).chmod(0o644)
    assert main(["--data", str(data), "log", "export"]) == 1
    one_line_error(capsys.readouterr().err, "readable by others", "chmod 600")


@pytest.mark.parametrize(
    "toml, fragments",
    [
        ('colour = "red"\n', ["unknown setting", "colour", "kith.toml"]),
        ('threads = "many"\n', ["threads", "whole number"]),
        ('timezone = "Mars/Olympus"\n', ["time zone", "Mars/Olympus"]),
        ("port = \n", ["not valid TOML"]),
    ],
)
def test_a_bad_kith_toml_is_one_line(data, capsys, toml, fragments):
    (data / "kith.toml").write_text(toml, encoding="utf-8")
    assert main(["--data", str(data), "log", "verify"]) == 1
    one_line_error(capsys.readouterr().err, *fragments)


def test_an_unknown_kith_setting_in_the_environment_is_one_line(data, capsys, monkeypatch):
    monkeypatch.setenv("KITH_COLOUR", "red")
    assert main(["--data", str(data), "log", "verify"]) == 1
    one_line_error(capsys.readouterr().err, "unknown setting", "colour", "KITH_")


def test_an_unknown_setting_from_the_real_command_is_one_line(tmp_path, data):
    (data / "kith.toml").write_text('colour = "red"\n', encoding="utf-8")
    done = run_kith(tmp_path, "--data", str(data), "serve", "--port", "0")
    assert done.returncode == 1
    one_line_error(done.stderr, "unknown setting", "colour")


# --- demo -------------------------------------------------------------------------------


def test_demo_fills_a_new_box_once(tmp_path, capsys):
    path = tmp_path / "demo"
    assert main(["--data", str(path), "demo"]) == 0
    out, err = capsys.readouterr()
    assert "81 posts" in out
    assert err == ""
    # The board's 12; ten weeks of three banks' lists and three supplies; 7 open now.
    assert Post.select().count() == 81
    assert Post.select().where(Post.org.is_null(False)).count() == 67
    count = StoredRecord.select().count()
    # Running the README's demo command again is fine and adds nothing.
    assert main(["--data", str(path), "demo"]) == 0
    out, err = capsys.readouterr()
    assert "already has the demo content" in out
    assert err == ""
    assert StoredRecord.select().count() == count


def test_demo_adds_to_an_existing_box(data, capsys):
    assert main(["--data", str(data), "demo"]) == 0
    assert "21 posts" in capsys.readouterr().out  # 14 on the board, 7 of food banks
    assert Box.open(data).centre.name == "Test Hall"


def test_demo_posts_are_spread_over_the_last_fortnight(tmp_path):
    assert main(["--data", str(tmp_path / "demo"), "demo"]) == 0
    times = [p.created_ms for p in Post.select()]
    assert max(times) - min(times) > 24 * 3600 * 1000


# --- known bugs: half-made boxes and tracebacks ----------------------------------------


def test_init_with_a_blank_centre_name_creates_nothing(tmp_path, password_file, capsys):
    path = tmp_path / "box"
    assert init(path, password_file, "   ") == 1
    one_line_error(capsys.readouterr().err, "centre")
    assert not is_box(path)


def test_init_with_a_too_long_password_creates_nothing(tmp_path, capsys):
    long = tmp_path / "long"
    long.write_text("x" * 300, encoding="utf-8")
    path = tmp_path / "box"
    assert init(path, long) == 1
    one_line_error(capsys.readouterr().err, "password")
    assert not is_box(path)


def test_init_with_a_bad_kith_toml_creates_nothing(tmp_path, password_file, capsys):
    path = tmp_path / "box"
    path.mkdir()
    (path / "kith.toml").write_text('colour = "red"\n', encoding="utf-8")
    assert init(path, password_file) == 1
    one_line_error(capsys.readouterr().err, "colour")
    assert not is_box(path)


def test_a_password_file_that_is_not_text_is_one_line(tmp_path):
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe secret password\n")
    done = run_kith(tmp_path, *init_args(tmp_path / "box", binary, "X"))
    assert done.returncode == 1
    one_line_error(done.stderr, "password file")


def test_a_data_dir_that_is_a_file_is_one_line(tmp_path, password_file):
    (tmp_path / "a-file").write_text("not a directory", encoding="utf-8")
    done = run_kith(tmp_path, *init_args(tmp_path / "a-file", password_file, "X"))
    assert done.returncode == 1
    one_line_error(done.stderr, "a-file")


def test_a_database_from_a_newer_version_is_refused_in_one_line(data, capsys):
    database.close()
    with sqlite3.connect(data / DB_FILE) as conn:
        conn.execute("PRAGMA user_version = 999")
    assert main(["--data", str(data), "log", "verify"]) == 1
    one_line_error(capsys.readouterr().err, "written by a newer version of Kith (schema 999")


def test_sync_on_a_box_without_peers_is_not_a_failure(data, capsys):
    # The nightly timer runs it on every box, paired or not.
    assert main(["--data", str(data), "sync"]) == 0
    assert "Nothing to sync: no paired box" in capsys.readouterr().out
