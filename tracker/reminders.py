"""Reminders that chase returns, through GOV.UK Notify: who gets what, when, and never twice.

Before each returns deadline (``reminder_days_before_deadline`` in data/returns/schedule.yaml) every department
submitter of an expected organisation with no accepted return for the quarter gets a "deadline approaching"
email; on the day after the deadline (or the first later day the tracker runs, within 30 days) those still
missing get an "overdue" one. Recipients come from the access file (tracker/access.py): every
department submitter listed for the organisation, by email. An organisation with no submitter there gets no
email, and the ledger says "no one to remind" so CDDO can see it.

The ledger (TRACKER_HOME/reminders/sent.jsonl) is append-only JSON lines, one per event, keyed by
(organisation_code, reporting_quarter, kind, email); a key's state is its last line. A reminder is "claimed"
(written and fsynced) before Notify is asked, and "sent" after. A key whose last line is "claimed" or "not sent"
may have reached Notify (a crash, a timeout), so Notify is asked first, by the reminder's own reference, whether
it already holds it: a crash never sends twice and never loses a record. A reminder already "sent" is never sent
again; one "not sent" is tried again on the next evaluation while it is still due. One evaluation at a time holds
the ledger (an exclusive lock). Nothing written or logged here carries the API key (tracker/notify_client.py).

No Dagster here: pipelines/schedules.py runs it daily.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from notifications_python_client.errors import InvalidResponse

from tracker.access import SUBMITTER, AccessList
from tracker.dates import long_date
from tracker.declaration_files import SCHEDULE_FILE, read_schedule
from tracker.notify_client import (
    API_KEY,
    NOTIFY_URL,
    already_accepted,
    base_url_is_safe,
    classify,
    client_logs_scrubbed,
    key_and_url,
    make_client,
    notify_section,
    read_secrets_file,
    template_id,
)
from tracker.settings import reminders_dir

log = logging.getLogger(__name__)

APPROACHING, OVERDUE = "deadline approaching", "overdue"
ACCEPTED = frozenset({"received", "received late"})  # marts.returns_status: an accepted return is in force
LEDGER_NAME = "sent.jsonl"
# states of a ledger key (its last line)
CLAIMED, SENT, NOT_SENT, NO_ONE = "claimed", "sent", "not sent", "no one to remind"
NOT_CONFIGURED = "not configured"  # an outcome only: nothing was tried, nothing recorded
WAITING = "reminders"
# An overdue reminder not sent on the day after the deadline (the machine was off) is caught up on any later day
# for this long; after that a return months late is CDDO's to chase by hand (the dashboard's chasing list), and a
# first start of the schedule does not email every organisation about quarters long gone.
OVERDUE_CATCH_UP_DAYS = 30


@dataclass(frozen=True)
class ReturnDue:
    """One row of the published ``marts.returns_status``: an organisation's return for a quarter."""

    organisation_code: str
    organisation_name: str
    reporting_quarter: str
    deadline: dt.date
    status: str
    expected: bool


@dataclass(frozen=True)
class Reminder:
    kind: str  # APPROACHING or OVERDUE
    organisation_code: str
    organisation_name: str
    reporting_quarter: str
    deadline: dt.date
    email: str | None  # None: the access file lists no submitter for the organisation
    days: int  # days left before the deadline (approaching) or days since it (overdue)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.organisation_code, self.reporting_quarter, self.kind, self.email or "")

    @property
    def reference(self) -> str:
        """The reference Notify keeps with the email: the same reminder always has the same one."""
        return "reminder-" + hashlib.sha256("|".join(self.key).encode("utf-8")).hexdigest()[:24]


@dataclass(frozen=True)
class ReminderSettings:
    api_key: str = field(repr=False)
    reminder_template_id: str
    overdue_template_id: str
    base_url: str = NOTIFY_URL
    upload_url: str = ""
    timeout_seconds: float = 5.0


