"""Offline updates: the signed update bundle and the release keys a box trusts.

The bundle is one uncompressed tar file, in this order (anything else is refused):

- `manifest.json`: `format` (1), `kith_version`, `python` ("3.11": the interpreter the
  wheels are for), `implementation` ("cp"), `machine` (what `platform.machine()` says on
  the box, e.g. "aarch64"), `platform` (the pip platform tag, or this machine's platform
  for a native build), `created` (UTC, ISO 8601), and `files`: every other member as
  `{"path": "wheels/NAME.whl", "sha256": lowercase hex, "size": bytes}`.
- `manifest.sig`: the 64-byte Ed25519 signature of `b"kith/update/v1\n"` followed by the
  exact bytes of manifest.json, by a release key.
- `wheels/*.whl`: kith's wheel and a wheel of every dependency, so the box needs no network.

A box trusts the release keys in `/etc/kith/release-keys/*.pub` (shipped read-only on the
image: the project's own key) and `<data dir>/release-keys/*.pub` (a centre or its
technician adds its own); `KITH_RELEASE_KEYS_DIR` (paths joined by `:`) replaces both. A
`.pub` file holds lines `kith-release-key <base64url public key> [comment]`. Run as root,
a box ignores a key file (or its folder) that is not root's or that others may change, so
the server's own user cannot plant a key that root would then obey.

This module makes, writes and checks bundles; appliance/versions.py installs them
(`open_bundle` first, so nothing is touched before the signature and every file's hash
hold) and rolls back.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from appliance.files import sha256_file

FORMAT = 1
# Distinct from records' (kith/record/v1), sync's and bundles' prefixes (sync/PROTOCOL.md),
# so no other signature a key makes can ever pass for a signed update.
SIGNING_PREFIX = b"kith/update/v1\n"
KEY_LINE = "kith-release-key"
SYSTEM_KEYS_DIR = Path("/etc/kith/release-keys")
MAX_MANIFEST_BYTES = 1 << 20
_WHEEL_PATH = re.compile(r"^wheels/[A-Za-z0-9_.+!-]+\.whl$")
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+!_-]*$")
_MACHINES = ("x86_64", "aarch64", "armv7l", "i686", "ppc64le", "s390x", "riscv64")
# Trees that never go into kith's wheel but can be large or change during a build.
_NOT_SOURCE = (".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "node_modules")
_NOT_SOURCE += (".pytest_cache", ".ruff_cache", ".hypothesis", "demo-box")

Say = Callable[[str], None]


class UpdateError(Exception):
    """An update step refused or failed; the message says what happened and what to do."""


# --- release keys ----------------------------------------------------------------------


def public_key_line(key: Ed25519PublicKey, comment: str = "") -> str:
    """Return the `.pub` line of a release public key."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    text = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
    return f"{KEY_LINE} {text} {comment}".rstrip()


def new_release_key(path: Path, comment: str = "") -> str:
    """Write a new private release key (mode 0600, never overwriting); return its .pub line."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise UpdateError(f"{path} already exists; a release key is never overwritten") from None
    except OSError as exc:
        raise UpdateError(f"cannot write {path}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return public_key_line(key.public_key(), comment)


def load_release_key(path: Path) -> Ed25519PrivateKey:
    """Read a private release key written by new_release_key."""
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except OSError as exc:
        raise UpdateError(f"cannot read the release key {path}: {exc.strerror}") from None
    except ValueError:
        raise UpdateError(f"{path} is not a release key (kith update --new-release-key)") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UpdateError(f"{path} is not an Ed25519 release key")
    return key


def key_dirs(data_dir: Path | None) -> list[Path]:
    """Return where this box looks for trusted release keys."""
    if os.environ.get("KITH_RELEASE_KEYS_DIR"):
        return [Path(p) for p in os.environ["KITH_RELEASE_KEYS_DIR"].split(os.pathsep) if p]
    dirs = [SYSTEM_KEYS_DIR]
    if data_dir is not None:
        dirs.append(Path(data_dir) / "release-keys")
    return dirs


def _safe_for_root(path: Path) -> bool:
    # Run as root, trust only keys root owns and only root can change: the web server's
    # user owns the data dir and must not be able to plant a key that root then obeys.
    if os.geteuid() != 0:
        return True
    for p in (path, path.parent):
        st = p.stat()
        if st.st_uid != 0 or st.st_mode & 0o022:
            return False
    return True


def trusted_keys(dirs: list[Path], say: Say | None = None) -> list[Ed25519PublicKey]:
    """Return the release public keys found in the `*.pub` files of dirs."""
    keys = []
    for folder in dirs:
        for pub in sorted(folder.glob("*.pub")) if folder.is_dir() else []:
            if not _safe_for_root(pub):
                if say:
                    say(f"Ignoring {pub}: only root may own and change a release key file.")
                continue
            for line in pub.read_text(encoding="utf-8", errors="replace").splitlines():
                parts = line.split()
                if len(parts) < 2 or parts[0] != KEY_LINE:
                    continue
                try:
                    raw = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
                    keys.append(Ed25519PublicKey.from_public_bytes(raw))
                except ValueError:
                    if say:
                        say(f"Ignoring a line of {pub}: not a release key.")
    return keys


# --- building a bundle -----------------------------------------------------------------


def source_tree() -> Path:
    """Return the project tree this code runs from (where pyproject.toml is)."""
    return Path(__file__).resolve().parent.parent


def _machine_of(platform_tag: str) -> str:
    for machine in _MACHINES:
        if platform_tag.endswith(machine):
            return machine
    raise UpdateError(f"cannot tell the processor of platform {platform_tag!r}")


def last_line(output: str) -> str:
    """Return the last non-blank line a command printed (a traceback's is what went wrong)."""
    lines = [line.strip() for line in (output or "").splitlines() if line.strip()]
    return lines[-1] if lines else "(it printed nothing)"


def _run(cmd: list[str], what: str, **kwargs) -> subprocess.CompletedProcess:
    """Run a command; on failure raise UpdateError with `what` and its last line of output."""
    done = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, **kwargs)
    if done.returncode != 0:
        # One line, as every kith error is; stderr first (where errors go), else stdout.
        output = done.stderr if done.stderr.strip() else done.stdout
        raise UpdateError(f"{what} failed: {last_line(output)}")
    return done


