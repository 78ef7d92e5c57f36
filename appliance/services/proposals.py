"""Community decisions: proposals to change a rule or the code of conduct, consent votes.

A member proposes a change with a reason (proposal.made); members vote agree, abstain
or object with a reason (vote.cast) until the deadline; then the box records the outcome
(proposal.decided, author null) and, if adopted, makes the change: rule.set for a rule,
a new conduct.published version for the code. A change is adopted when nobody objected
and at least `votes_to_adopt` members agreed (consent: one reasoned objection stops it).
Proposals, votes and outcomes are local records; an adopted code travels as usual.
"""

from __future__ import annotations

from appliance.box import Box
from appliance.db import database
from appliance.errors import N_, Conflict, InvalidInput, NotFound
from appliance.kinds import DETAILS_MAX, PROPOSAL_CHANGES, REASON_MAX, RULES, TITLE_MAX
from appliance.models import Member, Proposal, Vote
from appliance.services import conduct
from appliance.services.accounts import Actor, require_member
from appliance.services.rules import all_rules
from appliance.services.rules import rule as rule_value
from appliance.text import clean_text, one_line

DAY_MS = 86_400_000
# The values a vote may give each rule: wide enough for any centre, narrow enough that
# no vote can switch a safeguard off (one flag hiding everything, posts never checked).
RULE_BOUNDS = {
    "flags_to_hide": (2, 50),
    "stale_days": (3, 365),
    "stale_answer_days": (1, 60),
    "vote_days": (1, 60),
    "votes_to_adopt": (1, 100),
}
# What each rule means, in the words the pages use.
RULE_TEXT = {
    "flags_to_hide": N_("Flags from different members that hide a post until staff look at it"),
    "stale_days": N_("Days a post stays open before its poster is asked “still needed?”"),
    "stale_answer_days": N_("Days the poster has to answer before the post leaves the board"),
    "vote_days": N_("Days a proposal stays open for votes"),
    "votes_to_adopt": N_("“Agree” votes a change needs, with no objection, to be adopted"),
}
assert set(RULE_BOUNDS) == set(RULES) == set(RULE_TEXT)


def _check_rule(box: Box, rule, value) -> tuple[str, int]:
    if rule not in RULES:
        raise InvalidInput({"rule": N_("Please choose which rule to change.")})
    low, high = RULE_BOUNDS[rule]
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        number = None
    if number is None or not low <= number <= high:
        # The form shows each rule's range beside it (RULE_BOUNDS).
        raise InvalidInput(
            {"value": N_("Please give a whole number within the range shown for this rule.")}
        ) from None
    if number == rule_value(box, rule):
        raise InvalidInput({"value": N_("That is the rule already: propose a different number.")})
    return rule, number


def _open_on(box: Box, change: str, rule: str | None) -> Proposal | None:
    query = Proposal.select().where(
        (Proposal.origin == box.origin) & Proposal.outcome.is_null() & (Proposal.change == change)
    )
    if change == "rule":
        query = query.where(Proposal.rule == rule)
    return query.first()


def may_propose(box: Box, actor: Actor | None) -> Actor:
    """Return the actor if they may propose (signed in, accepted the current code)."""
    require_member(actor)
    conduct.require_accepted(box, actor)
    return actor


def propose(
    box: Box,
    actor: Actor | None,
    title: str,
    reason: str,
    change: str,
    *,
    rule: str | None = None,
    value=None,
    text: str | None = None,
) -> str:
    """Propose a change to a rule or to the code of conduct; return the proposal's id."""
    may_propose(box, actor)
    close_due(box)  # a proposal past its deadline no longer blocks a new one
    errors: dict[str, str] = {}
    title = one_line(title)
    if not title:
        errors["title"] = N_("Please give the proposal a short title.")
    elif len(title) > TITLE_MAX:
        errors["title"] = N_("Please keep the title under 120 characters.")
    reason = clean_text(reason)
    if not reason:
        errors["reason"] = N_("Please say why: it helps people decide.")
    elif len(reason) > DETAILS_MAX:
        errors["reason"] = N_("Please keep the reason under 4000 characters.")
    body: dict = {"title": title, "reason": reason, "change": change}
    if change not in PROPOSAL_CHANGES:
        errors["change"] = N_("Please choose what the proposal changes.")
    elif change == "rule":
        try:
            body["rule"], body["value"] = _check_rule(box, rule, value)
        except InvalidInput as exc:
            errors.update(exc.fields)
    else:
        try:
            body["text"] = conduct.check_text(text or "")
        except InvalidInput as exc:
            errors.update(exc.fields)
        else:
            current = conduct.current_conduct(box)
            if current is not None and current["text"] == body["text"]:
                errors["text"] = N_("That is the code as it already is: change something first.")
    if errors:
        raise InvalidInput(errors)
    with database.atomic():
        if _open_on(box, change, body.get("rule")) is not None:
            raise Conflict(
                N_("There is already an open proposal to change this rule: please vote on it.")
                if change == "rule"
                else N_("There is already an open proposal to change the code: please vote on it.")
            )
        body["closes"] = box.log.now_ms() + rule_value(box, "vote_days") * DAY_MS
        return box.log.append("proposal.made", body, author=actor.id, scope="local").id


def _proposal(box: Box, proposal_id: str) -> Proposal:
    found = Proposal.get_or_none((Proposal.id == proposal_id) & (Proposal.origin == box.origin))
    if found is None:
        raise NotFound(N_("There is no such proposal."))
    return found


