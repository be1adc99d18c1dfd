"""How every figure, date and empty value is written for people, in one place.

Text (headings, captions, figures): ``date`` gives "22 Dec 2025", ``month`` "Dec 2025", ``percent`` "53.3%",
``number`` "1,603" (and "10.1 million"). Tables use the same formats through their column configuration
(``GRID_FORMATS``), charts through ``CHART_FORMATS``, and CSV downloads through ``for_csv``, which keeps
values a spreadsheet reads (ISO dates, per cents as "53.3%", empty cells empty) under the same headings.
An empty value is never shown as None, nan or NaT: text shows "–" and tables show ``BLANK``.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd

from dashboard.labels import column

BLANK = "–"  # an empty cell; each column's heading says what it means there

# the formats Streamlit's table uses (moment.js for dates, printf or a preset for numbers)
GRID_FORMATS = {
    "date": "D MMM YYYY", "month": "MMM YYYY", "timestamp": "D MMM YYYY, HH:mm",
    "count": "localized", "money": "localized", "number": "localized", "share": "%.1f%%", "percent": "%.1f%%",
}
# the formats charts use (d3-format and d3-time-format, as Vega-Lite takes them)
CHART_FORMATS = {"date": "%-d %b %Y", "month": "%b %Y", "count": ",d", "number": ",.2~f", "share": ".0%",
                 "share_detail": ".1%", "percent_detail": ".1f"}


def is_blank(value: object) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)) or (
        not isinstance(value, (str, bytes)) and pd.isna(value) is True)


def number(value: object, decimals: int = 0) -> str:
    if is_blank(value):
        return BLANK
    value = float(value)
    if abs(value) >= 1_000_000_000:
        return f"{value / 1_000_000_000:,.1f} billion"
    if abs(value) >= 10_000_000:
        return f"{value / 1_000_000:,.1f} million"
    return f"{value:,.{decimals}f}"


def percent(share: object, decimals: int = 1) -> str:
    return BLANK if is_blank(share) else f"{float(share) * 100:.{decimals}f}%"


def date(value: object) -> str:
    """A day as people write it: 22 Dec 2025."""
    if is_blank(value):
        return BLANK
    day = pd.Timestamp(value).date() if not isinstance(value, dt.date) else value
    return f"{day.day} {day:%b %Y}"


def timestamp(value: object) -> str:
    """A moment to the minute: 22 Dec 2025, 14:05 (never seconds, never 00:00:00 noise on a date)."""
    if is_blank(value):
        return BLANK
    moment = pd.Timestamp(value)
    return f"{date(moment)}, {moment:%H:%M}"


UK = "Europe/London"


def uk_timestamp(value: object) -> str:
    """A moment stored in UTC, as people in the UK read it: 22 Dec 2025, 14:05 UK time (GMT in winter, BST in
    summer: 30 Jul 2025 23:30 UTC is 31 Jul 2025, 00:30 UK time). A value with a time zone is converted from it."""
    if is_blank(value):
        return BLANK
    moment = pd.Timestamp(value)
    moment = (moment.tz_localize("UTC") if moment.tzinfo is None else moment).tz_convert(UK)
    return f"{date(moment)}, {moment:%H:%M} UK time"


def in_uk_time(values: pd.Series) -> pd.Series:
    """Moments stored in UTC (without a zone) as UK clock times, for tables and downloads headed '(UK time)'."""
    moments = pd.to_datetime(values)
    if moments.dt.tz is None:
        moments = moments.dt.tz_localize("UTC")
    return moments.dt.tz_convert(UK).dt.tz_localize(None)


def month(value: object) -> str:
    return BLANK if is_blank(value) else f"{pd.Timestamp(value):%b %Y}"


def long_month(value: object) -> str:
    return BLANK if is_blank(value) else f"{pd.Timestamp(value):%B %Y}"


def amount(value: object, unit: str) -> str:
    """A figure with its unit: percentages as 5.3%, counts as 1,603 services."""
    if is_blank(value):
        return BLANK
    return f"{float(value):.1f}%" if unit == "percent" else f"{number(value)} {unit}".strip()


def signed(value: object, decimals: int = 0) -> str:
    if is_blank(value):
        return "no earlier figure"
    return ("+" if float(value) > 0 else "") + number(value, decimals)


def yes_no(value: object) -> object:
    return None if is_blank(value) else ("Yes" if bool(value) else "No")


# ---------------------------------------------------------------- frames for tables and downloads
def for_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame's values as a table shows them: flags as Yes/No, shares in per cent, empty values as nulls
    (which the table draws as BLANK). Dates and numbers keep their types, so columns still sort."""
    shown = frame.copy()
    for name in shown.columns:
        kind = column(name).kind
        if kind == "flag":
            shown[name] = shown[name].map(yes_no).astype(object)
        elif kind == "share":
            shown[name] = pd.to_numeric(shown[name], errors="coerce") * 100
        elif kind in ("count", "money", "number", "percent"):
            shown[name] = pd.to_numeric(shown[name], errors="coerce").astype(float)
        elif kind == "timestamp":
            shown[name] = in_uk_time(shown[name])
        elif kind in ("date", "month"):
            shown[name] = pd.to_datetime(shown[name])
        else:
            shown[name] = shown[name].astype(object).where(shown[name].notna(), None)
    return shown


def csv_cell(kind: str, value: object) -> object:
    if is_blank(value):
        return ""
    if kind == "date":
        return f"{pd.Timestamp(value):%Y-%m-%d}"
    if kind == "month":
        return f"{pd.Timestamp(value):%Y-%m}"
    if kind == "timestamp":
        return f"{in_uk_time(pd.Series([value])).iloc[0]:%Y-%m-%d %H:%M}"
    if kind == "share":
        return f"{float(value) * 100:.1f}%"
    if kind == "flag":
        return yes_no(value)
    if kind in ("count", "money") and float(value).is_integer():
        return int(value)
    return value


CSV_MOMENTS = {"date": "%Y-%m-%d", "month": "%Y-%m", "timestamp": "%Y-%m-%d %H:%M"}
AS_THEY_ARE = ("text", "code", "status", "link")  # kinds csv_cell writes as they are, empty when blank


def csv_column(kind: str, values: pd.Series) -> list:
    """``csv_cell`` of every value of a column, the long-list kinds (dates, times, text) done for the whole column
    at once: a Python call per cell took 20 s for the 61,323 returns of a national-size download."""
    if kind in CSV_MOMENTS:
        moments = in_uk_time(values) if kind == "timestamp" else pd.to_datetime(values)
        return moments.dt.strftime(CSV_MOMENTS[kind]).where(moments.notna(), "").tolist()
    if kind in AS_THEY_ARE:
        return values.astype(object).where(values.notna(), "").tolist()
    return [csv_cell(kind, v) for v in values]


def for_csv(frame: pd.DataFrame, titles: dict[str, str] | None = None) -> pd.DataFrame:
    """The frame as a download: the tables' headings, ISO dates (which spreadsheets read as dates), per cents
    as "53.3%", Yes/No, and empty cells empty."""
    titles = titles or {}
    out = pd.DataFrame({i: csv_column(column(name).kind, frame[name]) for i, name in enumerate(frame.columns)},
                       index=range(len(frame)))
    out.columns = [titles.get(name, column(name).label) for name in frame.columns]
    return out
