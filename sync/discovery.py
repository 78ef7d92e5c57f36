"""Announce this box on the LAN with zeroconf and keep a list of the other boxes nearby.

What a box learns here is a hint, not trust: anyone on the network can advertise any name
and fingerprint. Trust comes only from pairing, where staff compare a code on both screens.
"""

from __future__ import annotations

import ipaddress
import re
import threading
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

# zeroconf (and ifaddr, which it brings) stays in sync/: the core must run without it.
import ifaddr
from zeroconf import Error as ZeroconfError
from zeroconf import (
    InterfaceChoice,
    IPVersion,
    NonUniqueNameException,
    ServiceBrowser,
    ServiceInfo,
    ServiceListener,
    Zeroconf,
)

from appliance.services.peers import fingerprint

SERVICE_TYPE = "_kith._tcp.local."
PROTOCOL_VERSION = "1"

# RFC 6763 section 4.1.1: an instance name is at most 63 bytes of UTF-8.
INSTANCE_MAX_BYTES = 63
FALLBACK_NAME = "Kith box"
MAX_RENAMES = 50

# Our SRV, TXT and address records live two minutes, not zeroconf's 75-minute default, so
# a box that loses power (no goodbye) is found silent by the sweep within a few minutes.
RECORD_TTL_S = 120
RESOLVE_TIMEOUT_MS = 3000
# How often the boxes listed are asked again; see Discovery._sweep_until_closed.
SWEEP_S = 60.0

Interfaces = Sequence[str] | InterfaceChoice | None


class DiscoveryError(Exception):
    """This box cannot be announced on the network; the message says why."""


@dataclass(frozen=True)
class NearbyBox:
    """A Kith box seen on the network (unverified until paired)."""

    name: str
    addresses: tuple[str, ...]
    port: int
    fp: str
    proto: str
    # time.time() of the last check that found its records fresh (at most RECORD_TTL_S
    # old); checked when its announcement changes and every SWEEP_S.
    last_seen: float


def instance_name(centre_name: str, number: int = 1) -> str:
    """Return the zeroconf instance name for a centre, with " (n)" from the second try on."""
    text = unicodedata.normalize("NFC", centre_name)
    # zeroconf writes a name label by label, split at dots, so "St. Anne's" would reach
    # other implementations as two labels; control characters are refused outright.
    text = "".join(" " if c == "." or unicodedata.category(c).startswith("C") else c for c in text)
    base = " ".join(text.split()) or FALLBACK_NAME
    suffix = "" if number == 1 else f" ({number})"
    room = INSTANCE_MAX_BYTES - len(suffix.encode("utf-8"))
    # Cut whole characters, never a UTF-8 sequence in half.
    while len(base.encode("utf-8")) > room:
        base = base[:-1]
    return base.rstrip() + suffix


def server_name(centre_name: str, fp: str) -> str:
    """Return a host name for the box: an ASCII slug of the centre plus part of its fingerprint."""
    ascii_text = unicodedata.normalize("NFKD", centre_name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:40].strip("-") or "box"
    # Two boxes of the same centre must not claim one host name, or each would overwrite
    # the other's address in every cache on the network.
    return f"kith-{slug}-{fp.replace('-', '')[:8]}.local."


def _check_interfaces(interfaces: Interfaces) -> list[str] | InterfaceChoice:
    if interfaces is None:
        return InterfaceChoice.Default
    if isinstance(interfaces, InterfaceChoice):
        return interfaces
    if isinstance(interfaces, str):
        raise ValueError("interfaces must be a list of addresses, not one string")
    addresses = list(interfaces)
    for address in addresses:
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            raise ValueError(f"interface {address!r} is not an IP address") from None
        # We run zeroconf IPv4-only: with InterfaceChoice.Default zeroconf cannot send IPv6
        # multicast at all, and a peer needs one reachable address, not every one.
        if parsed.version != 4 or parsed.is_unspecified:
            raise ValueError(f"interface {address!r} is not an IPv4 interface address")
    if not addresses:
        raise ValueError("interfaces is empty; leave it unset to use the default interface")
    return addresses


