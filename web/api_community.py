"""The community JSON API, /api/v1/: moderation, the code of conduct, proposals and
votes, and how fresh this box's picture of the other centres is.

Thin over the services the pages call (appliance/services/moderation.py,
moderation_log.py, conduct.py, proposals.py, peers.py, health.py), so the same rules
and permission checks hold. Labels the services give as English source strings are
translated here, as the pages translate them. Documented in web/openapi/community.yaml.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_babel import gettext

from appliance.errors import N_, InvalidInput, NotAllowed, NotSignedIn
from appliance.services import conduct, health, moderation, moderation_log, peers, proposals
from appliance.services.members import require_staff
from web.api_travel import json_body
from web.context import actor, box

bp = Blueprint("api_community", __name__, url_prefix="/api/v1")

LOG_PAGE = 50  # entries of the public moderation log in one answer, as on its page


# --- moderation: the public log, staff's queue and decisions, authors' appeals ---------


def _log_entry(row: dict) -> dict:
    entry = {
        "type": row["type"],
        "at_ms": row["at_ms"],
        "what": gettext(row["what"], **row["what_params"]),
    }
    if row["type"] == "decision":
        entry.update(
            action=row["action"],
            rule=gettext(row["rule"]) if row["rule"] else None,
            by=gettext(row["by"], **row["by_params"]),
            reason=row["reason"],
        )
    else:
        entry["outcome"] = row["outcome"]
    return entry


@bp.get("/moderation/log")
def moderation_public_log():
    before = request.args.get("before")
    before_ms = None
    if before is not None:
        if not (before.isdigit() and len(before) < 16):
            raise InvalidInput(
                {"before": N_("Please give a time in milliseconds, as the log's older gives it.")}
            )
        before_ms = int(before)
    rows = moderation_log.public_log(box(), limit=LOG_PAGE, before_ms=before_ms)
    older = rows[-1]["at_ms"] if len(rows) == LOG_PAGE else None
    return jsonify({"entries": [_log_entry(r) for r in rows], "older": older})


def _labels(reasons: list[dict]) -> list[dict]:
    return [{**r, "label": gettext(r["label"])} for r in reasons]


def _translated(item: dict) -> dict:
    """Return a queue or author item with its rule and flag reasons in the reader's words."""
    item = dict(item)
    if "rule" in item:
        item["rule"] = gettext(item["rule"]) if item["rule"] else None
    if "reasons" in item:
        item["reasons"] = _labels(item["reasons"])
    if item.get("flags"):
        item["flags"] = {**item["flags"], "reasons": _labels(item["flags"]["reasons"])}
    return item


@bp.get("/moderation/queue")
def moderation_queue():
    queue = moderation.review_queue(box(), actor())
    return jsonify({name: [_translated(i) for i in items] for name, items in queue.items()})


def _target(post_id: str, comment_id: str | None):
    return jsonify(
        {
            "post": post_id,
            "comment": comment_id,
            "hidden": moderation_log.is_hidden(post_id, comment_id),
        }
    )


@bp.post("/moderation/posts/<post_id>/hide")
def hide(post_id):
    data = json_body()
    comment = data.get("comment") or None
    moderation.set_hidden(
        box(), actor(), post_id, comment, True, data.get("reason", ""), data.get("rule") or None
    )
    return _target(post_id, comment)


@bp.post("/moderation/posts/<post_id>/restore")
def restore(post_id):
    data = json_body()
    comment = data.get("comment") or None
    moderation.set_hidden(box(), actor(), post_id, comment, False, data.get("reason", ""))
    return _target(post_id, comment)


@bp.post("/moderation/posts/<post_id>/clear")
def clear(post_id):
    data = json_body()
    comment = data.get("comment") or None
    moderation.clear_flags(box(), actor(), post_id, comment, data.get("reason", ""))
    return _target(post_id, comment)


@bp.post("/moderation/appeals/<appeal_id>")
def decide_appeal(appeal_id):
    data = json_body()
    outcome = data.get("outcome", "")
    moderation.decide_appeal(box(), actor(), appeal_id, outcome, data.get("reason", ""))
    return jsonify({"appeal": appeal_id, "outcome": outcome})


