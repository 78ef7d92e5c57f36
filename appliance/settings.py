"""Settings as data: one table of names, defaults and help, loaded in a fixed order.

Order: defaults, then `kith.toml` in the data dir, then `KITH_*` environment variables,
then a mapping given by the caller (tests). Unknown names are an error, not ignored,
so a typo in a config file is reported instead of silently doing nothing.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

CONFIG_FILE = "kith.toml"


class SettingsError(ValueError):
    """A config file or environment variable names an unknown or invalid setting."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: object
    help: str


SETTINGS = [
    Setting("timezone", "Europe/London", "Time zone the board shows times in (IANA name)."),
    Setting("language", "en", "Language of the pages (a gettext locale code)."),
    Setting(
        "host", "127.0.0.1", "Address `kith serve` listens on (0.0.0.0 for the centre's wifi)."
    ),
    Setting("port", 8080, "Port `kith serve` listens on."),
    Setting("threads", 4, "Worker threads of the web server."),
    Setting("page_size", 20, "Posts per page on the board."),
    Setting("session_days", 30, "Days a login lasts on a phone before asking again."),
    Setting(
        "discovery",
        "off",
        "Find other boxes on the LAN with zeroconf: off, default (every interface), "
        "or a comma-separated list of this box's IPv4 addresses.",
    ),
    Setting(
        "sync_interval_s",
        300,
        "Seconds between background sync rounds of `kith serve` with paired peers (0: off).",
    ),
    Setting(
        "sweep_interval_s",
        3600,
        "Seconds between the sweeps `kith serve` runs by itself: still needed?, votes "
        "that are due, retention (0: off; `kith sweep` runs them by hand).",
    ),
    Setting(
        "max_clock_ahead_s",
        86400,
        "Refuse records stamped more than this many seconds ahead of this box's clock.",
    ),
    Setting(
        "public_url",
        "",
        "Address the kiosk's QR code gives phones, e.g. http://192.168.1.20:8080/ "
        "(empty: this box's address on the local network).",
    ),
    Setting(
        "backup_stick",
        "/media/kith-backup",
        "Where a USB stick for backups is mounted; `kith backup` with no folder writes "
        "there when a stick is mounted, else to the data dir's backups folder.",
    ),
    Setting(
        "backups_kept",
        7,
        "How many backups of this box `kith backup` keeps in a folder (the oldest go first).",
    ),
    Setting(
        "ride_regular_hours",
        24,
        "Hours a rider's regular driver has a new ride to themselves before all drivers see it.",
    ),
    Setting(
        "ride_alert_hours",
        48,
        "A ride still without a driver this many hours before it is due alerts the coordinators.",
    ),
    Setting(
        "driver_warn_days",
        30,
        "Days before a driver's checks expire that the driver and staff are told.",
    ),
]
DEFAULTS = {s.name: s.default for s in SETTINGS}
ENV_PREFIX = "KITH_"
# Environment variables that are not settings but are read elsewhere.
ENV_RESERVED = {"KITH_DATA", "KITH_INSTALL_ROOT", "KITH_RELEASE_KEYS_DIR"}  # update.py


def _coerce(name: str, value: object) -> object:
    default = DEFAULTS[name]
    if isinstance(default, int) and not isinstance(value, int):
        try:
            value = int(str(value))
        except ValueError:
            raise SettingsError(f"setting {name} must be a whole number, not {value!r}") from None
    if isinstance(default, str) and not isinstance(value, str):
        raise SettingsError(f"setting {name} must be text, not {value!r}")
    if name == "timezone":
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"setting timezone: unknown time zone {value!r}") from None
    if name == "public_url" and value and not value.startswith(("http://", "https://")):
        raise SettingsError(
            f"setting public_url must start with http:// or https://, not {value!r}"
        )
    return value


def _merge(settings: dict, values: dict, source: str) -> None:
    unknown = sorted(set(values) - set(DEFAULTS))
    if unknown:
        raise SettingsError(f"unknown setting(s) in {source}: {', '.join(unknown)}")
    for name, value in values.items():
        settings[name] = _coerce(name, value)


def load(data_dir: Path | None, overrides: dict | None = None, environ=None) -> dict:
    """Return the settings for a box: defaults, config file, environment, overrides."""
    environ = os.environ if environ is None else environ
    settings = dict(DEFAULTS)
    if data_dir is not None:
        path = Path(data_dir) / CONFIG_FILE
        if path.exists():
            try:
                values = tomllib.loads(path.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise SettingsError(f"{path} is not valid TOML: {exc}") from None
            _merge(settings, values, str(path))
    env = {
        key[len(ENV_PREFIX) :].lower(): value
        for key, value in environ.items()
        if key.startswith(ENV_PREFIX) and key not in ENV_RESERVED
    }
    _merge(settings, env, "the environment (KITH_*)")
    _merge(settings, dict(overrides or {}), "the given settings")
    return settings
