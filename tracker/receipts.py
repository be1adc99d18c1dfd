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
import tomllib
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from notifications_python_client.errors import HTTPError, InvalidResponse, TokenError
from notifications_python_client.notifications import NotificationsAPIClient

from tracker.settings import receipts_dir

log = logging.getLogger(__name__)

NOTIFY_URL = "https://api.notifications.service.gov.uk"
REFERENCE = re.compile(r"^R-[0-9A-F]{10}$")
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
API_KEY = re.compile(rf"^(?P<name>.+)-(?P<service>{_UUID})-(?P<secret>{_UUID})$")
TEMPLATE_ID = re.compile(rf"^{_UUID}$")
_TOKENISH = re.compile(r"(?i)bearer\s+\S+|eyJ[\w-]+\.[\w-]+\.[\w-]*")

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


def _base_url_is_safe(url: str) -> bool:
    """HTTPS, or plain HTTP only to this machine (a local stub): the token must not cross a network in clear."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    return parts.scheme == "http" and parts.hostname in {"127.0.0.1", "localhost", "::1"}


def notify_settings(secrets: Mapping) -> NotifySettings | None:
    """The [notify] section of a secrets mapping, or None when Notify is not (properly) configured."""
    try:
        section = secrets.get("notify")
    except Exception:  # st.secrets and friends may raise on a missing file
        return None
    if not isinstance(section, Mapping):
        return None
    api_key, template_id = section.get("api_key"), section.get("template_id")
    base_url = section.get("base_url") or NOTIFY_URL
    if not (isinstance(api_key, str) and isinstance(template_id, str) and isinstance(base_url, str)):
        return None
    api_key, template_id, base_url = api_key.strip(), template_id.strip(), base_url.strip()
    if not API_KEY.fullmatch(api_key):
        log.warning("The Notify api_key in [notify] is not in the form key_name-service_id-secret; receipts wait")
        return None
    if not TEMPLATE_ID.fullmatch(template_id):
        log.warning("The Notify template_id in [notify] is not a template id; receipts wait")
        return None
    if not _base_url_is_safe(base_url):
        log.warning("The Notify base_url in [notify] must use https; receipts wait")
        return None
    return NotifySettings(api_key=api_key, template_id=template_id, base_url=base_url)


def notify_settings_from_file(path: Path) -> NotifySettings | None:
    """Notify settings from a TOML secrets file; None (never an error) when it is missing or unreadable."""
    try:
        secrets = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        # The error's type only: a TOML error can quote the file, and the file holds secrets.
        log.warning("The secrets file could not be read (%s); receipts wait", type(error).__name__)
        return None
    return notify_settings(secrets)


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


def _fsync_folder(folder: Path) -> None:
    with suppress(OSError):  # not every platform can open a folder
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


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
    _fsync_folder(path.parent)


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
    _fsync_folder(path.parent)
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


# --- keeping secrets out ----------------------------------------------------------------------------


def _secrets_of(settings: NotifySettings) -> list[str]:
    found = [settings.api_key]
    match = API_KEY.fullmatch(settings.api_key)
    if match:
        found += [match["secret"], match["service"]]
    return [secret for secret in found if secret]


def _scrub(text: object, settings: NotifySettings | None, limit: int = 300) -> str:
    """Text safe to record: no key, secret, service id or anything like a bearer token; short."""
    text = str(text)
    if settings is not None:
        for secret in sorted(_secrets_of(settings), key=len, reverse=True):
            text = re.sub(re.escape(secret), "[hidden]", text, flags=re.IGNORECASE)
    text = _TOKENISH.sub("[hidden]", text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _ScrubFilter(logging.Filter):
    """Scrubs what the Notify client logs itself (its warnings quote Notify's response body)."""

    def __init__(self, settings: NotifySettings) -> None:
        super().__init__()
        self.settings = settings

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _scrub(record.getMessage(), self.settings, limit=2000)
        record.args = None
        return True


@contextmanager
def _client_logs_scrubbed(settings: NotifySettings) -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in ("notifications_python_client.base", "notifications_python_client")]
    scrubber = _ScrubFilter(settings)
    for each in loggers:
        each.addFilter(scrubber)
    try:
        yield
    finally:
        for each in loggers:
            each.removeFilter(scrubber)


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


class _Failure(Exception):
    def __init__(self, detail: str, retry: bool, key_refused: bool = False) -> None:
        super().__init__(detail)
        self.detail, self.retry, self.key_refused = detail, retry, key_refused


def _classify(error: Exception, settings: NotifySettings) -> _Failure:
    """Whether retrying can fix a failure, with a plain (scrubbed) reason."""
    if isinstance(error, HTTPError) and error.response is None:
        cause_names = {kind.__name__ for kind in type(error.__cause__).__mro__}
        if "Timeout" in cause_names:
            return _Failure(f"Notify did not answer within {settings.timeout_seconds:g} seconds", retry=True)
        return _Failure("Could not connect to Notify", retry=True)
    if isinstance(error, HTTPError):
        status, message = error.status_code, _notify_message(error.message)
        said = _scrub(f"{status}: {message}", settings)
        if status == 429:
            return _Failure(f"Notify asked us to slow down ({said})", retry=True)
        if status >= 500:
            return _Failure(f"Notify had a problem ({said})", retry=True)
        if status == 403:
            return _Failure(f"Notify refused the API key ({said})", retry=False, key_refused=True)
        if status == 400:
            return _Failure(f"Notify refused the email ({said})", retry=False)
        return _Failure(f"Notify refused the request ({said})", retry=False)
    if isinstance(error, TokenError):
        return _Failure("The Notify API key could not make a token", retry=False)
    return _Failure(f"Unexpected error while sending ({type(error).__name__})", retry=True)


def _notify_message(message: object) -> str:
    """Notify's errors list as one line: 'ValidationError: email_address Not a valid email address'."""
    if isinstance(message, list):
        parts = []
        for item in message:
            if isinstance(item, Mapping):
                parts.append(": ".join(str(item[key]) for key in ("error", "message") if key in item))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return str(message)


def _already_accepted(client, record: Mapping) -> str | None:
    """The id of a notification Notify already holds for this reference (an earlier attempt that timed out)."""
    answer = client.get_all_notifications(reference=record["reference"], template_type="email")
    for notification in (answer or {}).get("notifications") or []:
        if notification.get("reference") == record["reference"]:
            return str(notification.get("id") or "unknown")
    return None


def _send(client, settings: NotifySettings, record: Mapping) -> tuple[str, str]:
    """Send one receipt; (notification id, detail). Raises what the client raises."""
    if record.get("attempts", 0) > 0 or record.get("interrupted"):
        # An earlier attempt may have reached Notify even though we saw a failure: never send twice.
        earlier = _already_accepted(client, record)
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


def _default_client(settings: NotifySettings):
    return NotificationsAPIClient(settings.api_key, base_url=settings.base_url, timeout=settings.timeout_seconds)


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
    client = _LazyClient(settings, client_factory or _default_client)
    key_refused = False
    with _client_logs_scrubbed(settings):
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
        return _fail_unreadable(home, claimed, _scrub(error, settings, limit=120)), False

    attempts = int(record.get("attempts", 0)) + 1
    at = _iso(now)
    try:
        notification_id, detail = _send(client(), settings, record)
    except Exception as error:
        failure = _classify(error, settings)
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
