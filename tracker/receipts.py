"""Email receipts for submitted returns, sent through GOV.UK Notify from an outbox.

A receipt is written to the outbox before anything talks to Notify, so a Notify outage (or a bad
key) never loses or blocks a submission: sending is a separate step, retried with back-off, and
every attempt is recorded. Nothing written or logged here may carry the API key or a token.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from notifications_python_client.errors import InvalidResponse

from tracker.durable import sync_folder
from tracker.notify_client import (
    API_KEY,
    NOTIFY_URL,
    already_accepted,
    classify,
    client_logs_scrubbed,
    key_and_url,
    make_client,
    notify_section,
    read_secrets_file,
    scrub,
    template_id,
)
from tracker.settings import receipts_dir

log = logging.getLogger(__name__)

REFERENCE = re.compile(r"^R-[0-9A-F]{10}$")

BACK_OFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2), timedelta(hours=6))
MAX_ATTEMPTS = 8
STALE_CLAIM = timedelta(minutes=10)
UK = ZoneInfo("Europe/London")
NEXT_STEPS = (
    "The tracker checks your return against the return contract, usually within a few minutes, "
    "and the 'Your returns' page shows whether it was accepted."
)

SENT, WILL_RETRY, FAILED, NOT_CONFIGURED = "sent", "will retry", "failed", "not configured"


@dataclass(frozen=True)
class NotifySettings:
    api_key: str = field(repr=False)
    template_id: str
    base_url: str = NOTIFY_URL
    timeout_seconds: float = 5.0


@dataclass(frozen=True)
class ReceiptOutcome:
    reference: str
    outcome: str  # "sent", "will retry", "failed" or "not configured"
    detail: str


# --- settings -------------------------------------------------------------------------------------


def notify_settings(secrets: Mapping) -> NotifySettings | None:
    """The [notify] section of a secrets mapping, or None when Notify is not (properly) configured."""
    section = notify_section(secrets)
    if section is None:
        return None
    connection = key_and_url(section, "receipts")
    template = template_id(section, "template_id", "receipts")
    if connection is None or template is None:
        return None
    api_key, base_url = connection
    return NotifySettings(api_key=api_key, template_id=template, base_url=base_url)


def notify_settings_from_file(path: Path) -> NotifySettings | None:
    """Notify settings from a TOML secrets file; None (never an error) when it is missing or unreadable."""
    secrets = read_secrets_file(path, "receipts")
    return None if secrets is None else notify_settings(secrets)


# --- the outbox -------------------------------------------------------------------------------------


def _folder(home: Path, name: str) -> Path:
    return receipts_dir(home) / name


def _utc_naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _check_reference(reference: object) -> str:
    if not isinstance(reference, str) or not REFERENCE.fullmatch(reference):
        raise ValueError("A receipt reference is R- and 10 capital hexadecimal digits")
    return reference


def _write_temporary(folder: Path, record: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(record, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with suppress(OSError):
            os.unlink(name)
        raise
    return Path(name)


def _write_atomic(path: Path, record: dict) -> None:
    """Write a whole record or nothing: a hidden temporary file in the same folder, fsync, os.replace."""
    temporary = _write_temporary(path.parent, record)
    try:
        os.replace(temporary, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(temporary)
        raise
    sync_folder(path.parent)


def _existing(home: Path, reference: str) -> Path | None:
    for name in ("pending", "sending", "sent", "failed"):
        path = _folder(home, name) / f"{reference}.json"
        if path.exists():
            return path
    return None


def queue_receipt(
    home: Path,
    *,
    reference: str,
    email: str,
    organisation_name: str,
    organisation_code: str,
    reporting_quarter: str,
    received_at: datetime,
    sender: str,
) -> Path:
    """Put a receipt in the outbox (pending/); queueing the same reference again keeps the first record."""
    _check_reference(reference)
    existing = _existing(home, reference)
    if existing is not None:
        return existing
    now = _utcnow()
    record = {
        "reference": reference,
        "email": email,
        "organisation_name": organisation_name,
        "organisation_code": organisation_code,
        "reporting_quarter": reporting_quarter,
        "received_at": _iso(_utc_naive(received_at)),
        "sender": sender,
        "attempts": 0,
        "next_attempt_at": _iso(now),
        "history": [{"at": _iso(now), "outcome": "queued", "detail": "Receipt queued for sending"}],
    }
    path = _folder(home, "pending") / f"{reference}.json"
    temporary = _write_temporary(path.parent, record)
    try:
        # A hard link never replaces: of two processes queueing one reference, the first record wins.
        os.link(temporary, path)
    except FileExistsError:
        pass
    except OSError:  # a file system without hard links
        if not path.exists():
            os.replace(temporary, path)
    finally:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
    sync_folder(path.parent)
    return path


def receipt_status(home: Path, reference: str) -> str | None:
    """'sent', 'pending' (including one being sent right now), 'failed', or None for no such receipt."""
    try:
        _check_reference(reference)
    except ValueError:
        return None
    for name, status in (("sent", "sent"), ("failed", "failed"), ("pending", "pending"), ("sending", "pending")):
        if (_folder(home, name) / f"{reference}.json").exists():
            return status
    return None


# --- sending ----------------------------------------------------------------------------------------


def uk_time(moment: datetime) -> str:
    """A UTC moment as UK people read it: '3 December 2026 at 9:15am'."""
    local = _utc_naive(moment).replace(tzinfo=UTC).astimezone(UK)
    hour = local.hour % 12 or 12
    return f"{local.day} {local:%B %Y} at {hour}:{local:%M}{'am' if local.hour < 12 else 'pm'}"


def personalisation(record: Mapping) -> dict[str, str]:
    return {
        "reference": record["reference"],
        "organisation": f"{record['organisation_name']} ({record['organisation_code']})",
        "quarter": record["reporting_quarter"],
        "received": uk_time(datetime.fromisoformat(record["received_at"])),
        "next_steps": NEXT_STEPS,
    }


def back_off(attempts: int) -> timedelta:
    """How long to wait after the given number of failed attempts: 1 min, 5 min, 30 min, 2 h, then 6 h."""
    return BACK_OFF[min(max(attempts, 1), len(BACK_OFF)) - 1]


def _send(client, settings: NotifySettings, record: Mapping) -> tuple[str, str]:
    """Send one receipt; (notification id, detail). Raises what the client raises."""
    if record.get("attempts", 0) > 0 or record.get("interrupted"):
        # An earlier attempt may have reached Notify even though we saw a failure: never send twice.
        earlier = already_accepted(client, record["reference"])
        if earlier is not None:
            return earlier, "Notify had already accepted it on an earlier attempt"
    try:
        answer = client.send_email_notification(
            email_address=record["email"],
            template_id=settings.template_id,
            personalisation=personalisation(record),
            reference=record["reference"],
        )
    except InvalidResponse as error:
        status = getattr(error.response, "status_code", 0) or 0
        if 200 <= status < 300:  # accepted, but the answer was not JSON: sending again would send twice
            return "unknown", "Notify accepted it (its answer could not be read)"
        raise
    notification_id = str((answer or {}).get("id") or "unknown")
    return notification_id, "Notify accepted it"


def _claim_age(path: Path) -> timedelta:
    return timedelta(seconds=time.time() - path.stat().st_mtime)


def _recover_stale_claims(home: Path) -> None:
    """A claim older than 10 minutes belongs to a sender that crashed: put it back in pending/."""
    sending = _folder(home, "sending")
    if not sending.is_dir():
        return
    _folder(home, "pending").mkdir(parents=True, exist_ok=True)
    for path in sorted(sending.glob("R-*.json")):
        try:
            _recover(home, path)
        except OSError as error:
            log.error("Receipt %s: a stale claim could not be put back (%s)", path.stem, type(error).__name__)


def _recover(home: Path, path: Path) -> None:
    try:
        if _claim_age(path) < STALE_CLAIM:
            return
        # Take it over under a name of our own first, so two recoveries (or the original sender
        # finishing late) cannot both act on it.
        mine = path.parent / f".recovering-{path.stem}-{uuid.uuid4().hex}"
        os.rename(path, mine)
    except FileNotFoundError:
        return  # finished or recovered by someone else meanwhile
    with suppress(OSError, ValueError):
        record = _read(mine, path.stem)
        # It may have reached Notify before the crash: the next attempt asks Notify first.
        record["interrupted"] = True
        _write_atomic(mine, record)
    os.rename(mine, _folder(home, "pending") / path.name)
    log.warning("Receipt %s was claimed by a sender that stopped; it is pending again", path.stem)


def _read(path: Path, reference: str | None = None) -> dict:
    record = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    for key in ("reference", "email", "organisation_name", "organisation_code", "reporting_quarter", "received_at"):
        if not isinstance(record.get(key), str):
            raise ValueError(f"no {key}")
    if record["reference"] != (reference or path.stem):
        raise ValueError("the reference inside does not match the file name")
    datetime.fromisoformat(record["received_at"])
    datetime.fromisoformat(record.get("next_attempt_at") or record["received_at"])
    if not isinstance(record.get("attempts", 0), int) or not isinstance(record.get("history", []), list):
        raise ValueError("bad attempts or history")
    return record


def _due(home: Path, now: datetime) -> list[tuple[datetime, str, Path]]:
    """Pending receipts due now, oldest first; an unreadable one is due at once (so it reaches failed/)."""
    due = []
    for path in _folder(home, "pending").glob("*.json"):
        if not REFERENCE.fullmatch(path.stem):
            continue  # hidden temporary files and strays are not receipts
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            received = datetime.fromisoformat(record["received_at"])
            next_attempt = datetime.fromisoformat(record.get("next_attempt_at") or record["received_at"])
        except FileNotFoundError:
            continue
        except Exception:
            due.append((datetime.min, path.stem, path))
            continue
        if next_attempt <= now:
            due.append((received, path.stem, path))
    return sorted(due)


def _claim(home: Path, path: Path) -> Path | None:
    """Claim a pending receipt by an atomic rename into sending/; None when another sender got it first."""
    claimed = _folder(home, "sending") / path.name
    claimed.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.utime(path)  # the claim's age counts from now, not from when the receipt was queued
        os.rename(path, claimed)
    except FileNotFoundError:
        return None
    return claimed


def _finish(home: Path, claimed: Path, folder: str, record: dict) -> None:
    """Write the record into its final folder, then let go of the claim."""
    _write_atomic(_folder(home, folder) / claimed.name, record)
    with suppress(FileNotFoundError):
        os.unlink(claimed)


def _fail_unreadable(home: Path, claimed: Path, reason: str) -> ReceiptOutcome:
    try:
        raw = claimed.read_bytes()[:10_000].decode("utf-8", errors="replace")
    except OSError:
        raw = ""
    detail = f"The receipt record could not be read ({reason}); it was not sent"
    _finish(
        home,
        claimed,
        "failed",
        {"reference": claimed.stem, "failure": detail, "failed_at": _iso(_utcnow()), "unreadable_content": raw},
    )
    log.error("Receipt %s: %s", claimed.stem, detail)
    return ReceiptOutcome(claimed.stem, FAILED, detail)


def send_pending(
    home: Path,
    settings: NotifySettings | None,
    *,
    now: datetime | None = None,
    client_factory: Callable[[NotifySettings], object] | None = None,
) -> list[ReceiptOutcome]:
    """Try every pending receipt that is due, oldest first; never raises for one bad receipt."""
    now = _utc_naive(now) if now is not None else _utcnow()
    _recover_stale_claims(home)
    due = _due(home, now)
    if settings is None:
        return [ReceiptOutcome(reference, NOT_CONFIGURED, "GOV.UK Notify is not configured") for _, reference, _ in due]
    if not API_KEY.fullmatch(settings.api_key):
        detail = "The Notify API key is not in the form key_name-service_id-secret"
        return [ReceiptOutcome(reference, NOT_CONFIGURED, detail) for _, reference, _ in due]

    outcomes: list[ReceiptOutcome] = []
    client = _LazyClient(settings, client_factory or make_client)
    key_refused = False
    with client_logs_scrubbed(settings):
        for _, reference, path in due:
            if key_refused:  # every later receipt would fail the same way: keep them for a fixed key
                detail = "Not tried: Notify refused the API key for an earlier receipt"
                outcomes.append(ReceiptOutcome(reference, WILL_RETRY, detail))
                continue
            try:
                claimed = _claim(home, path)
                if claimed is None:
                    continue  # another sender has it
                outcome, key_refused = _attempt(home, claimed, settings, now, client)
            except Exception as error:  # the outbox itself failed (disk full...): a stale claim is recovered later
                detail = f"Could not update the receipt outbox ({type(error).__name__})"
                log.error("Receipt %s: %s", reference, detail)
                outcome = ReceiptOutcome(reference, WILL_RETRY, detail)
            outcomes.append(outcome)
    return outcomes


class _LazyClient:
    """The Notify client, made on first use (so a run with nothing due makes none)."""

    def __init__(self, settings: NotifySettings, factory: Callable[[NotifySettings], object]) -> None:
        self.settings, self.factory, self.client = settings, factory, None

    def __call__(self):
        if self.client is None:
            self.client = self.factory(self.settings)
        return self.client


def _attempt(
    home: Path, claimed: Path, settings: NotifySettings, now: datetime, client: _LazyClient
) -> tuple[ReceiptOutcome, bool]:
    """One attempt at one claimed receipt; (outcome, whether Notify refused the key)."""
    try:
        record = _read(claimed)
    except FileNotFoundError:
        raise
    except Exception as error:
        return _fail_unreadable(home, claimed, scrub(error, settings, limit=120)), False

    attempts = int(record.get("attempts", 0)) + 1
    at = _iso(now)
    try:
        notification_id, detail = _send(client(), settings, record)
    except Exception as error:
        failure = classify(error, settings)
    else:
        record.update(
            attempts=attempts,
            notification_id=notification_id,
            sent_at=at,
            history=[*record["history"], {"at": at, "outcome": SENT, "detail": detail}],
        )
        record.pop("interrupted", None)
        _finish(home, claimed, "sent", record)
        log.info("Receipt %s sent (attempt %d)", record["reference"], attempts)
        return ReceiptOutcome(record["reference"], SENT, detail), False

    record["attempts"] = attempts
    if failure.retry and attempts < MAX_ATTEMPTS:
        wait = back_off(attempts)
        record["next_attempt_at"] = _iso(now + wait)
        record["history"] = [*record["history"], {"at": at, "outcome": WILL_RETRY, "detail": failure.detail}]
        detail = f"{failure.detail}; will try again after {_wait_words(wait)}"
        # Back to pending/ by writing it there: the claim in sending/ goes last, so a crash keeps one copy.
        _finish(home, claimed, "pending", record)
        log.warning("Receipt %s not sent (attempt %d): %s", record["reference"], attempts, detail)
        return ReceiptOutcome(record["reference"], WILL_RETRY, detail), False

    reason = failure.detail if not failure.retry else f"{failure.detail}; gave up after {attempts} attempts"
    record.update(failure=reason, failed_at=at)
    record["history"] = [*record["history"], {"at": at, "outcome": FAILED, "detail": reason}]
    _finish(home, claimed, "failed", record)
    log.error("Receipt %s failed: %s", record["reference"], reason)
    return ReceiptOutcome(record["reference"], FAILED, reason), failure.key_refused


def _wait_words(wait: timedelta) -> str:
    minutes = int(wait.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = minutes // 60
    return f"{hours} hour{'s' if hours != 1 else ''}"
