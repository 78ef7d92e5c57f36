"""`kith backup`, `kith restore` and `kith doctor` at the terminal: what staff read.

Most tests call appliance.cli.main() in this process (capsys sees the output); the ones
about a running server or what a person sees on stderr run the installed `kith`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from kithtest import init_args, run_kith, serving

from appliance.box import RESTORED_FILE
from appliance.cli import main
from appliance.db import database

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def _clean_env(tmp_path, monkeypatch):
    """No KITH_* settings from outside, a private HOME, and no USB stick."""
    for name in list(os.environ):
        if name.startswith("KITH_"):
            monkeypatch.delenv(name)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KITH_BACKUP_STICK", str(tmp_path / "no-stick-mounted"))


@pytest.fixture
def data(tmp_path, capsys) -> Path:
    """A box made by `kith init`, with its output already read."""
    password = tmp_path / "admin-password"
    password.write_text(PASSWORD + "\n", encoding="utf-8")
    path = tmp_path / "box"
    assert main(init_args(path, password, "Test Hall")) == 0
    capsys.readouterr()
    return path


@pytest.fixture
def stick(tmp_path) -> Path:
    path = tmp_path / "stick"
    path.mkdir()
    return path


def kith_main(capsys, *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("kith: "), err
    return lines[0]


def backup_file(folder: Path) -> Path:
    (found,) = folder.glob("*.kithbackup")
    return found


def test_backup_to_a_folder_says_where_and_warns_about_the_key(data, stick, capsys):
    status, out, _ = kith_main(capsys, "--data", str(data), "backup", str(stick))
    assert status == 0
    path = backup_file(stick)
    assert f"Wrote {path.name}" in out
    assert "keep the stick somewhere safe" in out


def test_backup_without_a_folder_uses_the_data_dir_when_no_stick_is_mounted(data, capsys, tmp_path):
    status, out, _ = kith_main(capsys, "--data", str(data), "backup")
    assert status == 0
    assert f"no USB stick is mounted at {tmp_path / 'no-stick-mounted'}" in out
    assert backup_file(data / "backups")


def test_backup_to_a_missing_folder_is_one_line(data, capsys, tmp_path):
    status, _, err = kith_main(capsys, "--data", str(data), "backup", str(tmp_path / "nope"))
    assert status == 1
    assert "is the USB stick plugged in?" in one_line(err)


def test_restore_errors_are_one_line(data, stick, capsys, tmp_path):
    status, _, err = kith_main(capsys, "--data", str(tmp_path / "new"), "restore", "missing")
    assert status == 1 and "there is no backup file missing" in one_line(err)

    kith_main(capsys, "--data", str(data), "backup", str(stick))
    damaged = stick / "damaged.kithbackup"
    damaged.write_bytes(backup_file(stick).read_bytes()[:2000])
    status, _, err = kith_main(capsys, "--data", str(tmp_path / "new"), "restore", str(damaged))
    assert status == 1 and "damaged or cut short" in one_line(err)


def test_restoring_another_boxs_backup_needs_the_flag(data, stick, capsys, tmp_path):
    kith_main(capsys, "--data", str(data), "backup", str(stick))
    password = tmp_path / "admin-password"
    other = tmp_path / "other"
    assert main(init_args(other, password, "Other Hall")) == 0
    database.close()  # as when that `kith init` process ended
    capsys.readouterr()
    backup = str(backup_file(stick))

    status, _, err = kith_main(capsys, "--data", str(other), "restore", backup)
    assert status == 1
    assert "holds a different box" in one_line(err) and "--replace-other-box" in err

    status, out, _ = kith_main(
        capsys, "--data", str(other), "restore", backup, "--replace-other-box"
    )
    assert status == 0
    assert "Restored Test Hall" in out and "Kept what it replaced as box.key.before-restore-" in out
    assert "run `kith sync`" in out


def test_restore_with_a_new_key_says_peers_must_pair_again(data, stick, capsys, tmp_path):
    kith_main(capsys, "--data", str(data), "backup", str(stick))
    status, out, _ = kith_main(
        capsys, "--data", str(tmp_path / "new"), "restore", str(backup_file(stick)), "--new-key"
    )
    assert status == 0
    assert "This box now signs with a new key" in out and "must pair with it again" in out
    assert not (tmp_path / "new" / RESTORED_FILE).exists()


def test_doctor_prints_a_line_per_check_and_fails_until_there_is_a_backup(data, capsys):
    status, out, err = kith_main(capsys, "--data", str(data), "doctor")
    assert status == 1 and "checks failed" in one_line(err)
    lines = out.splitlines()
    assert all(line.split()[0] in ("ok", "WARN", "FAIL") for line in lines), out
    assert any(line.startswith("FAIL  Last backup: No backup") for line in lines)
    assert "What to do: Run kith backup now" in out
    assert any(line.startswith("ok    Database:") for line in lines)

    kith_main(capsys, "--data", str(data), "backup")
    status, out, _ = kith_main(capsys, "--data", str(data), "doctor")
    assert status == 0, out
    assert "FAIL" not in out


def test_doctor_reports_a_readable_key_the_box_refuses_to_open(data, capsys):
    (data / "box.key").chmod(0o644)
    status, out, err = kith_main(capsys, "--data", str(data), "doctor")
    assert status == 1 and "checks failed" in one_line(err)
    assert (
        f"FAIL  Key files: {data / 'box.key'} can be read by other users. "
        f"What to do: Run: chmod 600 {data / 'box.key'}"
    ) in out.splitlines()
    assert any(line.startswith("ok    Storage:") for line in out.splitlines())
    # Other reasons the box cannot open are still one line saying what to do.
    status, out, err = kith_main(capsys, "--data", str(data.parent / "nothing"), "doctor")
    assert status == 1 and out == "" and "kith init" in one_line(err)


def test_restore_while_the_box_is_served_is_refused(data, stick, capsys, tmp_path):
    kith_main(capsys, "--data", str(data), "backup", str(stick))
    env = {**os.environ, "KITH_SYNC_INTERVAL_S": "0"}
    with serving("--data", str(data), log=tmp_path / "serve.log", env=env):
        done = run_kith("--data", str(data), "restore", str(backup_file(stick)), ok=False)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "the box is running" in one_line(done.stderr)
    assert not (data / RESTORED_FILE).exists()


def test_a_ruined_database_is_one_line_and_a_restore_brings_the_box_back(data, stick, capsys):
    kith_main(capsys, "--data", str(data), "backup", str(stick))
    database.close()  # as when that `kith backup` process ended
    for name in ("kith.db-wal", "kith.db-shm"):
        (data / name).unlink(missing_ok=True)
    (data / "kith.db").write_bytes(b"the SD card lost this page" * 200)

    status, _, err = kith_main(capsys, "--data", str(data), "doctor")
    assert status == 1 and "restore the newest backup" in one_line(err)

    status, out, _ = kith_main(capsys, "--data", str(data), "restore", str(backup_file(stick)))
    assert status == 0 and "Kept what it replaced as kith.db.before-restore-" in out
    status, out, _ = kith_main(capsys, "--data", str(data), "doctor")
    assert "ok    Database: The database checks clean." in out
    assert "FAIL  Restore:" in out  # still to sync before it takes posts
