"""Alerts: a failed run or a freshness breach, written down and, when configured, posted to a webhook.

Every alert is one JSON line appended to ``TRACKER_HOME/alerts/alerts.jsonl`` (flushed to
disk), with what happened to its webhook post in the same line: ``posted``, ``HTTP <status>``,
``failed: <error type>`` or ``no webhook``. A webhook that is down or refuses never raises:
the alert is recorded either way.

The webhook's address comes from ``TRACKER_ALERT_WEBHOOK`` or the secrets file's
``[alerts] webhook_url``. Its query string may hold a token, so the line keeps only
``scheme://host/path``, and no error text (which may quote the address) is kept.

A freshness breach is alerted once: ``alert_breaches`` keeps the breaches already alerted
(``alerts/open_breaches.json``, keyed by source and the data date it was stale at) and
alerts a key again only after it has recovered (left the list of breaches) and come back.

No Dagster here: the sensors in pipelines/alerting.py call it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tracker.durable import sync_folder, write_atomically
from tracker.settings import alerts_dir, secrets_file

log = logging.getLogger(__name__)

ALERTS_FILE = "alerts.jsonl"
OPEN_BREACHES_FILE = "open_breaches.json"
WEBHOOK_ENV = "TRACKER_ALERT_WEBHOOK"
TRACKER_NAME = "Cross-government platform adoption tracker"
TIMEOUT_SECONDS = 5
ATTEMPTS = 2  # one retry


@dataclass(frozen=True)
class Alert:
    at: str  # ISO timestamp, UTC
    kind: str  # "run failure", "source stale", "snapshot stale"
    subject: str  # the job, the source or the snapshot
    message: str
    key: str | None = None  # what makes two alerts the same breach
    webhook: str | None = None  # scheme://host/path only
    webhook_outcome: str = "no webhook"


def alerts_file(home: Path) -> Path:
    return alerts_dir(home) / ALERTS_FILE


def safe_address(url: str) -> str:
    """The address without user, password, query or fragment: what may be written down or shown."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def configured_webhook(environ: Mapping[str, str] | None = None, secrets_path: Path | None = None) -> str | None:
    """The webhook address: TRACKER_ALERT_WEBHOOK, else the secrets file's [alerts] webhook_url, else None."""
    environ = os.environ if environ is None else environ
    named = (environ.get(WEBHOOK_ENV) or "").strip()
    if named:
        return named
    from tracker.notify_client import read_secrets_file

    secrets = read_secrets_file(secrets_path or secrets_file(), "alerts' webhook posts")
    section = secrets.get("alerts") if isinstance(secrets, Mapping) else None
    url = section.get("webhook_url") if isinstance(section, Mapping) else None
    return url.strip() if isinstance(url, str) and url.strip() else None


def _post(url: str, body: dict) -> str:
    """Post the body; the outcome in words. Never raises, never returns the address or an error's text."""
    outcome = "failed"
    for _ in range(ATTEMPTS):
        try:
            response = httpx.post(url, json=body, timeout=TIMEOUT_SECONDS)
        except Exception as error:  # noqa: BLE001 - a webhook must never stop an alert being recorded
            outcome = f"failed: {type(error).__name__}"
            continue
        if response.is_success:
            return "posted"
        outcome = f"HTTP {response.status_code}"
        if response.status_code < 500:  # the receiver refused it: asking again will not help
            break
    return outcome


def _append(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        sync_folder(path.parent)


def record_alert(home: Path, kind: str, subject: str, message: str, *, at: datetime | None = None,
                 webhook_url: str | None = None, key: str | None = None) -> Alert:
    """Post the alert when a webhook is given, then append it, with the post's outcome, to alerts.jsonl."""
    moment = (at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    webhook, outcome = None, "no webhook"
    if webhook_url:
        webhook = safe_address(webhook_url)
        outcome = _post(webhook_url, {"kind": kind, "subject": subject, "message": message, "at": moment,
                                      "tracker": TRACKER_NAME})
        if outcome != "posted":
            log.warning("Alert webhook %s: %s", webhook, outcome)
    alert = Alert(at=moment, kind=kind, subject=subject, message=message, key=key, webhook=webhook,
                  webhook_outcome=outcome)
    _append(alerts_file(Path(home)), json.dumps(asdict(alert), ensure_ascii=False) + "\n")
    return alert


def read_alerts(home: Path, latest: int | None = None) -> list[dict]:
    """The alerts recorded, oldest first (the last ``latest`` when given); a torn last line is skipped."""
    path = alerts_file(Path(home))
    if not path.exists():
        return []
    alerts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            alerts.append(json.loads(line))
        except ValueError:
            continue
    return alerts[-latest:] if latest else alerts


@dataclass(frozen=True)
class Breach:
    key: str  # e.g. "source:pay:2025-12-16"
    kind: str
    subject: str
    message: str


def _open_breaches(home: Path) -> dict[str, str]:
    path = alerts_dir(home) / OPEN_BREACHES_FILE
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (FileNotFoundError, ValueError, TypeError):
        return {}


def alert_breaches(home: Path, breaches: list[Breach], *, webhook_url: str | None = None,
                   at: datetime | None = None) -> list[Alert]:
    """Alert each breach not already alerted; forget those that recovered, so they alert again if they return."""
    home = Path(home)
    already = _open_breaches(home)
    alerts = [record_alert(home, b.kind, b.subject, b.message, at=at, webhook_url=webhook_url, key=b.key)
              for b in breaches if b.key not in already]
    now = {b.key: already.get(b.key) or next(a.at for a in alerts if a.key == b.key) for b in breaches}
    if now != already:
        alerts_dir(home).mkdir(parents=True, exist_ok=True)
        write_atomically(alerts_dir(home) / OPEN_BREACHES_FILE,
                         json.dumps(now, indent=2, sort_keys=True).encode("utf-8"))
    return alerts
