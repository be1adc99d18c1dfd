"""Ending a command's process without tearing the interpreter down.

Python's teardown ends with one last garbage collection over every object still alive: after a run, everything
Dagster, dbt and Great Expectations made, 1.6 s of a 21 s update on the small benchmark (0.4 s after each
``dbt build``) spent freeing memory the operating system takes back anyway. Everything else Python does at exit
still happens: it waits for threads that are not daemons, runs the exit handlers (logging's flush,
multiprocessing's clean-up), and flushes the output.
By then a command's files and connections are closed (each is a context manager).
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, NoReturn


def leave(code: int | str | None) -> NoReturn:
    """End the process with ``code`` as ``sys.exit(code)`` would, less the interpreter's teardown."""
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit's message
        print(code, file=sys.stderr)
        status = 1
    threading._shutdown()  # what Python does first: stop idle thread pools, wait for threads not daemons
    atexit._run_exitfuncs()  # the handlers Python would run next, in the same order
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream has nothing more to say
            pass
    os._exit(status)


def answer_on_stdout(serve: Callable[[IO[bytes], IO[bytes]], None]) -> NoReturn:
    """A child's life (``checks/return_gx_process.py``, and the children of ``tracker/answering_child.py``):
    ``serve`` reads its requests from standard input and writes its answers to standard output as it was at the
    start, while anything else printed (a library's warnings) goes to standard error, out of the answers; then it
    ends."""
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.stdin.buffer, answers)
    answers.close()
    leave(0)


def python_child(module: str, *arguments: str, environment: dict[str, str] | None = None,
                 **popen) -> subprocess.Popen:
    """This Python running one of this checkout's modules (``python -m module``), from the checkout, whatever the
    caller's working folder: a child started ahead of need (``checks/return_gx_process.py``,
    ``assets/dbt_ahead.py``)."""
    root = str(Path(__file__).resolve().parent.parent)
    environment = (os.environ | (environment or {})
                   | {"PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))})
    return subprocess.Popen([sys.executable, "-m", module, *arguments], cwd=root, env=environment, **popen)


def end_child(process: subprocess.Popen, within: float) -> None:
    """Close a child's input, which tells a child started ahead of need (``checks/return_gx_process.py``,
    ``assets/dbt_ahead.py``) to end, and wait for it; one still running after ``within`` seconds is killed."""
    try:
        process.stdin.close()
    except OSError:
        pass
    try:
        process.wait(timeout=within)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
