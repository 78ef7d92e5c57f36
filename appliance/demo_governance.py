"""The demo's rules and moderation: a code of conduct everyone accepted, a decision the
community took by vote and one still open, a post staff hid, and a post two members
have flagged, so a newcomer's flag is the one that hides it pending review.
"""

from __future__ import annotations

from appliance.box import Box
from appliance.services import board, conduct, moderation, proposals
from appliance.services.accounts import Actor
from appliance.services.setup import DEFAULT_CONDUCT

# The change the community adopted: one line on what happens to quiet posts.
QUIET_POSTS = (
    '\nPosts that go quiet for a month are asked "still needed?"; an unanswered one\n'
    "leaves the main board, and anyone can bring it back.\n"
)

# A post two members flagged: the third flag (a newcomer's) hides it pending review.
FLAGGED = {
    "type": "offer",
    "category": "other",
    "place": "Car park",
    "title": "Designer handbags half price, message me",
    "details": "Cash only, collect from my van this weekend.",
    "needed_by": None,
}
SPAM = {
    "type": "offer",
    "category": "other",
    "place": "Main hall",
    "title": "Earn £500 a week from home",
    "details": "Send a £20 starter fee to get going.",
    "needed_by": None,
}


def accept(box: Box, actors) -> None:
    """Have each demo member accept the current code of conduct, if they have not."""
    code = conduct.current_conduct(box)
    for actor in actors:
        if code and conduct.needs_acceptance(box, actor):
            conduct.accept_conduct(box, actor, code["version"])


def conduct_for_everyone(box: Box, staff: Actor, people: dict[str, Actor]) -> None:
    """Publish the code of conduct and have every demo member accept it."""
    conduct.publish_conduct(box, staff, DEFAULT_CONDUCT, "Agreed at the opening meeting.")
    accept(box, (staff, *people.values()))


def propose_quiet_posts(box: Box, people: dict[str, Actor]) -> None:
    """A change to the code of conduct, proposed and agreed early on (adopted later)."""
    text = conduct.current_conduct(box)["text"] + QUIET_POSTS
    proposal = proposals.propose(
        box,
        people["Maria Costa"],
        "Say what happens to posts that go quiet",
        "Old posts clutter the board; let's say plainly that we ask and then tidy up.",
        "conduct",
        text=text,
    )
    for name in ("Priya Shah", "Joe Brennan", "Tom Okafor", "Grace Liu"):
        proposals.vote(box, people[name], proposal, "agree")
    proposals.vote(box, people["Dev Mistry"], proposal, "abstain")


def adopt_and_accept(box: Box, staff: Actor, people: dict[str, Actor]) -> None:
    """Close the votes that are due (the clock has moved on weeks) and accept the new code."""
    proposals.close_due(box)
    accept(box, (staff, *people.values()))


def open_proposal(box: Box, people: dict[str, Actor]) -> str:
    """A rule change still open for votes, with one objection so far."""
    proposal = proposals.propose(
        box,
        people["Priya Shah"],
        'Ask "still needed?" after three weeks, not four',
        "Food needs change fast: a month is too long for a post to stand unchecked.",
        "rule",
        rule="stale_days",
        value=21,
    )
    proposals.vote(box, people["Joe Brennan"], proposal, "agree")
    proposals.vote(
        box,
        people["Tom Okafor"],
        proposal,
        "object",
        "Some of my lift requests are booked a month ahead; three weeks would nag me.",
    )
    return proposal


def moderation_history(box: Box, staff: Actor, people: dict[str, Actor]) -> dict[str, str]:
    """A spam post staff hid, and a post flagged by two members (one short of hiding)."""
    seller = people["Rob Quick"]
    spam = board.create_post(box, seller, SPAM)
    moderation.flag(box, people["Grace Liu"], spam, None, "spam")
    moderation.set_post_hidden(
        box, staff, spam, True, "Asks for money up front, against our code of conduct.", "spam"
    )
    flagged = board.create_post(box, seller, FLAGGED)
    moderation.flag(box, people["Joe Brennan"], flagged, None, "off_topic", "")
    moderation.flag(box, people["Dev Mistry"], flagged, None, "spam", "")
    return {"spam": spam, "flagged": flagged}
