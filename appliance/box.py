"""A box: its data directory, Ed25519 key, database, settings and record log."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance import settings as settings_mod
from appliance.db import open_database
from appliance.log import Log
from appliance.models import Centre

KEY_FILE = "box.key"
SECRET_FILE = "web-secret"
DB_FILE = "kith.db"
# Present while a box restored from a backup has not yet learnt its latest seq.
RESTORED_FILE = "restored"


class BoxError(Exception):
    """A box cannot be created or opened; the message says what to do."""


def default_data_dir() -> Path:
    """Return the data dir: $KITH_DATA, else $XDG_DATA_HOME/kith, else ~/.local/share/kith."""
    if os.environ.get("KITH_DATA"):
        return Path(os.environ["KITH_DATA"])
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "kith"


def _write_private(path: Path, data: bytes) -> None:
    # O_EXCL: never overwrite a key; 0600 from creation, never readable by others.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def new_key_pem() -> bytes:
    """Return a new Ed25519 box key as unencrypted PKCS#8 PEM (the file is 0600)."""
    key = Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def is_box(data_dir: Path) -> bool:
    """Return True if the directory already holds a box."""
    return (data_dir / KEY_FILE).exists() or (data_dir / DB_FILE).exists()


@dataclass
class Box:
    data_dir: Path
    settings: dict
    log: Log
    secret_key: bytes

    @property
    def origin(self) -> str:
        return self.log.origin

    @property
    def centre(self) -> Centre | None:
        """Return this box's centre (from its first record), or None before init."""
        return Centre.get_or_none(Centre.origin == self.origin)

    @classmethod
    def create(cls, data_dir: Path, overrides: dict | None = None) -> Box:
        """Make a new box in an empty or missing directory: key, secret and database."""
        data_dir = Path(data_dir)
        if is_box(data_dir):
            raise BoxError(f"{data_dir} already holds a box; use another --data directory")
        # A bad kith.toml must stop us before the key exists, or a retry finds a half box.
        settings_mod.load(data_dir if data_dir.is_dir() else None, overrides)
        try:
            data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise BoxError(f"cannot create the data directory {data_dir}: {exc.strerror}") from None
        _write_private(data_dir / KEY_FILE, new_key_pem())
        _write_private(data_dir / SECRET_FILE, secrets.token_bytes(32))
        return cls.open(data_dir, overrides)

    @classmethod
    def open(cls, data_dir: Path, overrides: dict | None = None) -> Box:
        """Open an existing box's key, settings and database."""
        data_dir = Path(data_dir)
        key_path = data_dir / KEY_FILE
        if not key_path.exists():
            raise BoxError(f"no box in {data_dir}; run `kith init --centre NAME` first")
        if key_path.stat().st_mode & 0o077:
            raise BoxError(f"{key_path} is readable by others; run: chmod 600 {key_path}")
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise BoxError(f"{key_path} is not an Ed25519 key")
        conf = settings_mod.load(data_dir, overrides)
        open_database(data_dir / DB_FILE)
        log = Log(key, max_clock_ahead_ms=conf["max_clock_ahead_s"] * 1000)
        if (data_dir / RESTORED_FILE).exists():
            from appliance.backup import guard_restored  # only a restored box pays for it

            guard_restored(log, data_dir / RESTORED_FILE)
        log.state()
        secret = (data_dir / SECRET_FILE).read_bytes()
        return cls(data_dir=data_dir, settings=conf, log=log, secret_key=secret)
