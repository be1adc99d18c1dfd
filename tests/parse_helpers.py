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
