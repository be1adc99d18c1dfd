"""The email receipt for a return sent on the upload page: queued first, then sent in the background through
GOV.UK Notify (tracker/receipts.py), so a slow or failing Notify never holds up or loses the submission. The
returns sensor retries what is still pending."""

from __future__ import annotations

import logging
import threading

import streamlit as st

from tracker import settings
from tracker.access import Viewer
from tracker.receipts import notify_settings, queue_receipt, send_pending
from tracker.return_inbox import InboxFile

log = logging.getLogger(__name__)


def _notify():
    try:
        return notify_settings(st.secrets)
    except Exception:  # noqa: BLE001  no secrets file: Notify not configured
        return None


def send_receipt(viewer: Viewer, stored: InboxFile, organisation: str) -> dict:
    """Queue the receipt for the signed-in person's email address and start sending it; what was done, for the
    confirmation page."""
    if "@" not in viewer.identity:
        return {"email": None}
    home = settings.tracker_home()
    queue_receipt(home, reference=stored.reference, email=viewer.identity, organisation_name=organisation,
                  organisation_code=stored.organisation_code, reporting_quarter=stored.declared_quarter or "",
                  received_at=stored.received_at, sender=viewer.identity)
    notify = _notify()
    if notify is not None:
        threading.Thread(target=_send, args=(home, notify), daemon=True, name="notify-receipts").start()
    return {"email": viewer.identity, "configured": notify is not None}


def _send(home, notify) -> None:
    try:
        send_pending(home, notify)
    except Exception:  # noqa: BLE001  the receipt stays queued; the sensor tries again
        log.exception("Sending receipts failed; they stay queued.")


def receipt_line(receipt: dict | None) -> str:
    from dashboard.components import plain

    if not receipt or not receipt.get("email"):
        return "No email receipt can be sent: your sign-in gives no email address. Keep the reference number."
    if not receipt.get("configured"):
        return (f"An email receipt to {plain(receipt['email'])} is queued: GOV.UK Notify is not configured on this "
                "tracker, so it will be sent once it is. Keep the reference number.")
    return f"We are sending a receipt to {plain(receipt['email'])} through GOV.UK Notify."
