"""Community decisions: proposing a change, consent votes, closing at the deadline and
applying what was adopted."""

from __future__ import annotations

import json

import pytest
from boxes import member, record_count
from recordmaker import DAY_MS

from appliance.errors import Conflict, InvalidInput, NotFound, NotSignedIn
from appliance.kinds import RULES
from appliance.models import StoredRecord
from appliance.services import conduct, proposals
from appliance.services.conduct import ConductNotAccepted
from appliance.services.rules import rule

CODE = "# Our rules\n\nBe kind.\n"
NEW_CODE = "# Our rules\n\nBe kind.\n\nNo selling."


def propose_rule(box, actor, name="flags_to_hide", value=5, **kw):
    title = kw.pop("title", f"Set {name}")
    return proposals.propose(box, actor, title, "Because", "rule", rule=name, value=value)


def records_of(kind: str) -> list[dict]:
    rows = StoredRecord.select().where(StoredRecord.kind == kind).order_by(StoredRecord.seq)
    return [json.loads(bytes(r.raw)) for r in rows]


@pytest.fixture
def voters(box):
    return [member(box, name) for name in ("Carol", "Dan", "Erin")]


# --- proposing -----------------------------------------------------------------------


def test_a_member_proposes_a_rule_change(box, alice, clock):
    before = record_count()
    proposal_id = propose_rule(box, alice, value="5")
    assert record_count() == before + 1
    [record] = records_of("proposal.made")
    assert record["scope"] == "local"
    assert record["author"] == alice.id
    assert record["body"] == {
        "title": "Set flags_to_hide",
        "reason": "Because",
        "change": "rule",
        "rule": "flags_to_hide",
        "value": 5,
        "closes": clock() + RULES["vote_days"] * DAY_MS,
    }
    listing = proposals.list_proposals(box)
    assert [p["id"] for p in listing["open"]] == [proposal_id]
    assert listing["decided"] == []


def test_a_member_proposes_a_new_code(box, alice, staff):
    conduct.publish_conduct(box, staff, CODE)
    conduct.accept_conduct(box, alice, 1)
    text = NEW_CODE + "\r\n"
    proposal_id = proposals.propose(box, alice, "No selling", "Adverts", "conduct", text=text)
    view = proposals.proposal_view(box, alice, proposal_id)
    assert view["text"] == NEW_CODE
    assert "<p>No selling.</p>" in view["html"]


def test_proposing_needs_a_member_who_accepted_the_code(box, alice, staff):
    with pytest.raises(NotSignedIn):
        propose_rule(box, None)
    conduct.publish_conduct(box, staff, CODE)
    before = record_count()
    with pytest.raises(ConductNotAccepted):
        propose_rule(box, alice)
    assert record_count() == before
    conduct.accept_conduct(box, alice, 1)
    assert propose_rule(box, alice)


BAD_PROPOSALS = [
    ({"title": " "}, "title", "short title"),
    ({"title": "t" * 121}, "title", "under 120"),
    ({"reason": "\n"}, "reason", "say why"),
    ({"reason": "r" * 4001}, "reason", "under 4000"),
    ({"change": "everything"}, "change", "what the proposal changes"),
    ({"rule": "make_me_admin"}, "rule", "which rule"),
    ({"rule": None}, "rule", "which rule"),
    ({"value": ""}, "value", "whole number"),
    ({"value": "five"}, "value", "whole number"),
    ({"value": "2.5"}, "value", "whole number"),
    ({"value": None}, "value", "whole number"),
    ({"value": 3}, "value", "the rule already"),  # flags_to_hide is 3 already
    ({"change": "conduct", "text": ""}, "text", "write the code"),
    ({"change": "conduct", "text": "r" * 20_001}, "text", "20,000"),
]
# Each rule's bounds, just outside and just inside.
BOUNDS = [(name, low, high) for name, (low, high) in proposals.RULE_BOUNDS.items()]


@pytest.mark.parametrize(("change", "field", "words"), BAD_PROPOSALS)
def test_bad_proposals_are_refused_and_change_nothing(box, alice, change, field, words):
    data = {"title": "Title", "reason": "Reason", "change": "rule", "rule": "flags_to_hide"}
    data = {**data, "value": "5", "text": None, **change}
    title, reason, kind = data.pop("title"), data.pop("reason"), data.pop("change")
    before = record_count()
    with pytest.raises(InvalidInput) as caught:
        proposals.propose(box, alice, title, reason, kind, **data)
    assert words in caught.value.fields[field]
    assert record_count() == before


@pytest.mark.parametrize(("name", "low", "high"), BOUNDS)
def test_each_rule_has_sensible_bounds(box, alice, name, low, high):
    before = record_count()
    for value in (low - 1, high + 1, -1):
        with pytest.raises(InvalidInput):
            propose_rule(box, alice, name, value)
    assert record_count() == before
    for value in (low, high):
        if value != RULES[name]:
            propose_rule(box, alice, name, value)
            break