def build_bundle(
    out: Path,
    key: Ed25519PrivateKey,
    source: Path | None = None,
    platform_tag: str | None = None,
    python_version: str | None = None,
    say: Say = print,
) -> tuple[Path, dict]:
    """Build and sign an update bundle of kith from source with every dependency's wheel.

    Without platform_tag the wheels are for this machine; with it (and python_version)
    they are downloaded as binary wheels for that platform. Returns (file, manifest).
    """
    source = Path(source or source_tree())
    if not (source / "pyproject.toml").is_file():
        raise UpdateError(f"{source} is not the kith source tree (no pyproject.toml)")
    if platform_tag and not python_version:
        raise UpdateError("--platform needs --python-version too (for example 3.11)")
    python = python_version or f"{sys.version_info.major}.{sys.version_info.minor}"
    pip = [sys.executable, "-I", "-m", "pip", "--disable-pip-version-check"]
    with tempfile.TemporaryDirectory(prefix="kith-build-") as tmp:
        tree, wheels = Path(tmp) / "src", Path(tmp) / "wheels"
        # A copy, so building never writes build/ or egg-info into the working tree.
        shutil.copytree(source, tree, ignore=shutil.ignore_patterns(*_NOT_SOURCE))
        say("Building kith's wheel...")
        _run([*pip, "wheel", "--no-deps", "-w", str(wheels), str(tree)], "building kith's wheel")
        kith_wheel = next(wheels.glob("kith-*.whl"), None)
        if kith_wheel is None:
            raise UpdateError("pip built no kith wheel")
        version = kith_wheel.name.split("-")[1]
        say(f"Collecting the wheels kith {version} needs...")
        if platform_tag:
            _run(
                [*pip, "download", "-d", str(wheels), "--only-binary=:all:"]
                + ["--platform", platform_tag, "--python-version", python]
                + ["--implementation", "cp", str(kith_wheel)],
                f"downloading wheels for {platform_tag}",
            )
        else:
            _run([*pip, "wheel", "-w", str(wheels), str(kith_wheel)], "collecting wheels")
        strays = [p.name for p in wheels.iterdir() if not p.name.endswith(".whl")]
        if strays:
            raise UpdateError(f"pip left files that are not wheels: {', '.join(strays)}")
        manifest = {
            "format": FORMAT,
            "kith_version": version,
            "python": python,
            "implementation": "cp",
            "machine": _machine_of(platform_tag) if platform_tag else platform.machine(),
            "platform": platform_tag or _native_platform(),
            "created": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "files": [
                {"path": f"wheels/{w.name}", "sha256": sha256_file(w), "size": w.stat().st_size}
                for w in sorted(wheels.iterdir())
            ],
        }
        out = Path(out)
        if out.is_dir():
            out = out / f"kith-update-{version}-{manifest['machine']}.tar"
        write_bundle(out, manifest, key, {f"wheels/{w.name}": w for w in wheels.iterdir()})
    say(f"Wrote {out}: kith {version} for Python {python} on {manifest['machine']}.")
    return out, manifest


def _native_platform() -> str:
    import sysconfig

    return sysconfig.get_platform()


def manifest_bytes(manifest: dict) -> bytes:
    """Return the bytes of manifest.json as written into a bundle."""
    return json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8") + b"\n"


