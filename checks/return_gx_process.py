"""Great Expectations over a run's accepted returns, in a process of its own started before it is needed.

Importing GX (with pandas, scipy and altair under it) takes about two seconds, a tenth of a small update, and a
run only needs it once the returns are read. ``tracker run`` starts this process first thing when the inbox
holds returns (``start_ahead``), so the import happens on the machine's other core while Dagster loads; the
returns asset then hands it the accepted rows and goes on (``validate_accepted_later``), and the blocking contract
check takes what GX found as plain data (``take_pending``, ``CheckedReturns``): GX validates them on that core
while the steps between run. Without a process started ahead (a run from Dagster's UI, a
test), or if it has died, GX runs in the asking process (``validate_accepted``), as before: the result is the
same either way.

The process reads requests from its standard input and answers on its standard output, as pickles between a
parent and the child it started; its first answer, unasked, says it has imported GX (``wait_until_imported``:
what else ``tracker run`` starts ahead starts after that, so two imports never share the spare core with the run).
It ends when its input closes, so a parent killed mid-run leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import os
import pickle
import select
import subprocess
import threading
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from tracker.process_exit import answer_on_stdout, end_child, python_child

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class CheckedReturns:
    """What GX found over a run's accepted returns, as plain data (``return_gx.AcceptedValidation.checked``)."""

    per_return: dict[str, dict]  # submission reference -> what GX said of it (JSON-ready)
    disagreements: list[str]  # submission references where GX and the native evaluator found different failures
    passed: list[str]  # submission references no expectation of critical severity failed for
    error: str | None = None  # GX could not run: why
    evaluated: int = 0  # expectations evaluated
    seconds: float = 0.0
    failed_lines: list[str] = field(default_factory=list)  # one per failed expectation


IMPORTED = "imported"  # the process's first answer, unasked: GX is imported and it is ready for a request
IMPORT_WAIT = 20.0  # seconds waited for that answer before whatever was to start after it starts anyway


class GxProcess:
    """The child process and the two ends of the pipe to it."""

    def __init__(self) -> None:
        self.process = python_child("checks.return_gx_process", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL)
        self._reading = threading.Lock()  # its answers are read by one thread at a time
        self._told_imported = False  # whether its first answer (IMPORTED) has been read

    def wait_imported(self, within: float | None = None) -> None:
        """Until it has said it imported GX, or has ended, or ``within`` seconds have passed."""
        with self._reading:
            if self._told_imported or self.process.stdout.closed:
                return
            if within is not None and not select.select([self.process.stdout], [], [], within)[0]:
                return  # still importing: the request reads the answer itself
            self._told_imported = True
            try:
                said = pickle.load(self.process.stdout)
            except (OSError, EOFError, pickle.PickleError):
                return  # it has gone: a request finds that out for itself
            if said != IMPORTED:  # never: anything else answers no request, so the pipe is out of step (the
                # request then validates in the asking process, as for a process that has gone)
                raise pickle.UnpicklingError(f"Great Expectations' process began with {said!r}, not {IMPORTED!r}")

    def validate_accepted(self, accepted: pd.DataFrame, known_organisations: Collection[str],
                          as_of: dt.date) -> CheckedReturns:
        """Raises OSError, EOFError or pickle's errors if the process has gone."""
        self.send(accepted, known_organisations, as_of)
        return self.answer()

    def send(self, accepted: pd.DataFrame, known_organisations: Collection[str], as_of: dt.date) -> None:
        """The request, answered by ``answer``. It waits only while the process has yet to read it (still importing
        GX, with more than the pipe holds to send): the process reads a request as soon as it is ready."""
        pickle.dump((accepted, frozenset(known_organisations), as_of), self.process.stdin,
                    protocol=pickle.HIGHEST_PROTOCOL)
        self.process.stdin.flush()

    def answer(self) -> CheckedReturns:
        self.wait_imported()
        answer = pickle.load(self.process.stdout)
        if isinstance(answer, BaseException):  # raised in the child outside GX's own error handling
            raise answer
        return answer

    def close(self) -> None:
        """Close its input (it ends) and wait a moment for it; a process that does not end is killed."""
        end_child(self.process, within=5)
        with self._reading:  # not while a thread waits for its first answer (it has its end by now)
            self.process.stdout.close()


