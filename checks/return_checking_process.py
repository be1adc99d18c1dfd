"""The contract's rules over batches of return files, in a process of its own, on the machine's other core.

Taking in tens of thousands of returns, a run spends about a third of its time checking files against the
contract (``validate_returns``) and the rest judging them against the returns already recorded, recording and
archiving them. A report is a pure function of the file's bytes, its name, its sender, the known organisations
and the reporting date, so the next batch can be checked here while the run records and archives the one before
(``ReturnJudge.check_later``), and the report is the one the file would get in the run's own process.

Requests and answers are pickles on the child's standard input and output, between a parent and the child it
started. The parent reads the answers in a thread of its own, so neither side ever waits on a full pipe while
the other does. The child ends when its input closes, so a parent killed mid-run leaves nothing behind. If it
has gone, or fails on a batch, the parent checks those files itself.
"""

from __future__ import annotations

import datetime as dt
import logging
import pickle
import queue
import subprocess
import threading
from collections.abc import Collection
from typing import IO, TYPE_CHECKING

from tracker.process_exit import answer_on_stdout, end_child, python_child

if TYPE_CHECKING:
    from checks.return_validation import Files

log = logging.getLogger(__name__)
GONE = None  # what the answers' queue holds once the process has ended


class CheckingProcess:
    """The child, told the known organisations and the reporting date once, then sent batches of files; each
    answer is the batch's reports, or the exception checking it raised."""

    def __init__(self, known_organisations: Collection[str], as_of: dt.date) -> None:
        self.process = python_child("checks.return_checking_process", stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.answers: queue.Queue = queue.Queue()
        self.waiting = 0  # batches sent and not yet answered
        self.gone = False
        threading.Thread(target=self._read_answers, name="return-checking-answers", daemon=True).start()
        self._send((frozenset(known_organisations), as_of))

    def send(self, files: Files) -> bool:
        """The batch sent (True), or nothing sent because the process has gone (False)."""
        if self.gone or not self._send([tuple(file) for file in files]):
            return False
        self.waiting += 1
        return True

    def answer(self) -> list | None:
        """The reports of the oldest batch not yet answered, in its order; None if the process failed on it or
        has gone (the caller then checks those files itself)."""
        if self.waiting == 0:
            return None
        self.waiting -= 1
        answer = self.answers.get()  # the reading thread puts GONE last, whenever the process ends
        if answer is GONE:
            self.gone, self.waiting = True, 0
            return None
        if isinstance(answer, BaseException):
            log.warning(f"Checking a batch of returns in the process of its own failed ({answer!r}): they are "
                        "checked in the run's own process instead.")
            return None
        return answer

    def close(self) -> None:
        end_child(self.process, within=5)

    def _send(self, message: object) -> bool:
        try:
            pickle.dump(message, self.process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self.process.stdin.flush()
        except (OSError, pickle.PickleError) as err:
            if not self.gone:
                log.warning(f"The process checking returns had ended ({err!r}): the run checks them itself.")
            self.gone = True
            return False
        return True

    def _read_answers(self) -> None:
        while True:
            try:
                self.answers.put(pickle.load(self.process.stdout))
            except Exception:  # noqa: BLE001  ended (EOFError), or out of step: either way, gone
                self.answers.put(GONE)
                return


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    """Answer each batch until the input closes."""
    from checks.return_validation import validate_returns

    try:
        known_organisations, as_of = pickle.load(requests)
    except EOFError:
        return
    while True:
        try:
            files = pickle.load(requests)
        except EOFError:
            return
        try:
            answer = validate_returns(files, known_organisations, as_of)
        except Exception as err:  # noqa: BLE001  (handed back: the parent checks the batch itself)
            answer = err
        pickle.dump(answer, answers, protocol=pickle.HIGHEST_PROTOCOL)
        answers.flush()


if __name__ == "__main__":
    answer_on_stdout(serve)