def _is_open(box: Box, p: Proposal) -> bool:
    return p.outcome is None and box.log.now_ms() < p.closes_ms


def vote(box: Box, actor: Actor | None, proposal_id: str, choice: str, reason: str = "") -> None:
    """Cast a member's consent vote: agree, abstain, or object (with a reason)."""
    require_member(actor)
    with database.atomic():
        found = _proposal(box, proposal_id)
        if not _is_open(box, found):
            raise Conflict(N_("Voting on this proposal has closed."))
        if Vote.get_or_none((Vote.proposal == found.id) & (Vote.member == actor.id)):
            raise Conflict(N_("You have already voted on this proposal."))
        reason = clean_text(reason)
        if choice not in ("agree", "abstain", "object"):
            raise InvalidInput({"choice": N_("Please choose agree, abstain or object.")})
        if choice == "object" and not reason:
            raise InvalidInput({"reason": N_("Please say why you object, so others can see.")})
        if len(reason) > REASON_MAX:
            raise InvalidInput({"reason": N_("Please keep the reason under 500 characters.")})
        box.log.append(
            "vote.cast",
            {"choice": choice, "reason": reason},
            subject=found.id,
            author=actor.id,
            scope="local",
        )


def adopted(p: Proposal, needed: int) -> bool:
    """Return True if a proposal's tally adopts it: no objection, `needed` agreement."""
    return p.object == 0 and p.agree >= needed


def close_due(box: Box) -> int:
    """Record the outcome of every proposal past its deadline and apply adopted changes;
    return how many closed."""
    closed = 0
    with database.atomic():
        # Every proposal closing in one sweep is decided under the rules as they stood at
        # its deadline, not under one adopted a moment before in the same sweep.
        needed = rule_value(box, "votes_to_adopt")
        due = Proposal.select().where(
            (Proposal.origin == box.origin)
            & Proposal.outcome.is_null()
            & (Proposal.closes_ms <= box.log.now_ms())
        )
        for p in list(due.order_by(Proposal.closes_ms, Proposal.id)):
            outcome = "adopted" if adopted(p, needed) else "rejected"
            tally = {"agree": p.agree, "abstain": p.abstain, "object": p.object}
            box.log.append(
                "proposal.decided", {"outcome": outcome, **tally}, subject=p.id, scope="local"
            )
            closed += 1
            if outcome != "adopted":
                continue
            if p.change == "rule":
                box.log.append(
                    "rule.set",
                    {"name": p.rule, "value": p.value, "proposal": p.id},
                    subject=box.centre.id,
                    scope="local",
                )
            else:
                current = conduct.current_conduct(box)
                if current is None or current["text"] != p.text:  # staff may have done it
                    conduct.append_version(box, p.text, f"Adopted by vote: {p.title}", None)
    return closed


def _summary(p: Proposal) -> dict:
    return {
        "id": p.id,
        "title": p.title,
        "change": p.change,
        "rule": p.rule,
        "value": p.value,
        "created_ms": p.created_ms,
        "closes_ms": p.closes_ms,
        "outcome": p.outcome,
        "decided_ms": p.decided_ms,
        "tally": {"agree": p.agree, "abstain": p.abstain, "object": p.object},
    }


def list_proposals(box: Box) -> dict:
    """Return this centre's proposals: {"open": soonest deadline first, "decided": newest
    first}."""
    rows = Proposal.select().where(Proposal.origin == box.origin)
    return {
        "open": [
            _summary(p) for p in rows.where(Proposal.outcome.is_null()).order_by(Proposal.closes_ms)
        ],
        "decided": [
            _summary(p)
            for p in rows.where(Proposal.outcome.is_null(False)).order_by(
                Proposal.decided_ms.desc()
            )
        ],
    }


def proposal_view(box: Box, actor: Actor | None, proposal_id: str) -> dict:
    """Return a proposal for its public page: the change, the tally, the objections'
    reasons (never who voted what), and whether the actor may vote or how they voted."""
    p = _proposal(box, proposal_id)
    found = _summary(p)
    author = Member.get_or_none(Member.id == p.author) if p.author else None
    found.update(
        reason=p.reason,
        proposer=author.name if author is not None else None,
        is_open=_is_open(box, p),
        needed=rule_value(box, "votes_to_adopt"),
        objections=[
            v.reason
            for v in Vote.select(Vote.reason)
            .where((Vote.proposal == p.id) & (Vote.choice == "object"))
            .order_by(Vote.created_ms, Vote.id)
        ],
    )
    if p.change == "rule":
        found["rule_text"] = RULE_TEXT[p.rule]
        found["current_value"] = rule_value(box, p.rule)
    else:
        found["text"] = p.text
        found["html"] = conduct.render_markdown(p.text)
    mine = None
    if actor is not None:
        own = Vote.get_or_none((Vote.proposal == p.id) & (Vote.member == actor.id))
        mine = {"choice": own.choice, "reason": own.reason} if own is not None else None
    found["my_vote"] = mine
    found["may_vote"] = actor is not None and mine is None and found["is_open"]
    return found


def rule_choices(box: Box) -> list[dict]:
    """Return every community rule with its meaning, current value and allowed range."""
    return [
        {
            **r,
            "text": RULE_TEXT[r["name"]],
            "low": RULE_BOUNDS[r["name"]][0],
            "high": RULE_BOUNDS[r["name"]][1],
        }
        for r in all_rules(box)
    ]
