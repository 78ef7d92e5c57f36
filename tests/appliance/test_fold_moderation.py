"""The moderation fold, worked through (sync/PROTOCOL.md section 4, "Moderation").

A peer's hides count here as this centre chose for that peer: honour (the default),
review (only once staff accept each one) or ignore. Flags count once per member and
target until staff answer them; an author's first appeal counts; the "still needed?"
questions count only from the post's own box.
"""

from __future__ import annotations

from boxes import trust
from recordmaker import Origin

from appliance import projection
from appliance.models import Appeal, Comment, Flag, Member, ModerationEvent, Post, Proposal, Vote

POST = {
    "type": "should",
    "title": "Broken bench by the pond",
    "details": "",
    "category": "tools",
    "place": "Park",
    "needed_by": None,
}


def peer_post(box):
    """A post and its author from a trusted made-up peer; return (peer, author, post)."""
    peer = Origin("peer")
    trust(box, peer)
    author = peer.make("member.joined", {"name": "Ada"})
    post = peer.make("post.created", POST, author=author.id)
    assert box.log.ingest([author.line, post.line]).ok
    return peer, author, post


def policy(box, peer, mode):
    box.log.append(
        "moderation.policy.set",
        {"origin": peer.origin, "mode": mode},
        subject=box.centre.id,
        scope="local",
    )
    projection.refold_many([p.id for p in Post.select(Post.id)])


def test_a_peers_hide_counts_by_default_and_not_when_ignored(box):
    peer, _author, post = peer_post(box)
    hide = peer.make("post.hidden", {"reason": "Rude", "rule": "conduct"}, subject=post.id)
    assert box.log.ingest([hide.line]).ok
    assert Post.get_by_id(post.id).hidden
    event = ModerationEvent.get_by_id(hide.id)
    assert (event.action, event.rule, event.honoured, event.review) == (
        "hidden",
        "conduct",
        True,
        None,
    )

    policy(box, peer, "ignore")
    assert not Post.get_by_id(post.id).hidden
    assert not ModerationEvent.get_by_id(hide.id).honoured


def test_a_reviewed_peers_hide_waits_for_staff(box):
    peer, _author, post = peer_post(box)
    policy(box, peer, "review")
    hide = peer.make("post.hidden", {"reason": "Spam"}, subject=post.id)
    assert box.log.ingest([hide.line]).ok
    assert not Post.get_by_id(post.id).hidden
    assert ModerationEvent.get_by_id(hide.id).review == "pending"

    body = {"hide": hide.id, "decision": "accept"}
    box.log.append("hide.reviewed", body, subject=post.id, scope="local")
    assert Post.get_by_id(post.id).hidden
    assert ModerationEvent.get_by_id(hide.id).review == "accept"


def test_our_own_hides_always_count(box, staff, alice):
    peer, _author, post = peer_post(box)
    policy(box, peer, "ignore")
    box.log.append("post.hidden", {"reason": "Off topic"}, subject=post.id, author=staff.id)
    assert Post.get_by_id(post.id).hidden


def test_flags_count_once_per_member_until_staff_answer(box, alice, bob, staff):
    _peer, _author, post = peer_post(box)

    def flag(member):
        body = {"comment": None, "reason": "spam", "note": ""}
        return box.log.append("flag.raised", body, subject=post.id, author=member.id)

    flag(alice)
    flag(alice)  # again: adds nothing while the first counts
    flag(bob)
    counting = Flag.select().where(Flag.post == post.id, Flag.counts)
    assert sorted(f.member for f in counting) == sorted([alice.id, bob.id])
    assert Flag.select().where(Flag.post == post.id).count() == 2

    box.log.append(
        "flags.cleared", {"comment": None, "reason": ""}, subject=post.id, author=staff.id
    )
    assert not Flag.select().where(Flag.post == post.id, Flag.counts).exists()
    flag(alice)  # after staff answered, a new flag counts again
    assert Flag.select().where(Flag.post == post.id, Flag.counts).count() == 1