@dataclass(frozen=True)
class ReminderOutcome:
    reminder: Reminder
    outcome: str  # SENT, NOT_SENT, NO_ONE or NOT_CONFIGURED
    detail: str


# --- who gets what, and when ------------------------------------------------------------------------


def reminder_days_before_deadline(data_dir: Path) -> int:
    """``reminder_days_before_deadline`` from data/returns/schedule.yaml."""
    doc = read_schedule(data_dir)
    days = doc.get("reminder_days_before_deadline")
    if not isinstance(days, int) or isinstance(days, bool) or days < 0:
        raise ValueError(f"data/{SCHEDULE_FILE} needs reminder_days_before_deadline: a whole number of days.")
    return days


def submitters(access: AccessList, organisation_code: str) -> list[str]:
    """The email addresses of every department submitter listed for the organisation, sorted, once each."""
    return sorted({p.email for p in access.people
                   if p.role == SUBMITTER and p.email and organisation_code in p.organisations})


def due_reminders(today: dt.date, statuses: Iterable[ReturnDue], access: AccessList, *,
                  days_before: int = 7) -> list[Reminder]:
    """The reminders due on ``today``, whether or not they were sent already (the ledger decides that).

    "Deadline approaching": from ``days_before`` days before the deadline to the deadline itself (a day the
    tracker did not run is caught up), to each expected organisation with no accepted return for the quarter.
    "Overdue": from the day after the deadline (caught up for ``OVERDUE_CATCH_UP_DAYS``), to those still without
    one. One reminder per submitter; an organisation with none gets one with no email ("no one to remind").
    """
    rows = list(statuses)
    reminders: list[Reminder] = []
    for row in sorted(rows, key=lambda r: (r.deadline, r.organisation_code)):
        if not row.expected or row.status in ACCEPTED:
            continue
        if row.deadline - dt.timedelta(days=days_before) <= today <= row.deadline:
            kind, days = APPROACHING, (row.deadline - today).days
        elif row.deadline < today <= row.deadline + dt.timedelta(days=OVERDUE_CATCH_UP_DAYS):
            kind, days = OVERDUE, (today - row.deadline).days
        else:
            continue
        for email in submitters(access, row.organisation_code) or [None]:
            reminders.append(Reminder(kind, row.organisation_code, row.organisation_name, row.reporting_quarter,
                                      row.deadline, email, days))
    return reminders


def returns_due(snapshot_path: Path, as_of: dt.date) -> list[ReturnDue]:
    """The expected organisations' returns of quarters ended by ``as_of``, from the published snapshot's
    ``marts.returns_status`` (read-only; none when nothing is published yet)."""
    import duckdb

    if not Path(snapshot_path).exists():
        log.warning("No snapshot is published yet: no reminder can be worked out")
        return []
    con = duckdb.connect(str(snapshot_path), read_only=True)
    try:
        rows = con.execute(
            "SELECT organisation_code, coalesce(organisation_name, organisation_code), reporting_quarter, deadline, "
            "status, expected FROM marts.returns_status WHERE expected AND quarter_end < ? "
            "ORDER BY deadline, organisation_code", [as_of]).fetchall()
    finally:
        con.close()
    return [ReturnDue(str(code), str(name), str(quarter), deadline, str(status), bool(expected))
            for code, name, quarter, deadline, status, expected in rows]


# --- settings -----------------------------------------------------------------------------------------


def reminder_settings(secrets: Mapping) -> ReminderSettings | None:
    """The [notify] section's key and reminder templates, or None when reminders cannot be sent."""
    section = notify_section(secrets)
    if section is None:
        return None
    connection = key_and_url(section, WAITING)
    reminder = template_id(section, "reminder_template_id", WAITING)
    overdue = template_id(section, "overdue_template_id", WAITING)
    if connection is None or reminder is None or overdue is None:
        return None
    upload_url = section.get("upload_url") or ""
    if not isinstance(upload_url, str) or (upload_url and not base_url_is_safe(upload_url.strip())):
        log.warning("The upload_url in [notify] is not an https address; reminders are sent without it")
        upload_url = ""
    api_key, base_url = connection
    return ReminderSettings(api_key=api_key, reminder_template_id=reminder, overdue_template_id=overdue,
                            base_url=base_url, upload_url=upload_url.strip())


