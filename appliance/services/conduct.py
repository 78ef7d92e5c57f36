"""The centre's code of conduct: versions staff publish, and members accepting them.

A code is Markdown (conduct.published, federation: other centres may show it beside
their hides); each member accepts the current version before they post or comment
(conduct.accepted, local) and is asked again when it changes. While a box has no code
(a box made by `kith init` before anyone wrote one), nothing is required.
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from markupsafe import Markup, escape

from appliance.box import Box
from appliance.db import database
from appliance.errors import N_, Conflict, InvalidInput, NotAllowed
from appliance.kinds import CONDUCT_MAX, NOTE_MAX
from appliance.models import Conduct, Member
from appliance.services.accounts import Actor, require_member
from appliance.services.members import require_staff
from appliance.text import clean_text

# Links a code may hold: to the web, to an email address, or to a page of the box.
_LINK_SCHEMES = ("http:", "https:", "mailto:")
CHANGED = N_("The code of conduct changed while you were reading: please read the new version")


class ConductNotAccepted(NotAllowed):
    """The member has not accepted the centre's current code of conduct."""


def _valid_link(url: str) -> bool:
    # Browsers ignore tabs, newlines and leading spaces in a URL ("java\tscript:"), so
    # they are refused rather than stripped.
    if any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in url) or "\\" in url:
        return False
    lowered = url.lower()
    if lowered.startswith(_LINK_SCHEMES):
        return True
    if url.startswith("//"):  # scheme-relative: another site
        return False
    # Relative (a path, a query, a fragment): no scheme before the first / ? or #.
    head = url.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    return ":" not in head


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False})
    md.validateLink = _valid_link

    # Render rules are bound to the renderer (`renderer`), as markdown-it's own are.
    def image(renderer, tokens, idx, options, env):
        # The box never fetches a third party, and a code needs no pictures: an image
        # shows as its alt text.
        token = tokens[idx]
        alt = renderer.renderInlineAsText(token.children or [], options, env)
        return str(escape(alt))

    def heading(renderer, tokens, idx, options, env):
        # Pages keep their own <h1>: the code's headings start one level down.
        token = tokens[idx]
        level = min(int(token.tag[1]) + 1, 6)
        return f"<h{level}>" if token.nesting == 1 else f"</h{level}>\n"

    def link_open(renderer, tokens, idx, options, env):
        tokens[idx].attrSet("rel", "nofollow noopener noreferrer")
        return renderer.renderToken(tokens, idx, options, env)

    md.add_render_rule("image", image)
    md.add_render_rule("heading_open", heading)
    md.add_render_rule("heading_close", heading)
    md.add_render_rule("link_open", link_open)
    return md


_MD = _markdown()


def render_markdown(text: str) -> Markup:
    """Render Markdown safely: raw HTML escaped, only web, mail and relative links, no
    images, headings from <h2> down."""
    return Markup(_MD.render(text or ""))


def _row_dict(row: Conduct, with_html: bool = True) -> dict:
    found = {
        "version": row.version,
        "text": row.text,
        "note": row.note,
        "published_ms": row.published_ms,
    }
    if with_html:
        found["html"] = render_markdown(row.text)
    return found


def _versions(box: Box):
    return Conduct.select().where(Conduct.origin == box.origin)


def current_version(box: Box) -> int:
    """Return this centre's current code of conduct version (0: none published)."""
    row = _versions(box).order_by(Conduct.version.desc()).first()
    return row.version if row is not None else 0


def current_conduct(box: Box) -> dict | None:
    """Return this centre's current code {version, text, html, note, published_ms}, or None."""
    row = _versions(box).order_by(Conduct.version.desc()).first()
    return _row_dict(row) if row is not None else None


def conduct_version(box: Box, version: int) -> dict | None:
    """Return one version of this centre's code (with its html), or None."""
    row = _versions(box).where(Conduct.version == version).first()
    return _row_dict(row) if row is not None else None


def conduct_history(box: Box) -> list[dict]:
    """Return every version of this centre's code, newest first (without html)."""
    return [_row_dict(r, False) for r in _versions(box).order_by(Conduct.version.desc())]


def check_text(text: str, field: str = "text") -> str:
    """Return a code's Markdown cleaned (NFC, trimmed), or raise InvalidInput on `field`."""
    text = clean_text(text)
    if not text:
        raise InvalidInput({field: N_("Please write the code of conduct.")})
    if len(text) > CONDUCT_MAX:
        raise InvalidInput({field: N_("Please keep the code of conduct under 20,000 characters.")})
    return text


def append_version(box: Box, text: str, note: str, author: str | None) -> int:
    """Write the next version of this centre's code (checked text); return its number.

    For this module and adopted proposals (appliance/services/proposals.py).
    """
    with database.atomic():
        version = current_version(box) + 1
        box.log.append(
            "conduct.published",
            {"version": version, "text": text, "note": note},
            subject=box.centre.id,
            author=author,
        )
    return version


def publish_conduct(box: Box, actor: Actor | None, text: str, note: str = "") -> int:
    """Publish a new version of the centre's code of conduct (staff); return its number."""
    require_staff(actor)
    errors: dict[str, str] = {}
    try:
        text = check_text(text)
    except InvalidInput as exc:
        errors.update(exc.fields)
    note = clean_text(note)
    if len(note) > NOTE_MAX:
        errors["note"] = N_("Please keep the note under 1000 characters.")
    if errors:
        raise InvalidInput(errors)
    with database.atomic():
        current = current_conduct(box)
        if current is not None and current["text"] == text:
            raise Conflict(N_("That is the code of conduct as it already is: nothing changed."))
        return append_version(box, text, note, actor.id)


def accepted_version(actor: Actor) -> int:
    """Return the latest code version the member accepted here (0: none)."""
    member = Member.get_or_none(Member.id == actor.id)
    return member.conduct_version if member is not None else 0


def needs_acceptance(box: Box, actor: Actor | None) -> bool:
    """Return True if a code exists and this member has not accepted its current version."""
    if actor is None:
        return False
    current = current_version(box)
    return current > 0 and accepted_version(actor) < current


def require_accepted(box: Box, actor: Actor) -> None:
    """Raise ConductNotAccepted unless the member accepted the current code (if any)."""
    if needs_acceptance(box, actor):
        raise ConductNotAccepted(
            N_("Please read and accept the centre's code of conduct before posting.")
        )


def accept_conduct(box: Box, actor: Actor | None, version) -> None:
    """Record that the member read and accepted `version`, which must be the current one."""
    require_member(actor)
    with database.atomic():
        current = current_version(box)
        if current == 0:
            raise Conflict(N_("This centre has no code of conduct to accept yet."))
        try:
            version = int(version)
        except (TypeError, ValueError):
            version = None
        if version != current:
            raise Conflict(CHANGED)
        if accepted_version(actor) >= current:
            raise Conflict(N_("You have already accepted this code of conduct. Thank you!"))
        box.log.append(
            "conduct.accepted",
            {"version": current},
            subject=actor.id,
            author=actor.id,
            scope="local",
        )
