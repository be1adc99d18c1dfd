"""A long list of returns as a central analyst reads it: filters by organisation, quarter and status (applied in SQL),
the counts of every return they choose, one page of the newest, and the whole list as a CSV built only when asked.

At national size (61,323 returns) reading every return on each page view took 250 to 360 ms; a page takes a tenth
of that (dashboard/snapshot.py, ``PAGE_SIZE``)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.components import html, is_blank, number, status_tag, status_text
from dashboard.snapshot import PAGE_SIZE, ReturnsFilter

FILTERS = (("organisation", "Organisation", "every organisation"), ("quarter", "Reporting quarter", "every quarter"),
           ("status", "Status", "every status"))


def choose_filters(choices: pd.DataFrame, key: str) -> ReturnsFilter:
    """Side by side, a choice of organisation, quarter and status (each "every ..." first), from ``choices``
    (kind, value, name: dashboard/snapshot.py's ``return_*_choices``)."""
    chosen = {}
    for place, (kind, label, every) in zip(st.columns(len(FILTERS)), FILTERS, strict=True):
        options = choices[choices["kind"] == kind]
        names = dict(zip(options["value"], options["name"], strict=True))
        chosen[kind] = place.selectbox(label, [None, *names], key=f"{key}-{kind}",
                                       format_func=lambda value, names=names, kind=kind, every=every:
                                       option_label(kind, value, names.get(value), every))
    return ReturnsFilter(**chosen)


def option_label(kind: str, value: str | None, name: str | None, every: str) -> str:
    """How a filter's option reads: "every ...", an organisation's name and code, a status with its symbol."""
    if value is None:
        return every
    if kind == "organisation":
        return value if is_blank(name) else f"{name} ({value})"
    return status_text(value) if kind == "status" else value


def status_counts(counts: pd.DataFrame) -> None:
    """Each status's count as a tag and a number, over every return chosen (not just the page)."""
    html("<p>" + " ".join(f"{status_tag(row.status)} {number(row.returns)}" for row in counts.itertuples()) + "</p>")


def choose_page(total: int, filters: ReturnsFilter, key: str) -> int:
    """Where the page shown starts: a choice of ranges, newest first, when one page does not hold them all (its key
    names the filters and total, so a range chosen for one list is never applied to another)."""
    if total <= PAGE_SIZE:
        return 0
    return st.selectbox(f"Returns shown, {PAGE_SIZE} at a time, newest first", list(range(0, total, PAGE_SIZE)),
                        format_func=lambda start: f"{number(start + 1)} to {number(min(start + PAGE_SIZE, total))}",
                        key=f"{key}-page-{filters.organisation}-{filters.quarter}-{filters.status}-{total}")


def shown_caption(offset: int, shown: int, total: int, what: str) -> str:
    """Which of the list the page shows: "The newest 200 of 61,323 returns received, newest first"."""
    if shown >= total:
        return f"All {number(total)} {what}, newest first."
    if offset == 0:
        return f"The newest {number(shown)} of {number(total)} {what}, newest first."
    return f"{what.capitalize()} {number(offset + 1)} to {number(offset + shown)} of {number(total)}, newest first."