def reminder_settings_from_file(path: Path) -> ReminderSettings | None:
    secrets = read_secrets_file(path, WAITING)
    return None if secrets is None else reminder_settings(secrets)


# --- the ledger ----------------------------------------------------------------------------------------


def ledger_path(home: Path) -> Path:
    return reminders_dir(home) / LEDGER_NAME


def ledger(home: Path) -> list[dict]:
    """Every line of the ledger that can be read, oldest first (a line torn by a crash is skipped)."""
    try:
        text = ledger_path(home).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    records = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("state"), str):
            records.append(record)
    return records


def _key_of(record: Mapping) -> tuple[str, str, str, str]:
    return (str(record.get("organisation_code")), str(record.get("reporting_quarter")), str(record.get("kind")),
            str(record.get("email") or ""))


def states(home: Path) -> dict[tuple[str, str, str, str], dict]:
    """Each key's last record."""
    return {_key_of(record): record for record in ledger(home)}


def _append(home: Path, reminder: Reminder, state: str, detail: str, **extra: str) -> None:
    """One line, flushed to disk before this returns; a line torn by an earlier crash is ended first."""
    path = ledger_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"organisation_code": reminder.organisation_code, "organisation_name": reminder.organisation_name,
              "reporting_quarter": reminder.reporting_quarter, "kind": reminder.kind, "email": reminder.email or "",
              "deadline": reminder.deadline.isoformat(), "reference": reminder.reference, "state": state,
              "detail": detail, "at": dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
              **extra}
    line = json.dumps(record, sort_keys=True).encode("utf-8") + b"\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        size = os.fstat(fd).st_size
        if size:
            with open(path, "rb") as reader:
                reader.seek(size - 1)
                if reader.read(1) != b"\n":
                    line = b"\n" + line
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def _held(home: Path) -> Iterator[None]:
    """One evaluation at a time: an exclusive lock on the ledger's folder, let go when the process ends."""
    folder = reminders_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".lock", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# --- sending ---------------------------------------------------------------------------------------------


def personalisation(reminder: Reminder, settings: ReminderSettings) -> dict[str, str]:
    fields = {
        "organisation": f"{reminder.organisation_name} ({reminder.organisation_code})",
        "quarter": reminder.reporting_quarter,
        "deadline": long_date(reminder.deadline),
        "upload_url": settings.upload_url,
    }
    fields["days_left" if reminder.kind == APPROACHING else "days_late"] = str(reminder.days)
    return fields


def send_due(home: Path, reminders: Iterable[Reminder], settings: ReminderSettings | None, *,
             client_factory: Callable[[ReminderSettings], object] | None = None) -> list[ReminderOutcome]:
    """Send each reminder not yet sent; record everything in the ledger. Never raises for one reminder."""
    outcomes: list[ReminderOutcome] = []
    reminders = list(reminders)
    if not reminders:
        return outcomes
    with _held(home):
        done = states(home)
        client = None
        key_refused = False
        scrubbed = client_logs_scrubbed(settings) if settings is not None else nullcontext()
        with scrubbed:
            for reminder in reminders:
                previous = done.get(reminder.key)
                state = previous.get("state") if previous else None
                if state in (SENT, NO_ONE):
                    continue
                if reminder.email is None:
                    detail = (f"The access file lists no department submitter for {reminder.organisation_code}: "
                              "no one was reminded")
                    _append(home, reminder, NO_ONE, detail)
                    log.warning("%s reminder for %s %s: %s", reminder.kind, reminder.organisation_code,
                                reminder.reporting_quarter, detail)
                    outcomes.append(ReminderOutcome(reminder, NO_ONE, detail))
                    continue
                if settings is None or not API_KEY.fullmatch(settings.api_key):
                    outcomes.append(ReminderOutcome(reminder, NOT_CONFIGURED, "GOV.UK Notify is not configured"))
                    continue
                if key_refused:
                    detail = "Not tried: Notify refused the API key for an earlier reminder"
                    _append(home, reminder, NOT_SENT, detail)
                    outcomes.append(ReminderOutcome(reminder, NOT_SENT, detail))
                    continue
                if client is None:
                    client = (client_factory or make_client)(settings)
                outcome, key_refused = _attempt(home, client, settings, reminder, maybe_sent=state is not None)
                outcomes.append(outcome)
    return outcomes


