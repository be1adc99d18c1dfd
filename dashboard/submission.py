"""Sending a return from the web: every decision of the upload journey, apart from its screens.

The organisation recorded is always one the signed-in person may submit for, decided again from their identity
at each step (never from the page's state, the URL or the file); the file is checked by the same contract and
rules as ``tracker validate`` (the light evaluator: no Great Expectations); confirming hands the bytes and who
sent them to the inbox through ``tracker.return_inbox.deliver``, the module ``tracker submit`` uses, and never
writes the warehouse. Repeated failed attempts by one person are slowed down.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from checks.return_contract import MAX_FILE_BYTES
from checks.return_validation import REJECTED, Problem, ValidationReport, validate_return
from tracker.access import Viewer
from tracker.return_inbox import InboxFile, deliver, printable

log = logging.getLogger(__name__)
CHANNEL = "upload page"
ACCEPTED_TYPES = ("csv", "xlsx")
FAILED_ATTEMPTS_LIMIT = 10  # failed checks or refused requests per person...
FAILED_ATTEMPTS_WINDOW = dt.timedelta(minutes=15)  # ...within this long, before they must wait
MAX_REASON_CHARACTERS = 500


class NotAllowed(Exception):
    """The signed-in person may not do this; the message says so plainly (and names no one else's data)."""


class SlowDown(NotAllowed):
    """Too many failed attempts in a short time."""


@dataclass
class Attempts:
    """Failed attempts per person, in this server process (each dashboard replica keeps its own)."""

    limit: int = FAILED_ATTEMPTS_LIMIT
    window: dt.timedelta = FAILED_ATTEMPTS_WINDOW
    _failures: dict[str, deque] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, identity: str, now: float | None = None) -> None:
        """Raise SlowDown when this person has failed too often lately."""
        now = time.monotonic() if now is None else now
        with self._lock:
            recent = self._recent(identity, now)
            if len(recent) >= self.limit:
                wait = int((recent[0] + self.window.total_seconds() - now) // 60) + 1
                raise SlowDown(f"There have been {len(recent)} attempts that did not succeed in the last "
                               f"{int(self.window.total_seconds() // 60)} minutes. Wait {wait} "
                               f"{'minute' if wait == 1 else 'minutes'}, then try again. If you are stuck, "
                               "contact CDDO.")

    def failed(self, identity: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._recent(identity, now).append(now)

    def _recent(self, identity: str, now: float) -> deque:
        recent = self._failures.setdefault(identity, deque())
        while recent and recent[0] <= now - self.window.total_seconds():
            recent.popleft()
        return recent


ATTEMPTS = Attempts()


@dataclass(frozen=True)
class Checked:
    """An uploaded file checked for one organisation and quarter; ``problems`` empty means it may be sent."""

    organisation_code: str
    quarter: str
    file_name: str  # as sent, printable
    content: bytes = field(repr=False)
    report: ValidationReport | None
    problems: tuple[Problem, ...]
    warnings: tuple[Problem, ...] = ()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def figures(self) -> dict[str, object]:
        """The return's row as it will be recorded (typed), when it passed."""
        if self.problems or self.report is None or self.report.returns is None or self.report.returns.empty:
            return {}
        return self.report.returns.iloc[0].to_dict()


def authorise(viewer: Viewer, organisation_code: str) -> None:
    """Raise NotAllowed unless this person may submit for this organisation (and is not slowed down)."""
    ATTEMPTS.check(viewer.identity)
    if not viewer.may_submit:
        raise NotAllowed("Your role lets you read the tracker but not send returns. Department submitters send "
                         "their own organisation's returns.")
    if not viewer.may_submit_for(organisation_code):
        ATTEMPTS.failed(viewer.identity)
        log.warning("Refused: %s asked to submit for %s, which the access file does not allow.",
                    printable(viewer.identity, 80), printable(organisation_code, 20))
        raise NotAllowed("You can only send returns for your own organisation. If you need to send one for "
                         "another organisation, ask CDDO to add it to your access.")


def check_upload(viewer: Viewer, organisation_code: str, quarter: str, file_name: str, content: bytes,
                 organisations: Mapping[str, str], as_of: dt.date) -> Checked:
    """Check an uploaded file as ``tracker validate`` does, for the organisation and quarter chosen: the file must
    say the same organisation (the one the sign-in allows) and the same quarter."""
    authorise(viewer, organisation_code)
    shown = printable(file_name or "return")
    extension = shown.rsplit(".", 1)[-1].lower() if "." in shown else ""
    problems: list[Problem] = []
    report = None
    if extension not in ACCEPTED_TYPES:
        problems.append(Problem("file_type", f"The selected file must be a CSV or an Excel workbook (.xlsx); "
                                             f"'{shown}' is not. Save the return as CSV UTF-8 or .xlsx.", file=shown))
    elif len(content) > MAX_FILE_BYTES:
        problems.append(Problem("file_size", f"The selected file must be smaller than "
                                             f"{MAX_FILE_BYTES // 1_048_576} MB; '{shown}' is "
                                             f"{len(content) / 1_048_576:.1f} MB. A return is one row of figures: "
                                             "start again from the template.", file=shown))
    elif not content:
        problems.append(Problem("file_empty", f"The selected file '{shown}' is empty. Fill in the template and "
                                              "upload it again.", file=shown))
    else:
        report = validate_return(content, shown, organisations, as_of, submitter=organisation_code)
        problems = list(report.problems)
        if report.status != REJECTED and report.key[1] != quarter:
            problems.append(Problem(
                "quarter_matches", f"The return is for {report.key[1]}, but you chose {quarter}. Change the "
                                   "reporting quarter in the file, or go back and choose the quarter it is for.",
                row=2, column="reporting_quarter", value=str(report.key[1]), file=shown))
    if problems:
        ATTEMPTS.failed(viewer.identity)
    return Checked(organisation_code, quarter, shown, content, report, tuple(problems),
                   tuple(report.warnings) if report else ())


def send(viewer: Viewer, checked: Checked, home: Path, reason: str = "",
         now: dt.datetime | None = None) -> InboxFile:
    """Hand a checked return to the inbox, recording who sent it; the organisation is authorised again here."""
    authorise(viewer, checked.organisation_code)
    if checked.problems:
        raise NotAllowed("This file has problems: fix them and upload it again before sending.")
    reason = reason.strip()
    if viewer.on_behalf and not reason:
        raise NotAllowed("Say why you are sending this return on the department's behalf (for example, who asked "
                         "and when).")
    if len(reason) > MAX_REASON_CHARACTERS:
        raise NotAllowed(f"Keep the reason to {MAX_REASON_CHARACTERS} characters.")
    stored = deliver(home, checked.content, checked.file_name, checked.organisation_code, CHANNEL, now=now,
                     sender=viewer.identity, on_behalf_reason=reason or None, reporting_quarter=checked.quarter)
    log.info("Return %s received on the upload page for %s.", stored.reference, checked.organisation_code)
    return stored