def _own_addresses(interfaces: list[str] | InterfaceChoice) -> list[str]:
    if isinstance(interfaces, list):
        return list(interfaces)
    # Listening on the default interface, the box may be reached on any of its addresses;
    # loopback is left out because to a peer it means the peer itself.
    found = {
        ip.ip
        for adapter in ifaddr.get_adapters()
        for ip in adapter.ips
        if ip.is_IPv4 and not ipaddress.ip_address(ip.ip).is_loopback
    }
    return sorted(found)


def _text(properties: dict[bytes, bytes | None], key: bytes) -> str:
    value = properties.get(key)
    return value.decode("utf-8", "replace") if value is not None else ""


def _box_name(service_name: str) -> str:
    suffix = "." + SERVICE_TYPE
    if service_name.lower().endswith(suffix.lower()):
        return service_name[: -len(suffix)]
    return service_name


def _box_from_info(info: ServiceInfo, seen: float) -> NearbyBox | None:
    """Return the NearbyBox an answer describes, or None when it is not a usable Kith box."""
    fp = _text(info.properties, b"fp")
    port = info.port
    if port is None:
        txt_port = _text(info.properties, b"port")
        port = int(txt_port) if txt_port.isdigit() else None
    if not fp or port is None or not 0 < port < 65536:
        return None
    return NearbyBox(
        name=_box_name(info.name),
        addresses=tuple(info.parsed_addresses(IPVersion.V4Only)),
        port=port,
        fp=fp,
        proto=_text(info.properties, b"proto"),
        last_seen=seen,
    )


class _Nearby:
    """The list of nearby boxes shared by Discovery and NullDiscovery."""

    def __init__(self, centre_name: str, origin: str, port: int) -> None:
        if not 0 < port < 65536:
            raise ValueError(f"port {port} is out of range")
        self.centre_name = centre_name
        self.port = port
        self.fp = fingerprint(origin)
        self.name: str | None = None  # the instance name in use, once started
        # Written by the zeroconf browser thread, read by web requests and the sync loop.
        self._lock = threading.Lock()
        self._boxes: dict[str, NearbyBox] = {}

    def nearby(self) -> list[NearbyBox]:
        """Return the other boxes seen on the network, by name."""
        with self._lock:
            return sorted(self._boxes.values(), key=lambda box: (box.name.lower(), box.fp))

    def _put(self, box: NearbyBox) -> None:
        # Our own announcement comes back to us; the fingerprint, not the name, says it is us.
        if box.fp == self.fp:
            return
        with self._lock:
            self._boxes[box.name.lower()] = box

    def _drop(self, name: str) -> None:
        with self._lock:
            self._boxes.pop(name.lower(), None)

    def _clear(self) -> None:
        with self._lock:
            self._boxes.clear()

    def start(self):
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.close()


