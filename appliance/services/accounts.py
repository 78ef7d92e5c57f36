"""Accounts: signing up, logging in, sessions, and who an actor is.

The member (name, verification, roles) is a signed record that syncs; the password hash,
login sessions and private contact details are local rows that never become records.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass

from peewee import IntegrityError

from appliance.box import Box
from appliance.db import database
from appliance.errors import N_, InvalidInput, NotAllowed, NotSignedIn
from appliance.kinds import NAME_MAX
from appliance.models import Account, LoginSession, Member, MemberPrivate, Role
from appliance.passwords import check_password, hash_password

PASSWORD_MIN = 8
PASSWORD_MAX = 200
CONTACT_MAX = 200
STAFF_ROLES = ("staff", "admin")
TAKEN = N_("Someone here already uses that name. Try adding an initial or a nickname.")


@dataclass(frozen=True)
class Actor:
    """A signed-in member as the services see them."""

    id: str
    name: str
    verified: bool
    roles: frozenset[str]
    # Acting through a personal API token: member work only, never staff work (the
    # token's roles leave staff and admin out, and require_staff says why).
    via_token: bool = False

    @property
    def is_staff(self) -> bool:
        return bool(self.roles & set(STAFF_ROLES))

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


def require_member(actor: Actor | None) -> Actor:
    """Return the actor, or raise NotSignedIn for a visitor."""
    if actor is None:
        raise NotSignedIn(N_("Please log in or sign up first."))
    return actor


def login_key(name: str) -> str:
    """Fold a display name for case- and space-insensitive login."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def current_roles(box: Box, member_id: str) -> frozenset[str]:
    """Return the roles this box's staff granted the member that have not expired."""
    now = box.log.now_ms()
    rows = Role.select(Role.role, Role.expires_ms).where(
        (Role.member == member_id) & (Role.origin == box.origin)
    )
    return frozenset(r.role for r in rows if r.expires_ms is None or r.expires_ms > now)


def actor_for(box: Box, member_id: str) -> Actor | None:
    """Return the Actor for a member id, or None if unknown."""
    member = Member.get_or_none(Member.id == member_id)
    if member is None or member.erased:  # an erased account acts no more, by any way in
        return None
    return Actor(member.id, member.name, member.verified, current_roles(box, member.id))


def check_new_account(name: str, password: str, contact: str = "") -> tuple[str, str, str]:
    """Return cleaned (name, password, contact) or raise InvalidInput; needs no database."""
    errors: dict[str, str] = {}
    name = " ".join((name or "").split())
    if not name:
        errors["name"] = N_("Please enter the name people will see.")
    elif len(name) > NAME_MAX:
        errors["name"] = N_("Please keep your name under 60 characters.")
    password = password or ""
    if len(password) < PASSWORD_MIN:
        errors["password"] = N_("Please use at least 8 characters.")
    elif len(password) > PASSWORD_MAX:
        errors["password"] = N_("That password is too long (200 characters at most).")
    contact = (contact or "").strip()
    if len(contact) > CONTACT_MAX:
        errors["contact"] = N_("Please keep contact details under 200 characters.")
    if errors:
        raise InvalidInput(errors)
    return name, password, contact


def sign_up(box: Box, name: str, password: str, contact: str = "") -> str:
    """Create a member (a signed record) with a local password; return the member id."""
    try:
        name, password, contact = check_new_account(name, password, contact)
    except InvalidInput as exc:
        if "name" not in exc.fields and Account.get_or_none(Account.login == login_key(name)):
            exc.fields["name"] = TAKEN
        raise
    if Account.get_or_none(Account.login == login_key(name)):
        raise InvalidInput({"name": TAKEN})
    password_hash = hash_password(password)  # slow: outside the write transaction
    try:
        with database.atomic():
            rec = box.log.append("member.joined", {"name": name})
            Account.create(member=rec.id, login=login_key(name), password_hash=password_hash)
            if contact:
                MemberPrivate.create(member=rec.id, contact=contact)
    except IntegrityError:
        # Someone took the name between the check and the write; nothing was kept.
        raise InvalidInput({"name": TAKEN}) from None
    return rec.id


def log_in(box: Box, name: str, password: str) -> str:
    """Return the member id for a name and password, or raise InvalidInput."""
    account = Account.get_or_none(Account.login == login_key(name or ""))
    if account is None or not check_password(password or "", account.password_hash):
        raise InvalidInput({"password": N_("That name and password do not match.")})
    return account.member


def start_session(box: Box, member_id: str) -> str:
    """Create a login session; return the token for the cookie (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    now = box.log.now_ms()
    LoginSession.create(
        token_hash=hashlib.sha256(token.encode()).hexdigest(),
        member=member_id,
        created_ms=now,
        expires_ms=now + box.settings["session_days"] * 86_400_000,
    )
    return token


def actor_for_session(box: Box, token: str | None) -> Actor | None:
    """Return the Actor of a live session token, or None."""
    if not token:
        return None
    session = LoginSession.get_or_none(
        LoginSession.token_hash == hashlib.sha256(token.encode()).hexdigest()
    )
    if session is None or session.expires_ms <= box.log.now_ms():
        return None
    return actor_for(box, session.member)


def end_session(token: str | None) -> None:
    """Forget a login session."""
    if token:
        LoginSession.delete().where(
            LoginSession.token_hash == hashlib.sha256(token.encode()).hexdigest()
        ).execute()


def private_contact(actor: Actor | None, member_id: str) -> str | None:
    """Return a member's private contact details, for staff or the member themselves."""
    require_member(actor)
    if not (actor.is_staff or actor.id == member_id):
        raise NotAllowed(N_("Only staff can see contact details."))
    row = MemberPrivate.get_or_none(MemberPrivate.member == member_id)
    return row.contact if row else None