def write_bundle(out: Path, manifest: dict | bytes, key: Ed25519PrivateKey, files: dict) -> None:
    """Write a bundle: the manifest, its signature by key, then files {path: local file}."""
    raw = manifest if isinstance(manifest, bytes) else manifest_bytes(manifest)
    signature = key.sign(SIGNING_PREFIX + raw)
    partial = out.with_name(out.name + ".partial")
    with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in (("manifest.json", raw), ("manifest.sig", signature)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
        for name in sorted(files):
            info = tar.gettarinfo(str(files[name]), arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            with open(files[name], "rb") as f:
                tar.addfile(info, f)
    with open(partial, "rb") as f:
        os.fsync(f.fileno())
    os.replace(partial, out)


# --- checking a bundle -----------------------------------------------------------------


def this_box() -> dict:
    """Return the python, implementation and machine a bundle must have been built for."""
    return {
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "implementation": {"cpython": "cp"}.get(sys.implementation.name, sys.implementation.name),
        "machine": platform.machine(),
    }


def _damaged(path: Path) -> UpdateError:
    return UpdateError(
        f"{path} is damaged or incomplete (was copying it finished?); nothing was changed"
    )


def _check_manifest(raw: bytes, signature: bytes, keys: list[Ed25519PublicKey]) -> dict:
    if not keys:
        raise UpdateError(
            "this box trusts no release key, so it cannot check any update; put the "
            f"release key's .pub file in {SYSTEM_KEYS_DIR} or <data dir>/release-keys"
        )
    for key in keys:
        try:
            key.verify(signature, SIGNING_PREFIX + raw)
            break
        except InvalidSignature:
            continue
    else:
        raise UpdateError(
            "this update is not signed by a release key this box trusts (it was changed "
            "after signing, or it comes from someone else); nothing was changed"
        )
    manifest = json.loads(raw)
    if manifest.get("format") != FORMAT:
        raise UpdateError("this update is in a format this version cannot read; nothing changed")
    if not _VERSION.match(str(manifest.get("kith_version", ""))):
        raise UpdateError("this update names no valid kith version; nothing was changed")
    box = this_box()
    for field in ("python", "implementation", "machine"):
        if manifest.get(field) != box[field]:
            raise UpdateError(
                f"this update is for {manifest.get('machine')} with Python "
                f"{manifest.get('python')}, but this box is {box['machine']} with Python "
                f"{box['python']}; ask for the update made for this box. Nothing was changed"
            )
    return manifest


def open_bundle(path: Path, keys: list[Ed25519PublicKey], dest: Path) -> dict:
    """Verify a bundle's signature and every file's hash, extracting its wheels into dest.

    Raises UpdateError for anything tampered, truncated, foreign or for another machine;
    dest is only written after the signature holds. Returns the manifest.
    """
    path = Path(path)
    try:
        tar = tarfile.open(path, "r:")
    except FileNotFoundError:
        raise UpdateError(f"there is no file {path}") from None
    except (tarfile.TarError, EOFError, IsADirectoryError):
        raise _damaged(path) from None
    try:
        with tar:
            return _read_members(path, tar, keys, dest)
    except (tarfile.TarError, EOFError, json.JSONDecodeError, UnicodeDecodeError):
        raise _damaged(path) from None


def _read_members(path: Path, tar: tarfile.TarFile, keys, dest: Path) -> dict:
    first, second = tar.next(), tar.next()
    if not (first and second and first.name == "manifest.json" and second.name == "manifest.sig"):
        raise UpdateError(f"{path} is not a kith update bundle; nothing was changed")
    if not (first.isreg() and second.isreg()) or first.size > MAX_MANIFEST_BYTES:
        raise _damaged(path)
    raw, signature = tar.extractfile(first).read(), tar.extractfile(second).read()
    if len(raw) != first.size or len(signature) != second.size:
        raise _damaged(path)
    manifest = _check_manifest(raw, signature, keys)
    wanted = {}
    for entry in manifest["files"]:
        if not _WHEEL_PATH.match(entry["path"]) or entry["path"] in wanted:
            raise UpdateError(f"{path} lists a file it may not hold; nothing was changed")
        wanted[entry["path"]] = entry
    seen = set()
    while (member := tar.next()) is not None:
        entry = wanted.get(member.name)
        if entry is None or member.name in seen or not member.isreg():
            raise UpdateError(f"{path} holds a file its signature does not cover: {member.name}")
        if member.size != entry["size"]:
            raise _tampered(member.name)
        target = dest / member.name
        target.parent.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        with tar.extractfile(member) as src, open(target, "wb") as f:
            for block in iter(lambda: src.read(1 << 20), b""):
                digest.update(block)
                size += len(block)
                f.write(block)
        if size != entry["size"] or digest.hexdigest() != entry["sha256"]:
            raise _tampered(member.name)
        seen.add(member.name)
    if seen != set(wanted):
        raise _damaged(path)
    return manifest


def _tampered(name: str) -> UpdateError:
    return UpdateError(f"{name} in the update was changed after signing; nothing was changed")
