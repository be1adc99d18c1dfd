"""A parse a child process can find by its name (tests/test_parse_processes.py)."""

from __future__ import annotations

from tracker.pay_snapshots import parse_pay_file
from tracker.warehouse import SourceFile


def parse_or_surprise(file: SourceFile) -> object:
    """Pay's parse, but a file named for a surprise raises what no parser foresees."""
    if "surprise" in file.name:
        raise ZeroDivisionError("a bug in the parser")
    return parse_pay_file(file)


def parse_slowly(file: SourceFile) -> object:
    """Pay's parse, a quarter of a second a file: a run can be killed while its children parse."""
    import time

    time.sleep(0.25)
    return parse_pay_file(file)


_PARSED_HERE = []
SLOW_AFTER_FIRST_BATCH = "TRACKER_TEST_SLOW_AFTER_FIRST_BATCH"  # the test's own process id: it is never slowed


def parse_or_surprise_slow_after_first_batch(file: SourceFile) -> object:
    """``parse_or_surprise``, but a child slows to a second a file after its first five: killed once the run has
    its first batch, it cannot have answered the rest already (a fast parse sometimes had)."""
    import os
    import time

    _PARSED_HERE.append(file.name)
    if len(_PARSED_HERE) > 5 and os.environ.get(SLOW_AFTER_FIRST_BATCH) not in (None, str(os.getpid())):
        time.sleep(1)
    return parse_or_surprise(file)
