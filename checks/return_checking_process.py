"""The contract's rules over batches of return files, in a process of its own, on the machine's other core.

Taking in tens of thousands of returns, a run spends about a third of its time checking files against the
contract (``validate_returns``) and the rest judging them against the returns already recorded, recording and
archiving them. A report is a pure function of the file's bytes, its name, its sender, the known organisations
and the reporting date, so the next batch can be checked here while the run records and archives the one before
(``ReturnJudge.check_later``), and the report is the one the file would get in the run's own process, in all
the run records from it (``ValidationReport.as_recorded``: not every cell of every row as sent, nor the rule
frame). If the process has gone, or fails on a batch, the run checks those files itself
(``tracker/answering_child.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import IO, TYPE_CHECKING

from tracker.answering_child import AnsweringChild, serve_batches
from tracker.process_exit import answer_on_stdout

if TYPE_CHECKING:
    from checks.return_validation import Files


class CheckingProcess(AnsweringChild):
    """The child, told the known organisations and the reporting date once, then sent batches of files; each
    answer is the batch's reports, in its order."""

    def __init__(self, known_organisations: Collection[str], as_of: dt.date) -> None:
        super().__init__("checks.return_checking_process", (frozenset(known_organisations), as_of),
                         "checking returns")

    def send(self, files: Files) -> bool:
        return super().send([tuple(file) for file in files])


def _check(first: tuple, files: Files) -> list:
    from checks.return_validation import validate_returns

    known_organisations, as_of = first
    return [report.as_recorded() for report in validate_returns(files, known_organisations, as_of)]


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    serve_batches(requests, answers, _check)


if __name__ == "__main__":
    answer_on_stdout(serve)
