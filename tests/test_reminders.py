"""Reminders that chase returns: who gets one, when, never twice, and Notify down, through the real client."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from tests.conftest import DATA
from tests.notify_stub import NotifyStub, make_api_key
from tracker.access import ANALYST, SUBMITTER, AccessList, Person
from tracker.reminders import (
    APPROACHING,
    CLAIMED,
    NO_ONE,
    NOT_SENT,
    OVERDUE,
    SENT,
    ReminderSettings,
    ReturnDue,
    _append,
    due_reminders,
    ledger,
    ledger_path,
    reminder_days_before_deadline,
    reminder_settings,
    returns_due,
    send_due,
)

REMINDER = "1a3c4e1b-2f5d-4c6a-8b7e-0d1f2a3b4c5d"
OVERDUE_TEMPLATE = "2b3c4e1b-2f5d-4c6a-8b7e-0d1f2a3b4c5d"
RECEIPT = "9a3c4e1b-2f5d-4c6a-8b7e-0d1f2a3b4c5d"
Q3, DEADLINE = "2025-26 Q3", dt.date(2026, 1, 30)
Q2, Q2_DEADLINE = "2025-26 Q2", dt.date(2025, 10, 30)

ACCESS = AccessList((
    Person(role=SUBMITTER, email="dwp.returns@example.gov.uk", organisations=frozenset({"D10"})),
    Person(role=SUBMITTER, email="moj.one@example.gov.uk", organisations=frozenset({"D18", "EA73"})),
    Person(role=SUBMITTER, email="moj.two@example.gov.uk", organisations=frozenset({"EA73"})),
    Person(role=ANALYST, email="analyst@example.gov.uk"),
    Person(role=SUBMITTER, subject="no-email-subject", organisations=frozenset({"D10"})),
))


def status(code: str, state: str, quarter: str = Q3, deadline: dt.date = DEADLINE, expected: bool = True):
    return ReturnDue(code, f"Organisation {code}", quarter, deadline, state, expected)


STATUSES = [
    status("D10", "due"),                          # missing: its submitter is reminded
    status("EA73", "rejected, resubmission due"),  # no accepted return: both submitters
    status("D18", "received"),                     # accepted: never reminded
    status("D2", "due"),                           # no submitter in the access file
    status("EA199", "due", expected=False),        # not expected
    status("D10", "missing", Q2, Q2_DEADLINE),     # an earlier quarter's deadline: long gone
]


def keyed(reminders) -> set[tuple]:
    return {(r.kind, r.organisation_code, r.email, r.days) for r in reminders}


def test_the_schedule_says_seven_days():
    assert reminder_days_before_deadline(DATA) == 7


def test_only_missing_expected_organisations_and_only_their_listed_submitters_are_reminded():
    due = due_reminders(DEADLINE - dt.timedelta(days=7), STATUSES, ACCESS, days_before=7)
    assert keyed(due) == {
        (APPROACHING, "D10", "dwp.returns@example.gov.uk", 7),
        (APPROACHING, "EA73", "moj.one@example.gov.uk", 7),
        (APPROACHING, "EA73", "moj.two@example.gov.uk", 7),
        (APPROACHING, "D2", None, 7),  # no one to remind
    }


@pytest.mark.parametrize(("today", "expected"), [
    (DEADLINE - dt.timedelta(days=8), set()),  # N+1 days before: nothing yet
    (DEADLINE - dt.timedelta(days=7), {(APPROACHING, 7)}),
    (DEADLINE - dt.timedelta(days=2), {(APPROACHING, 2)}),  # a day the machine was off is caught up
    (DEADLINE, {(APPROACHING, 0)}),  # the deadline day: not overdue yet
    (DEADLINE + dt.timedelta(days=1), {(OVERDUE, 1)}),
    (DEADLINE + dt.timedelta(days=7), {(OVERDUE, 7)}),  # a week later, if it was never sent
])
def test_when(today, expected):
    due = due_reminders(today, [status("D10", "due" if today <= DEADLINE else "missing")], ACCESS, days_before=7)
    assert {(r.kind, r.days) for r in due} == expected


def test_a_quarter_long_overdue_is_not_chased_by_email():
    due = due_reminders(DEADLINE + dt.timedelta(days=1), [status("D10", "missing"),
                                                          status("D10", "missing", Q2, Q2_DEADLINE)], ACCESS)
    assert {(r.reporting_quarter, r.kind) for r in due} == {(Q3, OVERDUE)}
    assert due_reminders(DEADLINE + dt.timedelta(days=31), [status("D10", "missing")], ACCESS) == []


@pytest.fixture
def api_key() -> str:
    return make_api_key()


@pytest.fixture
def stub(api_key):
    with NotifyStub(api_key, RECEIPT, other_template_ids=(REMINDER, OVERDUE_TEMPLATE)) as running:
        yield running


@pytest.fixture
def settings(stub, api_key) -> ReminderSettings:
    return ReminderSettings(api_key=api_key, reminder_template_id=REMINDER, overdue_template_id=OVERDUE_TEMPLATE,
                            base_url=stub.url, upload_url="https://tracker.example.gov.uk/send-return",
                            timeout_seconds=2.0)


def approaching():
    return due_reminders(DEADLINE - dt.timedelta(days=7), STATUSES, ACCESS, days_before=7)


def states(home: Path) -> dict:
    return {(r["organisation_code"], r["kind"], r["email"]): r["state"] for r in ledger(home)}


def test_reminders_reach_notify_with_the_template_and_personalisation_and_are_recorded(tmp_path, stub, settings):
    outcomes = send_due(tmp_path, approaching(), settings)
    assert sorted(o.outcome for o in outcomes) == [NO_ONE, SENT, SENT, SENT]
    sent = {e.body["email_address"]: e.body for e in stub.emails()}
    assert set(sent) == {"dwp.returns@example.gov.uk", "moj.one@example.gov.uk", "moj.two@example.gov.uk"}
    assert all(e.status == 201 for e in stub.emails())
    body = sent["dwp.returns@example.gov.uk"]
    assert body["template_id"] == REMINDER
    assert body["personalisation"] == {"organisation": "Organisation D10 (D10)", "quarter": Q3,
                                       "deadline": "30 January 2026", "days_left": "7",
                                       "upload_url": "https://tracker.example.gov.uk/send-return"}
    assert states(tmp_path) == {
        ("D10", APPROACHING, "dwp.returns@example.gov.uk"): SENT,
        ("EA73", APPROACHING, "moj.one@example.gov.uk"): SENT,
        ("EA73", APPROACHING, "moj.two@example.gov.uk"): SENT,
        ("D2", APPROACHING, ""): NO_ONE,  # recorded, so CDDO can see it
    }


def test_the_overdue_reminder_uses_its_own_template_and_says_how_late(tmp_path, stub, settings):
    late = due_reminders(DEADLINE + dt.timedelta(days=1), [status("D10", "missing")], ACCESS)
    assert [o.outcome for o in send_due(tmp_path, late, settings)] == [SENT]
    (email,) = stub.emails()
    assert email.body["template_id"] == OVERDUE_TEMPLATE
    assert email.body["personalisation"]["days_late"] == "1" and "days_left" not in email.body["personalisation"]


def test_a_second_evaluation_sends_nothing(tmp_path, stub, settings):
    send_due(tmp_path, approaching(), settings)
    assert len(stub.emails()) == 3
    again = send_due(tmp_path, approaching(), settings)
    later = send_due(tmp_path, due_reminders(DEADLINE - dt.timedelta(days=3), STATUSES, ACCESS), settings)
    assert again == [] and later == [] and len(stub.emails()) == 3
    assert sum(1 for r in ledger(tmp_path) if r["state"] == NO_ONE) == 1  # "no one to remind" recorded once


def test_a_crash_after_notify_accepted_it_but_before_it_was_recorded_never_sends_twice(tmp_path, stub, settings):
    from tracker.notify_client import make_client

    class Crash(BaseException):
        pass

    def crashing_client(chosen):
        client = make_client(chosen)
        real = client.send_email_notification

        def send_then_die(**kwargs):
            real(**kwargs)
            raise Crash  # the process stops between Notify accepting it and the ledger saying so

        client.send_email_notification = send_then_die
        return client

    (reminder,) = due_reminders(DEADLINE - dt.timedelta(days=7), [status("D10", "due")], ACCESS)
    with pytest.raises(Crash):
        send_due(tmp_path, [reminder], settings, client_factory=crashing_client)
    assert [r["state"] for r in ledger(tmp_path)] == [CLAIMED] and len(stub.emails()) == 1
    (outcome,) = send_due(tmp_path, [reminder], settings)
    assert outcome.outcome == SENT and "already accepted" in outcome.detail
    assert len(stub.emails()) == 1  # asked Notify by its reference, not sent again
    assert [r["state"] for r in ledger(tmp_path)] == [CLAIMED, SENT]
    assert send_due(tmp_path, [reminder], settings) == []


def test_a_crash_after_the_claim_before_notify_was_asked_sends_it_once(tmp_path, stub, settings):
    (reminder,) = due_reminders(DEADLINE - dt.timedelta(days=7), [status("D10", "due")], ACCESS)
    _append(tmp_path, reminder, CLAIMED, "About to ask Notify to send it")
    with ledger_path(tmp_path).open("ab") as torn:  # and a line half-written when it stopped
        torn.write(b'{"state": "sen')
    (outcome,) = send_due(tmp_path, [reminder], settings)
    assert outcome.outcome == SENT and len(stub.emails()) == 1
    assert [r["state"] for r in ledger(tmp_path)] == [CLAIMED, CLAIMED, SENT]  # the torn line is skipped


def test_notify_down_is_recorded_and_retried_next_time_then_sent_once(tmp_path, stub, settings):
    (reminder,) = due_reminders(DEADLINE - dt.timedelta(days=7), [status("D10", "due")], ACCESS)
    stub.stop()
    (outcome,) = send_due(tmp_path, [reminder], settings)
    assert outcome.outcome == NOT_SENT and "Could not connect to Notify" in outcome.detail
    assert [r["state"] for r in ledger(tmp_path)] == [CLAIMED, NOT_SENT]
    stub.start()
    stub.fail_next(1, 503)  # asked first whether it holds an earlier copy: Notify had a problem
    (outcome,) = send_due(tmp_path, [reminder], settings)
    assert outcome.outcome == NOT_SENT and "Notify had a problem" in outcome.detail
    (outcome,) = send_due(tmp_path, [reminder], settings)
    assert outcome.outcome == SENT and len([e for e in stub.emails() if e.status == 201]) == 1
    assert ledger(tmp_path)[-1]["state"] == SENT


def test_without_notify_configured_nothing_is_sent_but_no_one_to_remind_is_still_recorded(tmp_path):
    outcomes = send_due(tmp_path, approaching(), None)
    assert sorted(o.outcome for o in outcomes) == [NO_ONE, "not configured", "not configured", "not configured"]
    assert [r["state"] for r in ledger(tmp_path)] == [NO_ONE]


def test_no_key_in_any_record_or_log_line(tmp_path, stub, settings, api_key, caplog):
    caplog.set_level(logging.DEBUG)
    stub.fail_next(1, 500, message="boom {authorization} " + api_key)
    stub.fail_next(1, 403, message="Invalid token: {authorization} for " + api_key)
    outcomes = send_due(tmp_path, approaching(), settings)
    assert {o.outcome for o in outcomes} == {NOT_SENT, NO_ONE}
    assert any("refused the API key" in o.detail for o in outcomes)
    texts = [ledger_path(tmp_path).read_text(), caplog.text, *(o.detail for o in outcomes)]
    texts += [str(r.args) + str(r.msg) for r in caplog.records]
    service, secret = api_key[-73:-37], api_key[-36:]
    for text in texts:
        for hidden in (api_key, service, secret, "Bearer", "eyJ"):
            assert hidden.lower() not in text.lower(), hidden


def test_settings_need_both_templates_and_keep_the_key_out_of_repr(api_key):
    section = {"api_key": api_key, "template_id": RECEIPT, "reminder_template_id": REMINDER,
               "overdue_template_id": OVERDUE_TEMPLATE, "upload_url": "https://tracker.example.gov.uk/send-return"}
    chosen = reminder_settings({"notify": section})
    assert chosen is not None and chosen.upload_url.endswith("/send-return") and api_key not in repr(chosen)
    assert reminder_settings({"notify": section | {"overdue_template_id": "nope"}}) is None
    assert reminder_settings({"notify": {k: v for k, v in section.items() if k != "reminder_template_id"}}) is None
    no_link = reminder_settings({"notify": {k: v for k, v in section.items() if k != "upload_url"}})
    assert no_link is not None and no_link.upload_url == ""


def test_returns_due_reads_the_published_returns_status(tmp_path):
    snapshot = tmp_path / "tracker.duckdb"
    con = duckdb.connect(str(snapshot))
    con.execute("CREATE SCHEMA marts")
    con.execute("CREATE TABLE marts.returns_status (organisation_code VARCHAR, organisation_name VARCHAR, "
                "reporting_quarter VARCHAR, quarter_end DATE, deadline DATE, status VARCHAR, expected BOOLEAN)")
    con.execute("INSERT INTO marts.returns_status VALUES "
                "('D10', 'Department for Work and Pensions', '2025-26 Q3', '2025-12-31', '2026-01-30', 'due', true), "
                "('EA199', 'Environment Agency', '2025-26 Q3', '2025-12-31', '2026-01-30', 'received', false)")
    con.close()
    rows = returns_due(snapshot, dt.date(2026, 1, 23))
    assert rows == [ReturnDue("D10", "Department for Work and Pensions", Q3, DEADLINE, "due", True)]
    assert returns_due(snapshot, dt.date(2025, 12, 31)) == []  # the quarter had not ended on that day
    assert returns_due(tmp_path / "none.duckdb", DEADLINE) == []
    assert json.dumps([r.__dict__ for r in rows], default=str)  # plain values


def fake_snapshot(home: Path, rows: list[tuple]) -> None:
    """A published snapshot holding only marts.returns_status (what the reminders read)."""
    (home / "published").mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(home / "published" / "tracker.duckdb"))
    con.execute("CREATE SCHEMA marts")
    con.execute("CREATE TABLE marts.returns_status (organisation_code VARCHAR, organisation_name VARCHAR, "
                "reporting_quarter VARCHAR, quarter_end DATE, deadline DATE, status VARCHAR, expected BOOLEAN)")
    con.executemany("INSERT INTO marts.returns_status VALUES (?, ?, ?, '2025-12-31', '2026-01-30', ?, true)", rows)
    con.close()


def test_the_daily_schedule_sends_what_is_due_on_the_reporting_date_once(tmp_path, stub, api_key, monkeypatch):
    from pipelines.definitions import defs
    from pipelines.schedules import returns_reminders_job
    from tracker.resources import TrackerConfig

    schedule = defs.resolve_schedule_def("returns_reminders")
    assert (schedule.cron_schedule, schedule.execution_timezone, schedule.job_name) == (
        "0 8 * * *", "Europe/London", returns_reminders_job.name)
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING

    home = tmp_path / "home"
    fake_snapshot(home, [("D10", "Department for Work and Pensions", Q3, "received"),
                         ("D16", "Home Office", Q3, "rejected, overdue"), ("D2", "Cabinet Office", Q3, "missing")])
    access = tmp_path / "access.yaml"
    access.write_text("people:\n"
                      "  - {email: dwp@example.gov.uk, role: department submitter, organisations: [D10]}\n"
                      "  - {email: ho@example.gov.uk, role: department submitter, organisations: [D16]}\n")
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'[notify]\napi_key = "{api_key}"\ntemplate_id = "{RECEIPT}"\n'
                       f'reminder_template_id = "{REMINDER}"\noverdue_template_id = "{OVERDUE_TEMPLATE}"\n'
                       f'base_url = "{stub.url}"\n')
    monkeypatch.setenv("TRACKER_ACCESS_FILE", str(access))
    monkeypatch.setenv("TRACKER_SECRETS_FILE", str(secrets))
    resources = {"settings": TrackerConfig(data_dir=str(DATA), home_dir=str(home), as_of="2026-01-31")}
    for _ in range(2):  # the second morning's run sends nothing more
        assert returns_reminders_job.execute_in_process(resources=resources).success
    (email,) = stub.emails()
    assert email.body["email_address"] == "ho@example.gov.uk" and email.body["template_id"] == OVERDUE_TEMPLATE
    assert email.body["personalisation"]["days_late"] == "1"
    assert email.body["personalisation"]["organisation"] == "Home Office (D16)"
    assert states(home) == {("D16", OVERDUE, "ho@example.gov.uk"): SENT, ("D2", OVERDUE, ""): NO_ONE}
