"""A date as the tracker writes it to people, in one place: what it tells a department, an operator or a reader."""

from __future__ import annotations

import datetime as dt


def long_date(day: dt.date) -> str:
    """A date as GOV.UK writes it: '30 January 2026'."""
    return f"{day.day} {day:%B %Y}"
