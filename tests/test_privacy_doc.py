"""PRIVACY.md and the code say the same: every personal column is documented, every
column the document names exists, and the retention periods it states are the code's."""

from __future__ import annotations

import re
from pathlib import Path

from appliance import models
from appliance.kinds import KINDS
from appliance.services import retention

ROOT = Path(__file__).resolve().parent.parent
PRIVACY = (ROOT / "PRIVACY.md").read_text(encoding="utf-8")

# table.column -> what personal data it holds. Each must be named in PRIVACY.md.
PERSONAL = {
    "member.name": "a member's name",
    "member.joined_ms": "when they joined",
    "member.verified": "verified in person",
    "member.verified_by": "which staff member verified them",
    "member.conduct_version": "the code of conduct they accepted",
    "role.member": "who holds a role",
    "role.role": "which role",
    "role.granted_by": "who granted it",
    "account.member": "whose account",
    "account.login": "the login name",
    "account.password_hash": "the password hash",
    "login_session.token_hash": "a login",
    "login_session.member": "whose login",
    "login_session.created_ms": "when they logged in",
    "login_session.expires_ms": "until when",
    "moderation_event.author": "which staff member hid it",
    "api_token.member": "whose API token",
    "api_token.name": "what the member called it",
    "api_token.token_hash": "an API token",
    "api_token.created_ms": "when it was made",
    "api_token.expires_ms": "until when",
    "api_token.last_used_ms": "when it was last used",
    "api_token.revoked_ms": "when it was revoked",
    "member_private.member": "whose contact details",
    "member_private.contact": "contact details",
    "assisted_visitor.name": "a walk-in visitor's name",
    "assisted_visitor.contact": "a walk-in visitor's contact",
    "post.author": "who posted",
    "post.title": "what they posted",
    "post.details": "what they posted",
    "post.place": "where",
    "post.resolved_note": "the resolve note",
    "post.resolved_by": "who resolved it",
    "comment.author": "who commented",
    "comment.text": "what they wrote",
    "helper.member": "who offered help",
    "thanks.giver": "who thanked",
    "thanks.helper": "who was thanked",
    "thanks.message": "the thanks",
    "pledge.member": "who pledged",
    "pledge.qty": "how much",
    "shift.created_by": "who planned a shift",
    "shift_volunteer.member": "who signed up",
    "org_role.member": "who is in an organisation",
    "org_role.granted_by": "who put them there",
    "ride.rider": "who rides",
    "ride.author": "who asked for the ride",
    "ride.from_area": "where from",
    "ride.to_area": "where to",
    "ride.start": "when",
    "ride.needs": "access needs",
    "ride.regular_driver": "their regular driver",
    "ride.sealed": "the sealed addresses",
    "ride.series_driver": "who drives the series",
    "ride.series_lost": "drivers whose take came second",
    "journey.driver": "who drives",
    "journey.lost": "drivers whose take came second",
    "journey.miles": "how far",
    "driver.member": "who drives",
    "driver.checks": "their checks",
    "driver.vouched_by": "who vouched",
    "flag.member": "who flagged",
    "flag.note": "why",
    "appeal.member": "who appealed",
    "appeal.text": "the appeal",
    "vote.member": "who voted",
    "vote.choice": "how",
    "vote.reason": "an objection's reason",
    "proposal.author": "who proposed",
    "vouch_review.member": "whose verification",
    "vouch_review.reviewer": "who reviewed it",
    "erasure.member": "whose account was erased",
    "stored_record.raw": "every record as signed",
    "quarantine.evidence": "a refused record's bytes",
}
# Columns whose names look personal but hold no one's personal data, and why.
NOT_PERSONAL = {
    "centre.name": "a community centre's name",
    "place.name": "a place in the centre's list",
    "trusted_origin.name": "a paired centre's name",
    "org.name": "an organisation's name",
    "catalogue_item.name": "an item of the food catalogue",
    "provider.name": "a paid transport service",
    "centre_rule.name": "a community rule",
    "peer.name": "a paired box's name",
}
# Column names that point at a person or hold what identifies one.
PERSONAL_NAMES = {
    "name",
    "contact",
    "login",
    "password_hash",
    "token_hash",
    "member",
    "author",
    "rider",
    "giver",
    "helper",
    "driver",
    "reviewer",
    "verified_by",
    "granted_by",
    "created_by",
    "resolved_by",
    "vouched_by",
    "regular_driver",
    "series_driver",
    "series_lost",
    "lost",
}
DOTTED = re.compile(r"`([a-z_]+(?:\.[a-z_]+)+)`")


def tables() -> dict[str, set[str]]:
    """Return every table of the box with its columns."""
    found = {}
    for model in {
        *models.ALL_MODELS,
        *models.SYNC,
        *models.ASSISTED,
        *models.BaseModel.__subclasses__(),
    }:
        found[model._meta.table_name] = set(model._meta.columns)
    return found


def test_every_personal_column_is_in_privacy_md():
    missing = [name for name in PERSONAL if f"`{name}`" not in PRIVACY]
    assert not missing, f"document these in PRIVACY.md: {missing}"


def test_the_personal_map_names_real_columns():
    have = tables()
    for name in {*PERSONAL, *NOT_PERSONAL}:
        table, column = name.split(".")
        assert column in have.get(table, ()), f"{name} is not a column of the models"


def test_every_column_with_a_personal_name_is_classified():
    have = tables()
    unclassified = sorted(
        f"{table}.{column}"
        for table, columns in have.items()
        for column in columns & PERSONAL_NAMES
        if f"{table}.{column}" not in PERSONAL and f"{table}.{column}" not in NOT_PERSONAL
    )
    assert not unclassified, f"add to PERSONAL (and PRIVACY.md) or NOT_PERSONAL: {unclassified}"


def test_every_column_and_kind_privacy_md_names_exists():
    have = tables()
    named = set(DOTTED.findall(PRIVACY))
    assert len(named) > 60  # the document does name columns and kinds
    unknown = []
    for name in sorted(named):
        if name in KINDS:
            continue
        table, _, column = name.partition(".")
        if column not in have.get(table, ()):
            unknown.append(name)
    assert not unknown, f"PRIVACY.md names columns or kinds that do not exist: {unknown}"


def test_the_retention_periods_privacy_md_states_are_the_codes():
    for name, days in retention.PERIODS.items():
        assert f"{days} days" in PRIVACY, f"PRIVACY.md does not state {name} ({days} days)"


def test_privacy_md_says_how_to_export_and_erase():
    for heading in ("## Seeing your data", "## Erasing your account", "## How long: the sweep"):
        assert heading in PRIVACY
    for url in ("/account/data", "/account/data.json", "/account/erase", "kith sweep"):
        assert f"`{url}`" in PRIVACY
