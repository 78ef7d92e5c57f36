"""The kiosk: what the screen in the centre's hall shows, and the address phones scan.

The screen is in a public hall, so it shows the board as a visitor sees it whoever is
signed in at the kiosk: never a hidden post, and no names beside needs and offers
(the thank-you wall names giver and helper, as the thanks page does). Posts whose
needed-by date has passed are left off; the board still lists them.

What is chosen, and in what order:

- rotation, the posts that take turns in the big panel, most urgent first, at most
  ROTATION_MAX in all, each with the reason it is there:
  1. "soon": posts nobody has said "I'm on it" to, needed within SOON_DAYS days
     (today included), the soonest date first (the older post first on the same
     date), at most SOON_MAX;
  2. "waiting": open needs and "somebody should" posts nobody has offered to help
     with, posted WAITING_DAYS days ago or more, the one waiting longest first, at
     most WAITING_MAX;
  3. "recent": the newest of the other open posts, newest first.
- food: open food needs (posts of type need made for an organisation, not yet covered
  by pledges), the soonest needed-by date first, then those without a date, newest
  first; at most FOOD_MAX, each with its organisation and what is still missing.
- appeal: the items this centre's own food banks are most short of (food_appeal), at
  most APPEAL_ITEMS, for the line above the food needs.
- should: "somebody should" posts nobody is on yet (status open), waiting longest
  first; at most SHOULD_MAX.
- wall: thanks given and posts resolved in the last WALL_DAYS days, newest first; a
  resolved post that was thanked shows as its thanks only; at most WALL_MAX.
- freshness: when the box last synced with each paired centre.
"""

from __future__ import annotations

import datetime
import io
import ipaddress
import socket
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import segno

from appliance.box import Box
from appliance.models import Item, Member, Org, Post, PostLine, Thanks
from appliance.services import food_appeal, peers
from appliance.services.board import today
from appliance.services.board_queries import other_centres, serialize_summary
from appliance.services.centre import category_labels
from appliance.services.food_balance import QUANTITY_PHRASES
from appliance.services.orgs import retired_org_ids

DAY_MS = 86_400_000
ROTATION_MAX = 10
SOON_DAYS = 7
SOON_MAX = 4
WAITING_DAYS = 3
WAITING_MAX = 3
HELP_WANTED = ("need", "should")  # an offer waits for a taker, not a helper
FOOD_MAX = 5
FOOD_LINES_MAX = 4  # items shown under one need: the rest is on the post's page
APPEAL_ITEMS = 3
SHOULD_MAX = 5
WALL_DAYS = 30
WALL_MAX = 6
EXCERPT_MAX = 200

# Private addresses a UDP socket is "connected" to, to learn which of the box's own
# addresses faces the local network. Connecting a UDP socket sends nothing.
PROBES = (("10.254.254.254", 9), ("172.31.254.254", 9), ("192.168.254.254", 9))