@bp.post("/moderation/peer-hides/<hide_id>")
def review_peer_hide(hide_id):
    data = json_body()
    decision = data.get("decision", "")
    moderation.review_peer_hide(box(), actor(), hide_id, decision)
    return jsonify({"hide": hide_id, "decision": decision})


def _author_view(post_id: str):
    view = moderation.author_view(box(), actor(), post_id)
    return {**view, "items": [_translated(item) for item in view["items"]]}


@bp.get("/posts/<post_id>/appeal")
def my_moderation(post_id):
    return jsonify(_author_view(post_id))


@bp.post("/posts/<post_id>/appeal")
def appeal(post_id):
    data = json_body()
    comment = data.get("comment") or None
    appeal_id = moderation.appeal(box(), actor(), post_id, comment, data.get("text", ""))
    return jsonify({"id": appeal_id, **_author_view(post_id)}), 201


# --- the code of conduct ---------------------------------------------------------------


@bp.get("/conduct")
def conduct_now():
    me = actor()
    return jsonify(
        {
            "current": conduct.current_conduct(box()),
            "versions": conduct.conduct_history(box()),
            "accepted": conduct.accepted_version(me) if me else None,
            "needs_acceptance": conduct.needs_acceptance(box(), me),
        }
    )


@bp.post("/conduct/accept")
def accept_conduct():
    conduct.accept_conduct(box(), actor(), json_body().get("version"))
    return jsonify({"accepted": conduct.accepted_version(actor())})


# --- proposals and votes ---------------------------------------------------------------


def _proposal(proposal_id: str) -> dict:
    me = actor()
    found = proposals.proposal_view(box(), me, proposal_id)
    if "rule_text" in found:
        found["rule_text"] = gettext(found["rule_text"])
    if me is None:
        found["proposer"] = None  # no member's name in what a visitor can fetch
    return found


@bp.get("/proposals")
def proposal_list():
    proposals.close_due(box())
    rules = [{**r, "text": gettext(r["text"])} for r in proposals.rule_choices(box())]
    return jsonify({**proposals.list_proposals(box()), "rules": rules})


@bp.get("/proposals/<proposal_id>")
def proposal(proposal_id):
    proposals.close_due(box())
    return jsonify(_proposal(proposal_id))


@bp.post("/proposals")
def propose():
    data = json_body()
    proposal_id = proposals.propose(
        box(),
        actor(),
        data.get("title", ""),
        data.get("reason", ""),
        data.get("change", ""),
        rule=data.get("rule") or None,
        value=data.get("value", ""),
        text=data.get("text", ""),
    )
    return jsonify(_proposal(proposal_id)), 201


@bp.post("/proposals/<proposal_id>/votes")
def vote(proposal_id):
    data = json_body()
    proposals.vote(box(), actor(), proposal_id, data.get("choice", ""), data.get("reason", ""))
    return jsonify(_proposal(proposal_id)), 201


# --- sync status -----------------------------------------------------------------------


def _is_staff() -> bool:
    try:
        require_staff(actor())
    except (NotSignedIn, NotAllowed):
        return False
    return True


@bp.get("/sync/status")
def sync_status():
    the_box = box()
    found = {
        "centre": the_box.centre.name if the_box.centre else None,
        "now_ms": the_box.log.now_ms(),
    }
    if not _is_staff():
        # What the kiosk shows: centre names and when each last synced, nothing more.
        return jsonify({**found, "view": "public", "peers": peers.freshness(the_box)})
    checks = [
        {"status": c.status, "finding": gettext(c.finding, **c.params)}
        for c in health.last_sync(the_box)
    ]
    return jsonify(
        {
            **found,
            "view": "staff",
            "origin": the_box.origin,
            "fingerprint": peers.fingerprint(the_box.origin),
            "peers": peers.list_peers(the_box),
            "checks": checks,
            "quarantined": health.quarantined(actor()),
        }
    )