def _attempt(home: Path, client, settings: ReminderSettings, reminder: Reminder,
             maybe_sent: bool) -> tuple[ReminderOutcome, bool]:
    """One try at one reminder: (outcome, whether Notify refused the key)."""
    try:
        if maybe_sent:  # claimed (or tried) before and not recorded as sent: Notify may hold it already
            earlier = already_accepted(client, reminder.reference)
            if earlier is not None:
                return _record_sent(home, reminder, earlier, "Notify had already accepted it on an earlier attempt")
    except Exception as error:
        return _not_sent(home, settings, reminder, error)
    try:
        _append(home, reminder, CLAIMED, "About to ask Notify to send it")
    except OSError as error:  # not claimed, so not sent: the next evaluation tries again
        detail = f"Could not write the reminders ledger ({type(error).__name__}); not sent"
        log.error("%s reminder for %s %s: %s", reminder.kind, reminder.organisation_code,
                  reminder.reporting_quarter, detail)
        return ReminderOutcome(reminder, NOT_SENT, detail), False
    template = settings.reminder_template_id if reminder.kind == APPROACHING else settings.overdue_template_id
    try:
        answer = client.send_email_notification(email_address=reminder.email, template_id=template,
                                                personalisation=personalisation(reminder, settings),
                                                reference=reminder.reference)
        notification_id = str((answer or {}).get("id") or "unknown")
    except InvalidResponse as error:
        status = getattr(error.response, "status_code", 0) or 0
        if not 200 <= status < 300:
            return _not_sent(home, settings, reminder, error)
        notification_id = "unknown"  # accepted, but the answer was not JSON: sending again would send twice
    except Exception as error:
        return _not_sent(home, settings, reminder, error)
    return _record_sent(home, reminder, notification_id, "Notify accepted it")


def _not_sent(home: Path, settings: ReminderSettings, reminder: Reminder,
              error: Exception) -> tuple[ReminderOutcome, bool]:
    failure = classify(error, settings)
    detail = f"{failure.detail}; will try again on the next evaluation"
    try:
        _append(home, reminder, NOT_SENT, detail)
    except OSError:
        pass  # the claim stands: the next evaluation asks Notify first
    log.warning("%s reminder for %s %s to %s not sent: %s", reminder.kind, reminder.organisation_code,
                reminder.reporting_quarter, reminder.email, detail)
    return ReminderOutcome(reminder, NOT_SENT, detail), failure.key_refused


def _record_sent(home: Path, reminder: Reminder, notification_id: str,
                 detail: str) -> tuple[ReminderOutcome, bool]:
    try:
        _append(home, reminder, SENT, detail, notification_id=notification_id)
    except OSError:
        log.error("%s reminder for %s %s was sent but could not be recorded; the next evaluation asks Notify",
                  reminder.kind, reminder.organisation_code, reminder.reporting_quarter)
    log.info("%s reminder for %s %s sent to %s", reminder.kind, reminder.organisation_code,
             reminder.reporting_quarter, reminder.email)
    return ReminderOutcome(reminder, SENT, detail), False

