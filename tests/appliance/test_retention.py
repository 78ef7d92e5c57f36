"""The retention sweep and the sweeps runner, on the box's settable clock."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from boxes import record_count

from appliance import sweeps
from appliance.errors import N_, NotFound, NotSignedIn
from appliance.models import (
    Account,
    AssistedVisitor,
    LoginSession,
    Member,
    MemberPrivate,
    Post,
)
from appliance.services import accounts, assisted, board, retention

DAY_MS = 86_400_000
VISITOR = {
    "type": "need",
    "title": "Help moving a wardrobe",
    "details": "",
    "category": "household",
    "place": "Mill Lane",
    "visitor_name": "Wilma Walkin",
    "visitor_contact": "07700 900555",
}


def visitor_post(box, staff) -> str:
    return assisted.create_assisted_post(box, staff, VISITOR)


def test_a_sweep_with_nothing_due_deletes_nothing_and_writes_no_record(box, alice, staff):
    accounts.start_session(box, alice.id)
    visitor_post(box, staff)
    before = record_count()
    assert retention.sweep(box) == {
        "visitor_details": 0,
        "sessions": 0,
        "api_tokens": 0,
        "erased_account_rows": 0,
    }
    assert LoginSession.select().count() == 1
    assert AssistedVisitor.select().count() == 1
    assert record_count() == before


def test_expired_logins_go_and_live_ones_stay(box, clock, alice, bob):
    accounts.start_session(box, alice.id)
    clock.advance(box.settings["session_days"] * DAY_MS - 1000)
    bobs = accounts.start_session(box, bob.id)
    assert retention.sweep(box)["sessions"] == 0  # Alice's still has a second to go
    clock.advance(1000)
    assert retention.sweep(box)["sessions"] == 1
    assert [s.member for s in LoginSession.select()] == [bob.id]
    assert accounts.actor_for_session(box, bobs).id == bob.id


def test_visitor_details_go_after_the_stated_days(box, clock, staff):
    post = visitor_post(box, staff)
    clock.advance(retention.PERIODS["visitor_details_days"] * DAY_MS - 1000)
    assert retention.sweep(box)["visitor_details"] == 0
    assert AssistedVisitor.get(AssistedVisitor.post == post).contact == "07700 900555"
    clock.advance(2000)
    assert retention.sweep(box)["visitor_details"] == 1
    assert AssistedVisitor.get_or_none(AssistedVisitor.post == post) is None
    assert Post.get_by_id(post).title == "Help moving a wardrobe"  # the post stays


def test_visitor_details_go_sooner_once_the_post_is_resolved(box, clock, staff):
    post = visitor_post(box, staff)
    other = visitor_post(box, staff)
    board.resolve(box, staff, post, "Done")
    days = retention.PERIODS["visitor_details_after_resolved_days"]
    clock.advance(days * DAY_MS - 1000)
    assert retention.sweep(box)["visitor_details"] == 0
    clock.advance(2000)
    assert retention.sweep(box)["visitor_details"] == 1
    assert [v.post for v in AssistedVisitor.select()] == [other]


def test_an_erased_members_local_rows_are_swept_if_any_were_left(box, alice, bob):
    accounts.start_session(box, alice.id)
    accounts.start_session(box, bob.id)
    MemberPrivate.create(member=alice.id, contact="alice@example.org")
    # The erasure record alone (the service also deletes the rows; the sweep makes sure).
    box.log.append(
        "member.erased", {"mode": "keep", "entities": []}, subject=alice.id, author=alice.id
    )
    assert Member.get_by_id(alice.id).erased
    assert retention.sweep(box)["erased_account_rows"] == 3  # session, account, contact
    for model in (Account, LoginSession, MemberPrivate):
        assert model.get_or_none(model.member == alice.id) is None
    assert Account.get_or_none(Account.member == bob.id) is not None
    assert LoginSession.get_or_none(LoginSession.member == bob.id) is not None


def test_every_period_is_a_positive_number_of_days():
    assert retention.PERIODS
    assert all(isinstance(v, int) and v > 0 for v in retention.PERIODS.values())


# --- the sweeps runner -----------------------------------------------------------------


def test_run_all_runs_every_sweep_and_reports_counts(box, alice):
    accounts.start_session(box, alice.id)
    results = sweeps.run_all(box)
    assert set(results) == {*sweeps.SWEEPS, "errors"}
    assert results["errors"] == {}
    assert results["retention"]["sessions"] == 0
    line = sweeps.summary(results)
    assert "retention: visitor_details 0, sessions 0, api_tokens 0, erased_account_rows 0" in line
    assert line.startswith("stale: ")


def test_one_failing_sweep_does_not_stop_the_others(box, clock, alice, monkeypatch, caplog):
    accounts.start_session(box, alice.id)
    clock.advance((box.settings["session_days"] + 1) * DAY_MS)
    monkeypatch.setitem(sweeps.SWEEPS, "stale", ("appliance.services.retention", "no_such"))
    monkeypatch.setitem(sweeps.SWEEPS, "proposals", ("appliance.no_such_module", "close_due"))
    with caplog.at_level(logging.ERROR, logger="kith.sweep"):
        results = sweeps.run_all(box)
    assert set(results["errors"]) == {"stale", "proposals"}
    assert "ModuleNotFoundError" in results["errors"]["proposals"]
    assert results["retention"]["sessions"] == 1  # it still ran
    assert LoginSession.select().count() == 0
    assert "the stale sweep failed" in caplog.text
    assert "stale: failed (AttributeError" in sweeps.summary(results)


def test_a_refused_sweep_is_reported_without_a_traceback(box, monkeypatch, caplog):
    def refuse(box):
        raise NotFound(N_("There are no visitor details on this post."))

    monkeypatch.setattr(retention, "sweep", refuse)
    with caplog.at_level(logging.WARNING, logger="kith.sweep"):
        results = sweeps.run_all(box)
    assert results["errors"] == {"retention": "There are no visitor details on this post."}
    assert "Traceback" not in caplog.text
    assert "the retention sweep did not run" in caplog.text


def test_the_sweeper_thread_waits_runs_repeatedly_and_stops(box, monkeypatch):
    ran = threading.Event()
    calls = []

    def counting(b):
        calls.append(b)
        if len(calls) >= 2:
            ran.set()
        return {"errors": {}}

    monkeypatch.setattr(sweeps, "run_all", counting)
    monkeypatch.setattr(sweeps, "summary", lambda results: "")
    sweeper = sweeps.Sweeper(box, interval_s=0.01, first_s=0.01).start()
    assert ran.wait(10)
    sweeper.stop()
    assert not sweeper._thread.is_alive()
    assert calls[0] is box
    stopped_at = len(calls)
    time.sleep(0.05)
    assert len(calls) == stopped_at  # nothing more after stop


def test_the_sweeper_does_nothing_before_its_first_wait_is_over(box, monkeypatch):
    calls = []
    monkeypatch.setattr(sweeps, "run_all", lambda b: calls.append(b))
    sweeper = sweeps.Sweeper(box).start()  # the first run a minute after start
    sweeper.stop()
    assert calls == [] and sweeper.runs == 0
    assert sweeps.FIRST_AFTER_S == 60 and sweeps.HOURLY_S == 3600


def test_the_sweep_command_on_a_directory_without_a_box_fails_in_one_line(tmp_path, capsys):
    from appliance.cli import main

    assert main(["--data", str(tmp_path / "nothing"), "sweep"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("kith: ") and err.count("\n") == 1


def test_the_sweep_command_prints_one_line_of_counts(box, clock, alice, capsys):
    from appliance.cli import main

    accounts.start_session(box, alice.id)
    clock.advance((box.settings["session_days"] + 1) * DAY_MS)
    # The command opens the box itself with the real clock, years after the test clock.
    assert main(["--data", str(box.data_dir), "sweep"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("Swept: stale: ")
    assert "sessions 1" in out


def test_ended_api_tokens_go_30_days_after_they_end_and_with_an_erasure(box, clock, alice, bob):
    from appliance.models import ApiToken
    from appliance.services import api_tokens, erasure

    revoked = api_tokens.create_token(box, alice, "Old script", 30)
    api_tokens.revoke_token(box, alice, revoked["id"])
    live = api_tokens.create_token(box, alice, "Phone widget", 365)
    bobs = api_tokens.create_token(box, bob, "Bob's tool", 365)
    clock.advance(retention.TOKEN_KEEP_DAYS * DAY_MS - 1000)
    assert retention.sweep(box)["api_tokens"] == 0  # still listed to Alice for a while
    clock.advance(2000)
    assert retention.sweep(box)["api_tokens"] == 1
    assert {t.id for t in ApiToken.select()} == {live["id"], bobs["id"]}

    erasure.erase_member(box, bob, bob.id, "keep")
    assert not ApiToken.select().where(ApiToken.member == bob.id).exists()
    with pytest.raises(NotSignedIn):
        api_tokens.actor_for_token(box, bobs["token"])