def test_a_code_the_same_as_the_current_one_is_refused(box, alice, staff):
    conduct.publish_conduct(box, staff, CODE)
    conduct.accept_conduct(box, alice, 1)
    before = record_count()
    with pytest.raises(InvalidInput) as caught:
        proposals.propose(box, alice, "Same", "Why not", "conduct", text="  " + CODE)
    assert "already" in caught.value.fields["text"]
    assert record_count() == before


def test_one_open_proposal_per_rule_and_for_the_code(box, alice, bob):
    propose_rule(box, alice, "flags_to_hide", 5)
    proposals.propose(box, alice, "Code", "Why", "conduct", text=NEW_CODE)
    before = record_count()
    with pytest.raises(Conflict, match="open proposal to change this rule"):
        propose_rule(box, bob, "flags_to_hide", 6)
    with pytest.raises(Conflict, match="open proposal to change the code"):
        proposals.propose(box, bob, "Code 2", "Why", "conduct", text=NEW_CODE + "!")
    assert record_count() == before
    assert propose_rule(box, bob, "stale_days", 60)  # another rule is fine


def test_a_proposal_past_its_deadline_no_longer_blocks_a_new_one(box, alice, clock):
    first = propose_rule(box, alice, "flags_to_hide", 5)
    clock.advance(RULES["vote_days"] * DAY_MS)
    second = propose_rule(box, alice, "flags_to_hide", 6)
    assert proposals.proposal_view(box, alice, first)["outcome"] == "rejected"
    assert [p["id"] for p in proposals.list_proposals(box)["open"]] == [second]


# --- voting --------------------------------------------------------------------------


def test_members_vote_and_see_their_own_vote(box, alice, bob, voters):
    proposal_id = propose_rule(box, alice)
    before = record_count()
    proposals.vote(box, bob, proposal_id, "agree")
    proposals.vote(box, voters[0], proposal_id, "abstain", "Not sure")
    proposals.vote(box, voters[1], proposal_id, "object", "Too strict for us")
    assert record_count() == before + 3
    assert {r["scope"] for r in records_of("vote.cast")} == {"local"}

    view = proposals.proposal_view(box, bob, proposal_id)
    assert view["tally"] == {"agree": 1, "abstain": 1, "object": 1}
    assert view["objections"] == ["Too strict for us"]
    assert view["my_vote"] == {"choice": "agree", "reason": ""}
    assert not view["may_vote"]
    # The public view holds reasons, never who voted what.
    shown = json.dumps(proposals.proposal_view(box, None, proposal_id), default=str)
    for voter in (bob, *voters):
        assert voter.name not in shown and voter.id not in shown
    assert proposals.proposal_view(box, alice, proposal_id)["may_vote"]
    assert not proposals.proposal_view(box, None, proposal_id)["may_vote"]


@pytest.mark.parametrize(
    ("choice", "reason", "field"),
    [
        ("object", "", "reason"),
        ("object", "  \n ", "reason"),
        ("agree", "r" * 501, "reason"),
        ("veto", "", "choice"),
        ("", "", "choice"),
    ],
)
def test_bad_votes_are_refused(box, alice, bob, choice, reason, field):
    proposal_id = propose_rule(box, alice)
    before = record_count()
    with pytest.raises(InvalidInput) as caught:
        proposals.vote(box, bob, proposal_id, choice, reason)
    assert field in caught.value.fields
    assert record_count() == before
    assert proposals.proposal_view(box, bob, proposal_id)["may_vote"]


def test_voting_twice_is_refused(box, alice, bob):
    proposal_id = propose_rule(box, alice)
    proposals.vote(box, bob, proposal_id, "agree")
    before = record_count()
    for choice in ("agree", "object"):
        with pytest.raises(Conflict, match="already voted"):
            proposals.vote(box, bob, proposal_id, choice, "Changed my mind")
    assert record_count() == before
    assert proposals.proposal_view(box, bob, proposal_id)["tally"]["object"] == 0


def test_voting_after_the_deadline_is_refused(box, alice, bob, clock):
    proposal_id = propose_rule(box, alice)
    clock.advance(RULES["vote_days"] * DAY_MS - 1)
    proposals.vote(box, alice, proposal_id, "agree")  # the last moment
    clock.advance(1)
    before = record_count()
    with pytest.raises(Conflict, match="Voting on this proposal has closed"):
        proposals.vote(box, bob, proposal_id, "agree")
    assert record_count() == before
    assert not proposals.proposal_view(box, bob, proposal_id)["may_vote"]


def test_unknown_proposals_and_visitors(box, alice):
    proposal_id = propose_rule(box, alice)
    before = record_count()
    with pytest.raises(NotFound):
        proposals.vote(box, alice, "0" * 64, "agree")
    with pytest.raises(NotFound):
        proposals.proposal_view(box, alice, "not-an-id")
    with pytest.raises(NotSignedIn):
        proposals.vote(box, None, proposal_id, "agree")
    assert record_count() == before


# --- closing -------------------------------------------------------------------------