class Discovery(_Nearby):
    """Announce this box as _kith._tcp.local. and browse for the others."""

    def __init__(
        self, centre_name: str, origin: str, port: int, *, interfaces: Interfaces = None
    ) -> None:
        super().__init__(centre_name, origin, port)
        self.interfaces = _check_interfaces(interfaces)
        self._zc: Zeroconf | None = None
        self._browser: ServiceBrowser | None = None
        self._sweeper: threading.Thread | None = None
        self._stop = threading.Event()
        # Service names the browser has reported and not yet withdrawn, by lower case:
        # a box that missed a check stays here, so the next check can bring it back.
        self._known: dict[str, str] = {}

    def start(self) -> Discovery:
        """Open zeroconf, start browsing and register this box, renaming it if the name is taken."""
        if self._zc is not None:
            raise RuntimeError("discovery is already running")
        # V4 only: see _check_interfaces.
        self._zc = Zeroconf(interfaces=self.interfaces, ip_version=IPVersion.V4Only)
        try:
            # Browse before registering: the answers land in zeroconf's cache, which is
            # where registration looks for a name already in use.
            self._browser = ServiceBrowser(self._zc, SERVICE_TYPE, listener=_Listener(self))
            self._register(self._zc)
            self._stop.clear()
            self._sweeper = threading.Thread(
                target=self._sweep_until_closed,
                args=(self._zc,),
                name="kith-discovery-sweep",
                daemon=True,
            )
            self._sweeper.start()
        except BaseException:
            self.close()
            raise
        return self

    def _register(self, zc: Zeroconf) -> None:
        properties = {"fp": self.fp, "proto": PROTOCOL_VERSION, "port": str(self.port)}
        addresses = _own_addresses(self.interfaces)
        server = server_name(self.centre_name, self.fp)
        # Our own renaming rather than allow_name_change, which would give "Name-2": staff
        # read these names, and "Name (2)" is how Bonjour and Avahi spell a second one.
        for number in range(1, MAX_RENAMES + 1):
            name = instance_name(self.centre_name, number)
            info = ServiceInfo(
                SERVICE_TYPE,
                f"{name}.{SERVICE_TYPE}",
                port=self.port,
                properties=properties,
                server=server,
                host_ttl=RECORD_TTL_S,
                other_ttl=RECORD_TTL_S,
                parsed_addresses=addresses,
            )
            try:
                zc.register_service(info)
            except NonUniqueNameException:
                continue
            self.name = name
            return
        raise DiscoveryError(f"{MAX_RENAMES} boxes on this network already use the name {name!r}")

    def close(self) -> None:
        """Say goodbye on the network, stop browsing and forget the boxes seen."""
        sweeper, browser, zc = self._sweeper, self._browser, self._zc
        self._sweeper = self._browser = self._zc = None
        # The threads first: either may be resolving a name through zc.
        self._stop.set()
        if sweeper is not None:
            sweeper.join()
        if browser is not None:
            browser.cancel()
        if zc is not None:
            zc.close()  # unregisters our service, which sends the goodbye
        with self._lock:
            self._known.clear()
        self._clear()

    def _seen(self, zc: Zeroconf, name: str) -> None:
        with self._lock:
            self._known[name.lower()] = name
        self._check(zc, name)

    def _gone(self, name: str) -> None:
        with self._lock:
            self._known.pop(name.lower(), None)
            self._boxes.pop(_box_name(name).lower(), None)

    def _check(self, zc: Zeroconf, name: str) -> None:
        # Answers from the cache while the box's records are fresh, asks the network after.
        try:
            info = zc.get_service_info(SERVICE_TYPE, name, timeout=RESOLVE_TIMEOUT_MS)
        except ZeroconfError:
            # A busy or closing event loop says nothing about the box; raising here would
            # end the browser's or the sweeper's thread for good.
            return
        box = _box_from_info(info, time.time()) if info is not None else None
        with self._lock:
            # The browser may have reported a goodbye while we were asking.
            if name.lower() not in self._known:
                return
            if box is None:
                self._boxes.pop(_box_name(name).lower(), None)
            elif box.fp != self.fp:
                self._boxes[box.name.lower()] = box

    def _sweep_until_closed(self, zc: Zeroconf) -> None:
        # The browser hears a box that says goodbye, but one that loses power just goes
        # quiet, and zeroconf keeps a PTR record at least 1125 s whatever its TTL. Checking
        # each box again finds it silent once its SRV and TXT records (RECORD_TTL_S) expire.
        while not self._stop.wait(SWEEP_S):
            with self._lock:
                names = list(self._known.values())
            for name in names:
                if self._stop.is_set():
                    return
                self._check(zc, name)


class _Listener(ServiceListener):
    """Pass the browser's events to a Discovery; runs on the browser's own thread."""

    def __init__(self, discovery: Discovery) -> None:
        self._discovery = discovery

    def add_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        self._discovery._seen(zc, name)

    def update_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        self._discovery._seen(zc, name)

    def remove_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        self._discovery._gone(name)


class NullDiscovery(_Nearby):
    """Stand in for Discovery without a network: boxes appear and leave when told to."""

    def __init__(
        self, centre_name: str, origin: str, port: int, *, interfaces: Interfaces = None
    ) -> None:
        super().__init__(centre_name, origin, port)
        self.interfaces = _check_interfaces(interfaces)

    def start(self) -> NullDiscovery:
        """Take the centre's name; nothing is sent anywhere."""
        self.name = instance_name(self.centre_name)
        return self

    def close(self) -> None:
        """Forget the boxes announced so far."""
        self._clear()

    def announce(self, box: NearbyBox) -> None:
        """Show a box as nearby, as if its announcement had arrived."""
        self._put(box)

    def withdraw(self, name: str) -> None:
        """Remove a box from the list, as if it had said goodbye."""
        self._drop(name)
