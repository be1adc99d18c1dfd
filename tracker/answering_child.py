"""A child process that answers batches of work in the order they were sent, on the machine's other cores.

Used where a run's work is pure, a function of what is sent and nothing else: checking returns against the
contract (``checks/return_checking_process.py``) and parsing a source's files (``tracker/parse_processes.py``).
So an answer is the one the run's own process would give, and whatever the child cannot do, the run does itself.

Requests and answers are pickles on the child's standard input and output, between a parent and the child it
started. The parent reads the answers in a thread of its own, so neither side ever waits on a full pipe while
the other does. The child ends when its input closes, so a parent killed mid-run leaves nothing behind.
"""

from __future__ import annotations

import gc
import logging
import pickle
import queue
import subprocess
import threading
from collections.abc import Callable
from typing import IO

from tracker.process_exit import end_child, python_child

log = logging.getLogger(__name__)
GONE = None  # what the answers' queue holds once the process has ended


class AnsweringChild:
    """``python -m module``, told ``first`` once, then sent batches; each answer is what the child made of a batch,
    or the exception it raised on it. ``work`` says in a log line what the child does ("checking returns")."""

    def __init__(self, module: str, first: object, work: str) -> None:
        self.work = work
        self.process = python_child(module, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL)
        self.answers: queue.Queue = queue.Queue()
        self.waiting = 0  # batches sent and not yet answered
        self.gone = False
        threading.Thread(target=self._read_answers, name=f"{module}-answers", daemon=True).start()
        self._send(first)

    def send(self, batch: object) -> bool:
        """The batch sent (True), or nothing sent because the process has gone (False)."""
        if self.gone or not self._send(batch):
            return False
        self.waiting += 1
        return True

    def answer(self) -> object | None:
        """The answer to the oldest batch not yet answered; None if the process failed on it or has gone (the
        caller then does that batch itself)."""
        if self.waiting == 0:
            return None
        self.waiting -= 1
        answer = self.answers.get()  # the reading thread puts GONE last, whenever the process ends
        if answer is GONE:
            if not self.gone:
                log.warning(f"The process {self.work} has ended: the run does that work itself.")
            self.gone, self.waiting = True, 0
            return None
        if isinstance(answer, BaseException):
            log.warning(f"{self.work.capitalize()} in a process of its own failed on a batch ({answer!r}): the run "
                        "does that batch itself.")
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
                log.warning(f"The process {self.work} has ended ({err!r}): the run does that work itself.")
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


def serve_batches(requests: IO[bytes], answers: IO[bytes], answer: Callable[[object, object], object]) -> None:
    """The child's side: read ``first``, then answer each batch with ``answer(first, batch)`` (or the exception
    it raised, handed back so the parent does the batch itself) until the input closes."""
    try:
        first = pickle.load(requests)
    except EOFError:
        return
    frozen = False
    while True:
        try:
            batch = pickle.load(requests)
        except EOFError:
            return
        try:
            made = answer(first, batch)
        except Exception as err:  # noqa: BLE001  (handed back: the parent does the batch itself)
            made = err
        try:
            message = pickle.dumps(made, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as err:  # noqa: BLE001  an answer that cannot be sent is a failure to hand back
            message = pickle.dumps(RuntimeError(f"the answer could not be pickled: {err!r}"))
        answers.write(message)
        answers.flush()
        if not frozen:  # what the first batch imported lives as long as the child: no collection need walk it
            gc.freeze()
            frozen = True
