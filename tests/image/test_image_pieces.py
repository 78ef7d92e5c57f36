"""The Raspberry Pi image build (image/), checked piece by piece without building it.

The scripts parse and pass shellcheck; the package list has what the appliance needs; the
configuration files say what the appliance promises (journal in RAM, read-only root, the
data partition by label, the hostname); image/customize's own steps, run on a scratch
directory, install and enable every unit in systemd/; the partition table image/layout
writes is one sfdisk accepts on a sparse file. The full build and a qemu boot of the
result are one test marked `image`, run only with KITH_IMAGE_TESTS=1 (about 15 minutes
here: see image/README.md).
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IMAGE = REPO / "image"
FILES = IMAGE / "files"
UNIT_DIR = REPO / "systemd"
# Every bash script of the image build, found by its first line rather than listed.
SCRIPTS = sorted(
    p for p in IMAGE.rglob("*") if p.is_file() and p.read_bytes().startswith(b"#!/bin/bash")
)


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, check=False, **kwargs)


def customize(root: Path, *steps: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "KITH_REPO": str(REPO)}
    return run(str(IMAGE / "customize"), str(root), *steps, env=env)


def package_list() -> list[str]:
    text = (IMAGE / "packages").read_text(encoding="utf-8")
    return [line.split("#")[0].strip() for line in text.splitlines() if line.split("#")[0].strip()]


def fstab() -> dict[str, list[str]]:
    """Return {mount point: [spec, type, options, dump, pass]} of image/files/etc/fstab."""
    entries = {}
    for line in (FILES / "etc/fstab").read_text(encoding="utf-8").splitlines():
        fields = line.split("#")[0].split()
        if fields:
            spec, mount, *rest = fields
            assert mount not in entries, f"{mount} twice in fstab"
            entries[mount] = [spec, *rest]
    return entries


def parse_unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string(path.read_text(encoding="utf-8"))
    return parser


def test_the_build_has_its_scripts():
    names = {p.relative_to(IMAGE).as_posix() for p in SCRIPTS}
    assert {"build", "customize", "layout", "check-boot"} <= names
    for script in SCRIPTS:
        assert os.access(script, os.X_OK), f"{script} is not executable"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.relative_to(IMAGE).as_posix())
def test_script_parses(script):
    result = run("bash", "-n", str(script))
    assert result.returncode == 0, result.stderr


def test_scripts_pass_shellcheck():
    # tests/setup installs it: a missing tool is a failure, not a quiet skip.
    assert shutil.which("shellcheck"), "install Debian's shellcheck (bash tests/setup does)"
    result = run("shellcheck", "--severity=info", *map(str, SCRIPTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_package_list_has_what_the_appliance_needs():
    packages = package_list()
    assert len(packages) == len(set(packages)), "a package is listed twice"
    for name in packages:
        assert re.fullmatch(r"[a-z0-9][a-z0-9+.-]+", name), f"not a Debian package name: {name}"
    required = {
        # boots on a Pi from Debian's own packages
        "linux-image-arm64",
        "raspi-firmware",
        "initramfs-tools",
        # read-only root, time without a network, the kith.local name
        "overlayroot",
        "fake-hwclock",
        "avahi-daemon",
        "systemd",
        # kith's venv, the kiosk, the centre's wifi
        "python3",
        "python3-venv",
        "cage",
        "chromium",
        "wpasupplicant",
        "firmware-brcm80211",
    }
    assert required <= set(packages), f"missing: {sorted(required - set(packages))}"
    assert any(name.startswith("fonts-") for name in packages), "the kiosk needs fonts"


def test_journal_is_kept_in_memory():
    dropins = sorted((FILES / "etc/systemd/journald.conf.d").glob("*.conf"))
    assert dropins
    conf = parse_unit(dropins[0])
    assert conf["Journal"]["Storage"] == "volatile"
    text = dropins[0].read_text(encoding="utf-8").lower()
    # The why is written down next to it.
    assert "sd card" in text and "power cut" in text


def test_fstab_has_read_only_root_data_by_label_and_tmpfs():
    entries = fstab()
    spec, fstype, options, *_ = entries["/"]
    assert (spec, fstype) == ("LABEL=KITHROOT", "ext4")
    assert "ro" in options.split(",")
    spec, fstype, options, _dump, fsck_pass = entries["/var/lib/kith"]
    assert (spec, fstype) == ("LABEL=KITHDATA", "ext4")
    assert {"data=journal", "noatime"} <= set(options.split(","))
    assert "ro" not in options.split(",")
    assert fsck_pass == "2", "the data partition is checked at boot"
    assert entries["/opt/kith"][:2] == ["LABEL=KITHOPT", "ext4"]
    assert entries["/boot/firmware"][:2] == ["LABEL=RASPIFIRM", "vfat"]
    for mount in ("/tmp", "/var/log"):
        assert entries[mount][:2] == ["tmpfs", "tmpfs"]


def test_fstab_labels_are_the_ones_the_build_writes():
    build = (IMAGE / "build").read_text(encoding="utf-8")
    written = set(re.findall(r"mkfs_ext4_at [^\n]* (KITH[A-Z]+) ", build))
    written |= set(re.findall(r"mkfs\.vfat [^\n]*-n ([A-Z]+)", build))
    mounted = {entry[0].removeprefix("LABEL=") for entry in fstab().values()}
    mounted.discard("tmpfs")
    assert written == mounted == {"RASPIFIRM", "KITHROOT", "KITHOPT", "KITHDATA"}


def test_overlayroot_overlays_only_the_root():
    text = (FILES / "etc/overlayroot.local.conf").read_text(encoding="utf-8")
    settings = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert settings == ['overlayroot="tmpfs:swap=0,recurse=0"']


def test_hostname_step_names_the_box_kith(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/hostname").write_text("build-machine\n")
    result = customize(tmp_path, "hostname")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "etc/hostname").read_text() == "kith\n"
    assert re.search(r"^127\.0\.1\.1\s+kith$", (tmp_path / "etc/hosts").read_text(), re.M)


def test_files_step_copies_image_files_as_root(tmp_path):
    result = customize(tmp_path, "files")
    assert result.returncode == 0, result.stderr
    for source in FILES.rglob("*"):
        if source.is_file():
            copy = tmp_path / source.relative_to(FILES)
            assert copy.read_bytes() == source.read_bytes()
            assert os.access(copy, os.X_OK) == os.access(source, os.X_OK)
            if os.geteuid() == 0:
                assert copy.stat().st_uid == 0


def test_units_step_installs_and_enables_every_unit_in_systemd(tmp_path):
    assert shutil.which("systemctl") and shutil.which("systemd-sysusers"), (
        "install Debian's systemd (bash tests/setup does)"
    )
    result = customize(tmp_path, "units")
    assert result.returncode == 0, result.stderr
    unit_files = [p for p in UNIT_DIR.iterdir() if p.suffix in {".service", ".timer"}]
    assert unit_files, "systemd/ has no units"
    for unit in unit_files:
        installed = tmp_path / "usr/lib/systemd/system" / unit.name
        assert installed.read_bytes() == unit.read_bytes()
        conf = parse_unit(unit)
        if conf.has_section("Install"):
            for target in conf["Install"].get("WantedBy", "").split():
                link = tmp_path / "etc/systemd/system" / f"{target}.wants" / unit.name
                assert link.is_symlink(), f"{unit.name} is not enabled for {target}"
    sysusers = sorted(UNIT_DIR.glob("*.sysusers"))
    for source in sysusers:
        installed = tmp_path / "usr/lib/sysusers.d" / f"{source.stem}.conf"
        assert installed.read_bytes() == source.read_bytes()
        # Applied at build time: the users exist in the image's own /etc/passwd.
        users = re.findall(r"^u\s+(\S+)", source.read_text(), re.M)
        passwd = (tmp_path / "etc/passwd").read_text()
        for user in users:
            assert re.search(rf"^{user}:", passwd, re.M), f"user {user} not created"
    wants_graphical = any(
        "graphical.target" in parse_unit(u).get("Install", "WantedBy", fallback="")
        for u in unit_files
    )
    if wants_graphical:
        default = tmp_path / "etc/systemd/system/default.target"
        assert os.readlink(default).endswith("graphical.target")


def test_image_units_with_install_sections_are_enabled_by_the_system_step():
    customize_text = (IMAGE / "customize").read_text(encoding="utf-8")
    system_step = customize_text.split("step_system() {")[1].split("\n}\n")[0]
    for unit in (FILES / "usr/lib/systemd/system").glob("*.*"):
        if unit.is_file() and parse_unit(unit).has_section("Install"):
            assert unit.name in system_step, f"{unit.name} is never enabled"


IMAGE_UNITS = sorted(
    p.name
    for p in (FILES / "usr/lib/systemd/system").iterdir()
    if p.suffix in {".service", ".timer"}
)


def host_unit_dir() -> Path:
    for path in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")):
        if (path / "sysinit.target").exists():
            return path
    pytest.fail("no systemd system units on this machine: install Debian's systemd")


@pytest.mark.parametrize("name", IMAGE_UNITS)
def test_image_unit_verifies_without_a_word(tmp_path, name):
    # systemd-analyze verify exits 0 on unknown keys and bad values: any line is a failure.
    # Its root: this machine's units, image/files over them, a stand-in for fake-hwclock.
    root = tmp_path / "root"
    shutil.copytree(host_unit_dir(), root / "usr/lib/systemd/system", symlinks=True)
    shutil.copytree(FILES, root, dirs_exist_ok=True)
    for program in ("sbin/fake-hwclock",):
        (root / program).parent.mkdir(parents=True, exist_ok=True)
        (root / program).write_text("#!/bin/sh\nexit 0\n")
        (root / program).chmod(0o755)
    unit = root / "usr/lib/systemd/system" / name
    done = run("systemd-analyze", "verify", f"--root={root}", "--man=no", str(unit))
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def build_sizes() -> list[int]:
    build = (IMAGE / "build").read_text(encoding="utf-8")
    sizes = {name: int(value) for name, value in re.findall(r"^(\w+)_mib=(\d+)", build, re.M)}
    # The root's size is measured at build time; a typical one stands in for it.
    return [sizes["firmware"], 2048, sizes["opt"], sizes["data"]]


def test_partition_layout_is_valid_for_sfdisk(tmp_path):
    assert shutil.which("sfdisk"), "sfdisk is missing: install Debian's fdisk (tests/setup)"
    sizes = build_sizes()
    layout = run(str(IMAGE / "layout"), *map(str, sizes))
    assert layout.returncode == 0, layout.stderr
    disk = tmp_path / "sd.img"
    with disk.open("wb") as f:  # sparse: only the partition table is ever written
        f.truncate((4 + sum(sizes)) << 20)
    written = run("sfdisk", "--quiet", str(disk), input=layout.stdout)
    assert written.returncode == 0, written.stderr
    table = json.loads(run("sfdisk", "--json", str(disk)).stdout)["partitiontable"]
    assert table["label"] == "dos"
    parts = table["partitions"]
    assert [p["type"] for p in parts] == ["c", "83", "83", "83"]
    assert parts[0].get("bootable") is True
    assert [p["size"] for p in parts] == [mib * 2048 for mib in sizes]
    end = 0
    for part in parts:
        assert part["start"] % 8192 == 0, "partitions start on 4 MiB boundaries"
        assert part["start"] >= end, "partitions overlap"
        end = part["start"] + part["size"]
    assert end * 512 == disk.stat().st_size, "the data partition is last and fills the image"
    # And the dump reads back as the same input (what image/build parses for offsets).
    dump = run("sfdisk", "--dump", str(disk)).stdout
    assert len(re.findall(r"start=\s*\d+, size=\s*\d+", dump)) == 4


@pytest.mark.parametrize("sizes", [["256", "2048", "1024"], ["256", "2047", "1024", "256"]])
def test_layout_refuses_bad_sizes(sizes):
    result = run(str(IMAGE / "layout"), *sizes)
    assert result.returncode == 2
    assert result.stdout == ""


def test_wifi_file_for_staff_is_on_the_boot_partition_and_linked():
    wifi = IMAGE / "firmware/kith-wifi.conf"
    text = wifi.read_text(encoding="utf-8")
    assert re.search(r"^country=[A-Z]{2}$", text, re.M)
    customize_text = (IMAGE / "customize").read_text(encoding="utf-8")
    assert "/boot/firmware/kith-wifi.conf" in customize_text
    assert "wpa_supplicant@wlan0.service" in customize_text


@pytest.mark.image
@pytest.mark.skipif(os.environ.get("KITH_IMAGE_TESTS") != "1", reason="KITH_IMAGE_TESTS=1 builds")
def test_full_build_boots_and_serves_the_setup_page(tmp_path):
    out = tmp_path / "image"
    build = subprocess.run(
        [str(IMAGE / "build"), str(out)], capture_output=True, text=True, timeout=3600
    )
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    images = list(out.glob("kith-*-arm64.img"))
    assert len(images) == 1
    manifest = images[0].with_suffix(".manifest").read_text(encoding="utf-8")
    assert re.search(r"^linux-image-arm64 \S+ arm64$", manifest, re.M)
    assert re.search(r"^kith==\S+$", manifest, re.M)
    boot = subprocess.run(
        [str(IMAGE / "check-boot"), str(out)], capture_output=True, text=True, timeout=1800
    )
    assert boot.returncode == 0, boot.stdout[-8000:] + boot.stderr[-4000:]
    assert "ok    / is the first-boot setup page" in boot.stdout