def test_a_restore_answers_the_flags_of_its_target_only(box, alice, staff):
    _peer, author, post = peer_post(box)
    comment = box.log.append("comment.added", {"text": "Rude words"}, subject=post.id)
    for target in (None, comment.id):
        body = {"comment": target, "reason": "offensive", "note": ""}
        box.log.append("flag.raised", body, subject=post.id, author=alice.id)
    hide = {"comment": comment.id, "reason": "Rude"}
    box.log.append("comment.hidden", hide, subject=post.id, author=staff.id)
    assert Comment.get_by_id(comment.id).hidden
    restore = {"comment": comment.id, "reason": "On reflection, fine"}
    box.log.append("comment.unhidden", restore, subject=post.id, author=staff.id)
    assert not Comment.get_by_id(comment.id).hidden
    flags = {f.comment: f.counts for f in Flag.select().where(Flag.post == post.id)}
    assert flags == {None: True, comment.id: False}
    actions = [e.action for e in ModerationEvent.select().order_by(ModerationEvent.at_ms)]
    assert actions == ["hidden", "restored"]


def test_only_the_first_appeal_counts_and_it_is_answered_once(box, staff):
    peer, author, post = peer_post(box)
    first = peer.make(
        "appeal.made", {"comment": None, "text": "Please"}, subject=post.id, author=author.id
    )
    second = peer.make(
        "appeal.made", {"comment": None, "text": "Again"}, subject=post.id, author=author.id
    )
    assert box.log.ingest([first.line, second.line]).ok
    assert [a.id for a in Appeal.select()] == [first.id]
    for outcome in ("upheld", "overturned"):
        body = {"appeal": first.id, "outcome": outcome, "reason": "Looked again"}
        box.log.append("appeal.decided", body, subject=post.id, author=staff.id)
    appeal = Appeal.get_by_id(first.id)
    assert appeal.outcome == "upheld"  # the first answer stands


def test_still_needed_questions_count_only_from_the_posts_own_box(box, alice):
    peer, author, post = peer_post(box)
    # Our box asking about a peer's post counts for nothing.
    box.log.append("post.stale_check", {}, subject=post.id)
    assert Post.get_by_id(post.id).asked_ms is None

    asked = peer.make("post.stale_check", {}, subject=post.id)
    assert box.log.ingest([asked.line]).ok
    assert Post.get_by_id(post.id).asked_ms == asked.fields["hlc"][0]
    staled = peer.make("post.staled", {}, subject=post.id)
    assert box.log.ingest([staled.line]).ok
    row = Post.get_by_id(post.id)
    assert row.stale and row.asked_ms is None

    box.log.append("post.revived", {}, subject=post.id, author=alice.id)
    row = Post.get_by_id(post.id)
    assert not row.stale and row.fresh_ms > asked.fields["hlc"][0]


def test_only_the_poster_answers_still_needed(box, alice):
    peer, author, post = peer_post(box)
    asked = peer.make("post.stale_check", {}, subject=post.id)
    assert box.log.ingest([asked.line]).ok
    box.log.append("post.still_needed", {}, subject=post.id, author=alice.id)
    assert Post.get_by_id(post.id).asked_ms is not None  # not the poster: no answer
    answer = peer.make("post.still_needed", {}, subject=post.id, author=author.id)
    assert box.log.ingest([answer.line]).ok
    assert Post.get_by_id(post.id).asked_ms is None


def test_each_members_first_vote_counts(box, alice, bob):
    body = {
        "title": "Two flags hide a post",
        "reason": "",
        "change": "rule",
        "rule": "flags_to_hide",
        "value": 2,
        "closes": box.log.now_ms() + 86_400_000,
    }
    proposal = box.log.append("proposal.made", body, author=alice.id, scope="local")
    for member, choice in ((alice, "agree"), (alice, "object"), (bob, "abstain")):
        vote = {"choice": choice, "reason": ""}
        box.log.append("vote.cast", vote, subject=proposal.id, author=member.id, scope="local")
    row = Proposal.get_by_id(proposal.id)
    assert (row.agree, row.abstain, row.object, row.outcome) == (1, 1, 0, None)
    assert {v.member: v.choice for v in Vote.select()} == {alice.id: "agree", bob.id: "abstain"}


def test_a_member_accepts_conduct_only_for_themself(box, alice, bob):
    box.log.append("conduct.accepted", {"version": 2}, subject=alice.id, author=bob.id)
    assert Member.get_by_id(alice.id).conduct_version == 0
    box.log.append("conduct.accepted", {"version": 2}, subject=alice.id, author=alice.id)
    box.log.append("conduct.accepted", {"version": 1}, subject=alice.id, author=alice.id)
    assert Member.get_by_id(alice.id).conduct_version == 2
