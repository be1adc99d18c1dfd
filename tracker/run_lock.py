"""One writer at a time: every run that writes the warehouse holds TRACKER_HOME/run.lock.

An ``flock`` on an open file: the operating system releases it when its holder
exits or is killed, so a killed run never leaves the warehouse locked. The lock
is re-entrant within a process, so ``tracker run`` can take it (and say it is
waiting) before Dagster's run takes it again through the warehouse resource.
A run that cannot get it within the wait stops with a plain sentence.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tracker import settings

LOCK_NAME = "run.lock"
DEFAULT_WAIT_SECONDS = 600
_held: dict[str, list] = {}  # lock path -> [open file, depth]: this process's holds


class RunLocked(RuntimeError):
    """Another run holds the lock for longer than this run will wait."""


def wait_seconds() -> float:
    text = os.environ.get("TRACKER_RUN_WAIT_SECONDS", "").strip()
    if not text:
        return DEFAULT_WAIT_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise ValueError(f"TRACKER_RUN_WAIT_SECONDS is {text!r}: set it to how many seconds a run waits for "
                         f"another to finish (a number, 0 or more), or leave it unset for {DEFAULT_WAIT_SECONDS:g}.")
    return seconds


def lock_path(home: Path | None = None) -> Path:
    return (settings.tracker_home() if home is None else Path(home)) / LOCK_NAME


def holder(path: Path) -> str:
    """Who holds the lock, as its holder wrote it ('pid 123 since 10:04:05 UTC'), or '' if unknown."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def acquire(home: Path | None = None, wait: float | None = None, on_wait=None) -> None:
    """Take the lock, waiting up to ``wait`` seconds; ``on_wait(holder)`` is called once if it must wait."""
    path = lock_path(home)
    key = str(path)
    if key in _held:
        _held[key][1] += 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+", encoding="utf-8")
    deadline = time.monotonic() + (wait_seconds() if wait is None else wait)
    told = False
    while True:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                handle.close()
                who = holder(path)
                raise RunLocked(
                    "Another run is writing the warehouse" + (f" ({who})" if who else "")
                    + "; this run stopped without changing anything. Run it again when that one has finished."
                ) from None
            if on_wait and not told:
                on_wait(holder(path))
                told = True
            time.sleep(0.5)
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} since {dt.datetime.now(dt.UTC):%d %b %Y %H:%M:%S} UTC\n")
    handle.flush()
    _held[key] = [handle, 1]


def release(home: Path | None = None) -> None:
    key = str(lock_path(home))
    if key not in _held:
        return
    _held[key][1] -= 1
    if _held[key][1] == 0:
        handle, _ = _held.pop(key)
        handle.seek(0)
        handle.truncate()
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()


@contextmanager
def run_lock(home: Path | None = None, wait: float | None = None, on_wait=None) -> Iterator[None]:
    acquire(home, wait, on_wait)
    try:
        yield
    finally:
        release(home)