@dataclass
class PendingValidation:
    """A run's accepted returns handed to the process started ahead, which validates them while the run goes on;
    the blocking contract check takes its answer (``take_pending``) and records it."""

    process: GxProcess
    accepted: pd.DataFrame
    known_organisations: frozenset[str]
    as_of: dt.date

    def checked(self) -> CheckedReturns:
        """What GX found: the process's answer, or, if it has gone, GX over the same rows here."""
        try:
            return self.process.answer()
        except (OSError, EOFError, pickle.PickleError) as gone:
            _said_gone(gone)
        finally:
            self.process.close()
        from checks.return_gx import validate_accepted as validate_here

        return validate_here(self.accepted, self.known_organisations, self.as_of).checked()


log = logging.getLogger(__name__)
_ahead: GxProcess | None = None
_pending: PendingValidation | None = None


def start_ahead(inbox: Path) -> None:
    """Start the process if ``inbox`` holds anything to read (and none is started yet)."""
    global _ahead
    if _ahead is None and _holds_files(inbox):
        try:
            _ahead = GxProcess()
        except OSError as failed:  # GX then runs in the run's own process, as it always did
            log.warning(f"Great Expectations could not be started ahead of the run: {failed}")


def wait_until_imported(within: float = IMPORT_WAIT) -> None:
    """Until the process started ahead has imported GX (or has ended, or ``within`` seconds have passed); at once
    if none was started."""
    process = _ahead
    if process is not None:
        process.wait_imported(within)


def stop_ahead() -> None:
    """End the process started ahead, and one still validating rows nobody took the answer of (a run that ended
    before its contract check: those returns have no GX result yet, and the next run validates them)."""
    global _ahead, _pending
    for process in (_ahead, _pending.process if _pending is not None else None):
        if process is not None:
            process.close()
    _ahead = _pending = None


def _holds_files(folder: Path) -> bool:
    for _root, _folders, files in os.walk(folder):
        if files:
            return True
    return False


def validate_accepted(accepted: pd.DataFrame, known_organisations: Collection[str], as_of: dt.date
                      ) -> CheckedReturns:
    """GX over the accepted rows (``return_gx.validate_accepted``): in the process started ahead if there is one
    (it is used once, then ended), otherwise here."""
    if validate_accepted_later(accepted, known_organisations, as_of):
        return take_pending().checked()
    from checks.return_gx import validate_accepted as validate_here  # GX (seconds to import): only when needed

    return validate_here(accepted, known_organisations, as_of).checked()


def validate_accepted_later(accepted: pd.DataFrame, known_organisations: Collection[str], as_of: dt.date) -> bool:
    """Hand the accepted rows to the process started ahead and return at once (True): it validates them on the
    machine's other core while the run's next steps go on, and ``take_pending`` gives its answer. False, having
    handed nothing, if no process was started ahead or it has gone: validate them now (``validate_accepted``)."""
    global _ahead, _pending
    if _ahead is None or _pending is not None:
        return False
    process, _ahead = _ahead, None
    try:
        process.send(accepted, known_organisations, as_of)
    except (OSError, pickle.PickleError) as gone:
        _said_gone(gone)
        process.close()
        return False
    _pending = PendingValidation(process, accepted, frozenset(known_organisations), as_of)
    return True


def _said_gone(gone: BaseException) -> None:
    log.warning(f"The Great Expectations process started ahead of the run had ended ({gone!r}): the returns are "
                "validated in the run's own process instead.")


def take_pending() -> PendingValidation | None:
    """The validation ``validate_accepted_later`` handed over in this process, once; None if there is none."""
    global _pending
    pending, _pending = _pending, None
    return pending


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    """Answer each request until the input closes."""
    from checks.return_gx import validate_accepted as validate_here  # the import this process is for

    # GX's modules live as long as the process: no collection need walk them. A national validation (58,000
    # returns) spent 0.65 s of its 5.2 s in full collections over them; frozen, 0.06 s.
    gc.freeze()
    pickle.dump(IMPORTED, answers, protocol=pickle.HIGHEST_PROTOCOL)
    answers.flush()
    while True:
        try:
            accepted, known_organisations, as_of = pickle.load(requests)
        except EOFError:
            return
        try:
            answer = validate_here(accepted, known_organisations, as_of).checked()
        except Exception as err:  # noqa: BLE001  (handed back to be raised in the parent)
            answer = err
        pickle.dump(answer, answers, protocol=pickle.HIGHEST_PROTOCOL)
        answers.flush()


if __name__ == "__main__":
    answer_on_stdout(serve)
