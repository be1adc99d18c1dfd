"""What every email the tracker sends through GOV.UK Notify shares: reading the [notify] secrets, checking the
key and address, keeping the key out of every record and log line, and saying plainly why a send failed.

Used by the receipts (tracker/receipts.py) and the deadline reminders (tracker/reminders.py). No Dagster here.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from notifications_python_client.errors import HTTPError, TokenError
from notifications_python_client.notifications import NotificationsAPIClient

log = logging.getLogger(__name__)

NOTIFY_URL = "https://api.notifications.service.gov.uk"
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
API_KEY = re.compile(rf"^(?P<name>.+)-(?P<service>{_UUID})-(?P<secret>{_UUID})$")
TEMPLATE_ID = re.compile(rf"^{_UUID}$")
_TOKENISH = re.compile(r"(?i)bearer\s+\S+|eyJ[\w-]+\.[\w-]+\.[\w-]*")


class HasKey(Protocol):
    """Any Notify settings: the key (never shown), where Notify is, how long to wait for it."""

    api_key: str
    base_url: str
    timeout_seconds: float


# --- settings -------------------------------------------------------------------------------------


def base_url_is_safe(url: str) -> bool:
    """HTTPS, or plain HTTP only to this machine (a local stub): the token must not cross a network in clear."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    return parts.scheme == "http" and parts.hostname in {"127.0.0.1", "localhost", "::1"}


def read_secrets_file(path: Path, waiting: str) -> Mapping | None:
    """A TOML secrets file; None (never an error) when it is missing or unreadable. ``waiting`` says what waits."""
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        # The error's type only: a TOML error can quote the file, and the file holds secrets.
        log.warning("The secrets file could not be read (%s); %s wait", type(error).__name__, waiting)
        return None


def notify_section(secrets: Mapping) -> Mapping | None:
    """The [notify] section of a secrets mapping, or None."""
    try:
        section = secrets.get("notify")
    except Exception:  # st.secrets and friends may raise on a missing file
        return None
    return section if isinstance(section, Mapping) else None


def key_and_url(section: Mapping, waiting: str) -> tuple[str, str] | None:
    """The [notify] section's api_key and base_url, checked; None (with a warning that names neither) if unusable."""
    api_key, base_url = section.get("api_key"), section.get("base_url") or NOTIFY_URL
    if not (isinstance(api_key, str) and isinstance(base_url, str)):
        return None
    api_key, base_url = api_key.strip(), base_url.strip()
    if not API_KEY.fullmatch(api_key):
        log.warning("The Notify api_key in [notify] is not in the form key_name-service_id-secret; %s wait", waiting)
        return None
    if not base_url_is_safe(base_url):
        log.warning("The Notify base_url in [notify] must use https; %s wait", waiting)
        return None
    return api_key, base_url


def template_id(section: Mapping, name: str, waiting: str) -> str | None:
    """A template id from the [notify] section, checked; None (with a warning) when missing or malformed."""
    value = section.get(name)
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not TEMPLATE_ID.fullmatch(value):
        log.warning("The Notify %s in [notify] is not a template id; %s wait", name, waiting)
        return None
    return value


def make_client(settings: HasKey) -> NotificationsAPIClient:
    return NotificationsAPIClient(settings.api_key, base_url=settings.base_url, timeout=settings.timeout_seconds)


# --- keeping secrets out ----------------------------------------------------------------------------


def secrets_of(settings: HasKey) -> list[str]:
    found = [settings.api_key]
    match = API_KEY.fullmatch(settings.api_key)
    if match:
        found += [match["secret"], match["service"]]
    return [secret for secret in found if secret]


def scrub(text: object, settings: HasKey | None, limit: int = 300) -> str:
    """Text safe to record: no key, secret, service id or anything like a bearer token; short."""
    text = str(text)
    if settings is not None:
        for secret in sorted(secrets_of(settings), key=len, reverse=True):
            text = re.sub(re.escape(secret), "[hidden]", text, flags=re.IGNORECASE)
    text = _TOKENISH.sub("[hidden]", text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _ScrubFilter(logging.Filter):
    """Scrubs what the Notify client logs itself (its warnings quote Notify's response body)."""

    def __init__(self, settings: HasKey) -> None:
        super().__init__()
        self.settings = settings

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage(), self.settings, limit=2000)
        record.args = None
        return True


@contextmanager
def client_logs_scrubbed(settings: HasKey) -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in ("notifications_python_client.base", "notifications_python_client")]
    scrubber = _ScrubFilter(settings)
    for each in loggers:
        each.addFilter(scrubber)
    try:
        yield
    finally:
        for each in loggers:
            each.removeFilter(scrubber)


# --- why a send failed ------------------------------------------------------------------------------


class Failure(Exception):
    def __init__(self, detail: str, retry: bool, key_refused: bool = False) -> None:
        super().__init__(detail)
        self.detail, self.retry, self.key_refused = detail, retry, key_refused


def classify(error: Exception, settings: HasKey) -> Failure:
    """Whether retrying can fix a failure, with a plain (scrubbed) reason."""
    if isinstance(error, HTTPError) and error.response is None:
        cause_names = {kind.__name__ for kind in type(error.__cause__).__mro__}
        if "Timeout" in cause_names:
            return Failure(f"Notify did not answer within {settings.timeout_seconds:g} seconds", retry=True)
        return Failure("Could not connect to Notify", retry=True)
    if isinstance(error, HTTPError):
        status, message = error.status_code, notify_message(error.message)
        said = scrub(f"{status}: {message}", settings)
        if status == 429:
            return Failure(f"Notify asked us to slow down ({said})", retry=True)
        if status >= 500:
            return Failure(f"Notify had a problem ({said})", retry=True)
        if status == 403:
            return Failure(f"Notify refused the API key ({said})", retry=False, key_refused=True)
        if status == 400:
            return Failure(f"Notify refused the email ({said})", retry=False)
        return Failure(f"Notify refused the request ({said})", retry=False)
    if isinstance(error, TokenError):
        return Failure("The Notify API key could not make a token", retry=False)
    return Failure(f"Unexpected error while sending ({type(error).__name__})", retry=True)


def notify_message(message: object) -> str:
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


def already_accepted(client, reference: str) -> str | None:
    """The id of a notification Notify already holds for this reference (an earlier attempt that timed out or a
    sender that stopped before recording it)."""
    answer = client.get_all_notifications(reference=reference, template_type="email")
    for notification in (answer or {}).get("notifications") or []:
        if notification.get("reference") == reference:
            return str(notification.get("id") or "unknown")
    return None
