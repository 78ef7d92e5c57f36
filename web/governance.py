"""Pages of the community's own rules: the code of conduct (read, accept, publish),
proposals and consent votes, and staff reviewing other centres' vouches."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from appliance.errors import Conflict, InvalidInput, NotAllowed
from appliance.services import conduct, proposals, vouches
from appliance.services.conduct import ConductNotAccepted
from appliance.services.members import require_staff
from web.accounts import _safe_next as safe_next
from web.context import actor, box
from web.errors import act_on_page, json_error, message_of, wants_json

bp = Blueprint("governance", __name__)


def _here() -> str:
    """Return the page a person was on: this one for a GET; for a form, the page it was
    on (the board sends its referrer to itself), else the form's own address if that is
    a page too, else the board."""
    if request.method == "GET":
        return request.full_path.rstrip("?")
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.path:
        return referrer.path + ("?" + referrer.query if referrer.query else "")
    try:
        current_app.url_map.bind(request.host).match(request.path, method="GET")
    except HTTPException:
        return url_for("board.index")
    return request.path


@bp.app_errorhandler(ConductNotAccepted)
def _needs_conduct(exc: ConductNotAccepted):
    # Posting anywhere leads a member who has not accepted the current code to it, and
    # back to where they were once they have.
    if wants_json():
        return json_error(exc)
    flash(message_of(exc))
    return redirect(url_for("governance.conduct", next=safe_next(_here())), 303)


# --- the code of conduct -------------------------------------------------------------


def _conduct_page(version: int | None = None, problem=None, status=200):
    me = actor()
    shown = conduct.current_conduct(box()) if version is None else None
    if version is not None:
        shown = conduct.conduct_version(box(), version)
        if shown is None:
            abort(404)
    current = conduct.current_version(box())
    return render_template(
        "governance/conduct.html",
        shown=shown,
        current=current,
        history=conduct.conduct_history(box()),
        needs=conduct.needs_acceptance(box(), me),
        accepted=conduct.accepted_version(me) if me else 0,
        next=safe_next(request.values.get("next")) if request.values.get("next") else "",
        problem=problem,
    ), status


@bp.get("/conduct", endpoint="conduct")
def conduct_page():
    return _conduct_page()


@bp.get("/conduct/<int:version>")
def conduct_version(version):
    return _conduct_page(version)


@bp.post("/conduct/accept")
def accept():
    try:
        conduct.accept_conduct(box(), actor(), request.form.get("version", ""))
    except (Conflict, NotAllowed) as exc:
        return _conduct_page(problem=message_of(exc), status=exc.status)
    flash(_("Thank you for accepting the code of conduct."))
    target = request.form.get("next")
    return redirect(safe_next(target) if target else url_for("governance.conduct"))


@bp.route("/staff/conduct", methods=["GET", "POST"])
def staff_conduct():
    def page(errors=None, problem=None, status=200):
        require_staff(actor())
        current = conduct.current_conduct(box())
        form = request.form if request.method == "POST" else {}
        return render_template(
            "governance/staff_conduct.html",
            current=current,
            history=conduct.conduct_history(box()),
            text=form.get("text", current["text"] if current else ""),
            note=form.get("note", ""),
            errors=errors or {},
            problem=problem,
        ), status

    if request.method == "GET":
        return page()
    return act_on_page(
        page,
        lambda: conduct.publish_conduct(
            box(), actor(), request.form.get("text", ""), request.form.get("note", "")
        ),
        lambda version: _(
            "Version %(version)s of the code of conduct is published.", version=version
        ),
        url_for("governance.conduct"),
    )


# --- proposals and votes -------------------------------------------------------------


@bp.get("/proposals")
def proposals_page():
    proposals.close_due(box())
    return render_template(
        "governance/proposals.html",
        listing=proposals.list_proposals(box()),
        rules=proposals.rule_choices(box()),
    )


def _proposal_form(errors=None, problem=None, status=200):
    proposals.may_propose(box(), actor())
    current = conduct.current_conduct(box())
    form = dict(request.form) if request.method == "POST" else {}
    form.setdefault("text", current["text"] if current else "")
    form.setdefault("rule", request.args.get("rule", ""))
    return render_template(
        "governance/proposal_form.html",
        rules=proposals.rule_choices(box()),
        form=form,
        errors=errors or {},
        problem=problem,
    ), status


@bp.route("/proposals/new", methods=["GET", "POST"])
def new_proposal():
    if request.method == "GET":
        return _proposal_form()
    f = request.form
    return act_on_page(
        _proposal_form,
        lambda: proposals.propose(
            box(),
            actor(),
            f.get("title", ""),
            f.get("reason", ""),
            f.get("change", ""),
            rule=f.get("rule") or None,
            value=f.get("value", ""),
            text=f.get("text", ""),
        ),
        _("Your proposal is open for votes."),
        lambda proposal_id: url_for("governance.proposal", proposal_id=proposal_id),
    )


def _proposal_page(proposal_id, errors=None, problem=None, status=200):
    return render_template(
        "governance/proposal.html",
        p=proposals.proposal_view(box(), actor(), proposal_id),
        form=request.form,
        errors=errors or {},
        problem=problem,
    ), status


@bp.get("/proposals/<proposal_id>")
def proposal(proposal_id):
    proposals.close_due(box())
    return _proposal_page(proposal_id)


@bp.post("/proposals/<proposal_id>/vote")
def vote(proposal_id):
    try:
        proposals.vote(
            box(),
            actor(),
            proposal_id,
            request.form.get("choice", ""),
            request.form.get("reason", ""),
        )
    except InvalidInput as exc:
        return _proposal_page(proposal_id, errors=exc.fields, status=400)
    except (Conflict, NotAllowed) as exc:
        return _proposal_page(proposal_id, problem=message_of(exc), status=exc.status)
    flash(_("Thank you: your vote is counted."))
    return redirect(url_for("governance.proposal", proposal_id=proposal_id))


# --- vouches from other centres (staff) ----------------------------------------------


def _vouches_page(member_id, errors=None, problem=None, status=200):
    # The page's only fields are buttons: a field's error shows as the page's problem.
    if errors:
        problem = _(next(iter(errors.values())))
    return render_template(
        "governance/vouches.html",
        view=vouches.staff_view(box(), actor(), member_id),
        problem=problem,
    ), status


@bp.get("/staff/members/<member_id>/vouches")
def vouches_page(member_id):
    return _vouches_page(member_id)


@bp.post("/staff/members/<member_id>/vouches/review")
def review_vouch(member_id):
    accepted = request.form.get("accepted")
    return act_on_page(
        lambda **page: _vouches_page(member_id, **page),
        lambda: vouches.review_vouch(
            box(),
            actor(),
            member_id,
            request.form.get("origin", ""),
            {"1": True, "0": False}.get(accepted, accepted),
        ),
        _("Saved: this centre's answer to that vouch."),
        url_for("governance.vouches_page", member_id=member_id),
    )