def test_an_agreed_rule_change_is_adopted_at_the_deadline(box, alice, voters, clock):
    proposal_id = propose_rule(box, alice, "flags_to_hide", 5)
    for voter in voters:
        proposals.vote(box, voter, proposal_id, "agree")
    proposals.vote(box, alice, proposal_id, "abstain")
    clock.advance(RULES["vote_days"] * DAY_MS - 1)
    assert proposals.close_due(box) == 0
    assert rule(box, "flags_to_hide") == 3

    clock.advance(1)
    before = record_count()
    assert proposals.close_due(box) == 1
    assert record_count() == before + 2
    assert rule(box, "flags_to_hide") == 5
    [decided] = records_of("proposal.decided")
    assert decided["author"] is None and decided["scope"] == "local"
    assert decided["body"] == {"outcome": "adopted", "agree": 3, "abstain": 1, "object": 0}
    [rule_set] = records_of("rule.set")
    assert rule_set["author"] is None and rule_set["scope"] == "local"
    assert rule_set["body"] == {"name": "flags_to_hide", "value": 5, "proposal": proposal_id}
    listing = proposals.list_proposals(box)
    assert listing["open"] == []
    assert listing["decided"][0]["outcome"] == "adopted"
    assert proposals.rule_choices(box)[0]["proposal"] == proposal_id

    # Idempotent: closing again writes nothing.
    assert proposals.close_due(box) == 0
    assert record_count() == before + 2


def test_one_objection_stops_a_change(box, alice, voters, clock):
    proposal_id = propose_rule(box, alice, "stale_days", 60)
    for voter in voters:
        proposals.vote(box, voter, proposal_id, "agree")
    proposals.vote(box, alice, proposal_id, "object", "Posts go stale too slowly then")
    clock.advance(RULES["vote_days"] * DAY_MS)
    assert proposals.close_due(box) == 1
    assert rule(box, "stale_days") == RULES["stale_days"]
    assert records_of("rule.set") == []
    view = proposals.proposal_view(box, alice, proposal_id)
    assert view["outcome"] == "rejected"
    assert view["objections"] == ["Posts go stale too slowly then"]


def test_too_few_agree_votes_reject_a_change(box, alice, voters, clock):
    proposal_id = propose_rule(box, alice, "vote_days", 14)
    for voter in voters[:2]:
        proposals.vote(box, voter, proposal_id, "agree")
    clock.advance(RULES["vote_days"] * DAY_MS)
    proposals.close_due(box)
    assert proposals.proposal_view(box, None, proposal_id)["outcome"] == "rejected"
    assert rule(box, "vote_days") == RULES["vote_days"]


def test_adopted_rules_shape_the_next_votes(box, alice, bob, voters, clock):
    first = propose_rule(box, alice, "votes_to_adopt", 1)
    second = propose_rule(box, alice, "vote_days", 14)
    for voter in voters:
        proposals.vote(box, voter, first, "agree")
    # One vote: too few under the rule at the deadline, though the same sweep adopts
    # votes_to_adopt = 1 (whichever of the two it happens to close first).
    proposals.vote(box, bob, second, "agree")
    clock.advance(RULES["vote_days"] * DAY_MS)
    proposals.close_due(box)
    assert rule(box, "votes_to_adopt") == 1
    assert proposals.proposal_view(box, None, second)["outcome"] == "rejected"

    third = propose_rule(box, alice, "vote_days", 14)
    assert proposals.proposal_view(box, None, third)["closes_ms"] == clock() + 7 * DAY_MS
    proposals.vote(box, bob, third, "agree")
    clock.advance(7 * DAY_MS)
    proposals.close_due(box)
    assert rule(box, "vote_days") == 14
    fourth = propose_rule(box, alice, "flags_to_hide", 10)
    assert proposals.proposal_view(box, None, fourth)["closes_ms"] == clock() + 14 * DAY_MS


def test_an_adopted_code_becomes_the_next_version(box, alice, staff, voters, clock):
    conduct.publish_conduct(box, staff, CODE)
    conduct.accept_conduct(box, alice, 1)
    proposal_id = proposals.propose(box, alice, "No selling", "Adverts", "conduct", text=NEW_CODE)
    for voter in voters:
        proposals.vote(box, voter, proposal_id, "agree")
    clock.advance(RULES["vote_days"] * DAY_MS)
    assert proposals.close_due(box) == 1
    current = conduct.current_conduct(box)
    assert current["version"] == 2
    assert current["text"] == NEW_CODE
    assert current["note"] == "Adopted by vote: No selling"
    published = records_of("conduct.published")[-1]
    assert published["author"] is None and published["scope"] == "federation"
    assert conduct.needs_acceptance(box, alice)  # everyone is asked again


def test_a_code_staff_already_published_is_not_published_twice(box, alice, staff, voters, clock):
    proposal_id = proposals.propose(box, alice, "Code", "Why", "conduct", text=NEW_CODE)
    for voter in voters:
        proposals.vote(box, voter, proposal_id, "agree")
    conduct.publish_conduct(box, staff, NEW_CODE)
    clock.advance(RULES["vote_days"] * DAY_MS)
    proposals.close_due(box)
    assert proposals.proposal_view(box, None, proposal_id)["outcome"] == "adopted"
    assert conduct.current_version(box) == 1