def _summary(post: Post, labels: dict, centres: dict, box: Box, reason: str) -> dict:
    data = serialize_summary(post, {}, labels, False, centres, box.origin)
    del data["author"]  # a screen in a hall: no names beside needs
    if len(post.details) > EXCERPT_MAX:
        data["excerpt"] = post.details[:EXCERPT_MAX].rstrip() + "…"
    else:
        data["excerpt"] = post.details
    data["reason"] = reason
    data["days_open"] = max(0, (box.log.now_ms() - post.created_ms) // DAY_MS)
    # The day, not the minute: the screen (and its ETag) then changes only with the board.
    zone = ZoneInfo(box.settings["timezone"])
    posted = datetime.datetime.fromtimestamp(post.created_ms / 1000, zone).date()
    data["posted_day"] = posted.isoformat()
    data["posted_days_ago"] = (today(box) - posted).days
    return data


def _open_posts(box: Box):
    """Visible, unresolved posts whose needed-by date (if any) has not passed."""
    day = today(box).isoformat()
    return Post.select().where(
        (Post.hidden == False)  # noqa: E712
        & (Post.stale == False)  # noqa: E712  (gone quiet: off the main board and the hall)
        & (Post.status != "resolved")
        & (Post.needed_by.is_null() | (Post.needed_by >= day))
        # A retired organisation's posts are off the hall's screen too.
        & (Post.org.is_null() | Post.org.not_in(retired_org_ids()))
    )


def rotation(box: Box) -> list[tuple[Post, str]]:
    """Return the posts for the big panel, most urgent first, each with its reason."""
    now = box.log.now_ms()
    last_day = (today(box) + datetime.timedelta(days=SOON_DAYS)).isoformat()
    chosen: list[tuple[Post, str]] = []
    soon = (
        _open_posts(box)
        .where(
            (Post.status == "open") & Post.needed_by.is_null(False) & (Post.needed_by <= last_day)
        )
        .order_by(Post.needed_by, Post.created_ms, Post.id)
        .limit(SOON_MAX)
    )
    chosen += [(p, "soon") for p in soon]
    taken = [p.id for p, _ in chosen]
    waiting = (
        _open_posts(box)
        .where(
            (Post.helper_count == 0)
            & Post.type.in_(HELP_WANTED)
            & (Post.created_ms <= now - WAITING_DAYS * DAY_MS)
            & Post.id.not_in(taken)
        )
        .order_by(Post.created_ms, Post.id)
        .limit(WAITING_MAX)
    )
    chosen += [(p, "waiting") for p in waiting]
    taken = [p.id for p, _ in chosen]
    recent = (
        _open_posts(box)
        .where(Post.id.not_in(taken))
        .order_by(Post.created_ms.desc(), Post.id)
        .limit(ROTATION_MAX - len(chosen))
    )
    chosen += [(p, "recent") for p in recent]
    return chosen


def food_needs(box: Box) -> list[Post]:
    """Return open food needs not yet covered: the soonest needed first, then the newest."""
    return list(
        _open_posts(box)
        .where((Post.type == "need") & Post.org.is_null(False))
        .order_by(Post.needed_by.is_null(), Post.needed_by, Post.created_ms.desc(), Post.id)
        .limit(FOOD_MAX)
    )


def _amount(qty: int, name: str, unit: str) -> dict:
    """An amount of an item, with the phrase (singular, plural) the screen says it in."""
    return {"qty": qty, "name": name, "unit": unit, "phrase": QUANTITY_PHRASES[unit]}


def still_missing(posts: list[Post]) -> dict[str, list[dict]]:
    """Return, per food need, the items still missing (most missing first)."""
    rows = (
        PostLine.select(PostLine.post, PostLine.qty, PostLine.covered, Item.name, Item.unit)
        .join(Item, on=(PostLine.item == Item.id))
        .where(PostLine.post.in_([p.id for p in posts]) & (PostLine.covered < PostLine.qty))
        .tuples()
    )
    missing: dict[str, list[dict]] = {p.id: [] for p in posts}
    for post, qty, covered, name, unit in rows:
        missing[post].append(_amount(qty - covered, name, unit))
    for lines in missing.values():
        lines.sort(key=lambda a: (-a["qty"], a["name"].casefold()))
    return missing


def food_section(box: Box, summary) -> list[dict]:
    """Return the food needs for the screen, with their organisation and what is missing."""
    posts = food_needs(box)
    missing = still_missing(posts)
    names = {o.id: o.name for o in Org.select().where(Org.id.in_([p.org for p in posts]))}
    shown = []
    for p in posts:
        data = summary(p, "food")
        data["org"] = names.get(p.org)
        data["missing"] = missing[p.id][:FOOD_LINES_MAX]
        data["more_missing"] = max(0, len(missing[p.id]) - FOOD_LINES_MAX)
        shown.append(data)
    return shown


def appeal_line(box: Box) -> list[dict]:
    """Return the items this centre's own food banks are most short of."""
    items = food_appeal.most_needed(box)[:APPEAL_ITEMS]
    return [_amount(e["missing"], e["name"], e["unit"]) for e in items]


def waiting_shoulds(box: Box) -> list[Post]:
    """Return "somebody should" posts nobody is on yet, waiting longest first."""
    return list(
        _open_posts(box)
        .where((Post.type == "should") & (Post.status == "open"))
        .order_by(Post.created_ms, Post.id)
        .limit(SHOULD_MAX)
    )


def thank_you_wall(box: Box) -> list[dict]:
    """Return recent thanks and resolved posts, newest first."""
    since = box.log.now_ms() - WALL_DAYS * DAY_MS
    thanks = list(
        Thanks.select(Thanks, Post.title.alias("post_title"))
        .join(Post, on=(Thanks.post == Post.id))
        .where((Post.hidden == False) & (Thanks.created_ms >= since))  # noqa: E712
        .order_by(Thanks.created_ms.desc(), Thanks.id)
        .limit(WALL_MAX)
        .objects()
    )
    resolved = (
        Post.select()
        .where(
            (Post.hidden == False)  # noqa: E712
            & (Post.status == "resolved")
            & (Post.resolved_ms >= since)
            & Post.id.not_in(Thanks.select(Thanks.post))
        )
        .order_by(Post.resolved_ms.desc(), Post.id)
        .limit(WALL_MAX)
    )
    ids = {t.giver for t in thanks} | {t.helper for t in thanks}
    names = {m.id: m.name for m in Member.select().where(Member.id.in_(list(ids)))}
    wall = [
        {
            "kind": "thanks",
            "at_ms": t.created_ms,
            "title": t.post_title,
            "message": t.message,
            "from": names.get(t.giver, "?"),
            "to": names.get(t.helper, "?"),
        }
        for t in thanks
    ] + [
        {"kind": "resolved", "at_ms": p.resolved_ms, "title": p.title, "message": p.resolved_note}
        for p in resolved
    ]
    wall.sort(key=lambda item: -item["at_ms"])
    return wall[:WALL_MAX]


def screen(box: Box) -> dict:
    """Return everything the kiosk shows, as plain data (the same for every viewer)."""
    labels = category_labels(box)
    centres = other_centres(box)

    def summary(post: Post, reason: str) -> dict:
        return _summary(post, labels, centres, box, reason)

    return {
        "rotation": [summary(p, reason) for p, reason in rotation(box)],
        "food": food_section(box, summary),
        "appeal": appeal_line(box),
        "should": [summary(p, "should") for p in waiting_shoulds(box)],
        "wall": thank_you_wall(box),
        "freshness": peers.freshness(box),
    }


# --- the address phones open -------------------------------------------------------


def lan_ip(probes=PROBES) -> str | None:
    """Return the address this box uses on the local network, or None if it has none.

    Connecting a UDP socket sends no packet: the kernel only picks the source address
    it would route from, which is the address phones on the same network can reach.
    """
    for host, port in probes:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.connect((host, port))
                return sock.getsockname()[0]
        except OSError:
            continue  # no route that way; try the next private range
    return None


@dataclass(frozen=True)
class Address:
    """Where phones open the board: `url` (in the QR code) and another way, if any."""

    url: str
    alternative: str | None = None


def _with_port(host: str, port: int) -> str:
    return host if port == 80 else f"{host}:{port}"


def board_address(settings: dict, port: int, find_ip=None, hostname: str | None = None) -> Address:
    """Return the address of the board for phones on the centre's network.

    The `public_url` setting wins; else the box's LAN address (phones without mDNS
    need the number), with the box's `.local` name as the alternative; else the name.
    """
    if settings.get("public_url"):
        return Address(settings["public_url"])
    name = (hostname if hostname is not None else socket.gethostname()).split(".")[0]
    by_name = f"http://{_with_port(name + '.local', port)}/"
    found = (find_ip or lan_ip)()
    try:
        ip = ipaddress.ip_address(found) if found else None
    except ValueError:
        ip = None
    if ip is None or ip.is_loopback or ip.is_unspecified or ip.is_link_local:
        return Address(by_name)
    host = f"[{ip}]" if ip.version == 6 else str(ip)
    return Address(f"http://{_with_port(host, port)}/", by_name)


def qr_svg(url: str, title: str) -> bytes:
    """Return a QR code of the URL as a scalable SVG: dark on white, with its quiet zone."""
    out = io.BytesIO()
    segno.make(url, error="m").save(
        out,
        kind="svg",
        xmldecl=False,
        omitsize=True,
        border=4,
        dark="#000",
        light="#fff",
        title=title,
    )
    return out.getvalue()
