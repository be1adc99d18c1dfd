"""The dashboard's shared vocabulary: statuses in words, symbols and colour; figures with their
source and date; charts with a headline title, a table view and a formula-safe CSV download.

Every page builds from these, so trust and accessibility rules hold on every screen.
"""

from __future__ import annotations

import datetime as dt
import math
import re

import pandas as pd
import streamlit as st

from dashboard.export import safe_csv
from dashboard.snapshot import column_descriptions, platform_headlines

# status word -> (symbol, GOV.UK colour class). Colour is never the only signal: the symbol and word are shown too.
STATUS_STYLE = {
    "met": ("✓", "green"), "on track": ("✓", "green"), "met late": ("✓", "yellow"),
    "at risk": ("!", "orange"), "off track": ("✗", "red"), "missed": ("✗", "red"),
    "no trajectory": ("?", "grey"), "no data": ("–", "grey"), "not measured": ("–", "grey"),
    "awaiting returns": ("…", "blue"),
    "received": ("✓", "green"), "received late": ("!", "orange"), "missing": ("✗", "red"),
    "rejected": ("✗", "red"), "not expected": ("–", "grey"),
    "rejected, overdue": ("✗", "red"), "rejected, resubmission due": ("!", "orange"), "due": ("…", "blue"),
    "fresh": ("✓", "green"), "stale": ("!", "orange"), "no longer published": ("■", "grey"),
    "quarterly return": ("…", "blue"), "reference": ("■", "grey"),
    "passed": ("✓", "green"), "warning": ("!", "orange"), "failed": ("✗", "red"), "not run": ("–", "grey"),
    "plan confirmed": ("✓", "green"), "no plan reported": ("✗", "red"), "no return": ("–", "grey"),
    "uses both": ("✓", "green"), "Pay only": ("!", "orange"), "Notify only": ("!", "orange"), "neither": ("✗", "red"),
    "publishes APIs": ("✓", "green"), "no APIs published": ("–", "grey"),
    "accepted": ("✓", "green"), "accepted with warnings": ("!", "orange"), "duplicate": ("■", "grey"),
    "agrees within tolerance": ("✓", "green"), "differs beyond tolerance": ("✗", "red"),
}

STYLE = """
<style>
html, body, p, li, h1, h2, h3, label, input, button { font-family: Arial, Helvetica, sans-serif; }
h1, h2, h3 { color: #0b0c0c; font-weight: 700; }
a { color: #1d70b8; } a:visited { color: #4c2c92; }
a:focus, button:focus-visible { outline: 3px solid #ffdd00; background: #ffdd00; color: #0b0c0c; }
.block-container { max-width: 1200px; padding-top: 2.5rem; }
.govuk-banner { background: #0b0c0c; color: #fff; padding: 10px 16px; margin-bottom: 12px;
                border-bottom: 8px solid #1d70b8; font-weight: 700; font-size: 1.1rem; }
.govuk-banner span { font-weight: 400; font-size: 0.95rem; margin-left: 12px; }
.tag { display: inline-block; padding: 2px 8px; font-weight: 700; font-size: 0.9rem; letter-spacing: 0.02em;
       border-radius: 0; white-space: nowrap; }
.tag-green { background: #cce2d8; color: #005a30; } .tag-red { background: #f4cdc6; color: #942514; }
.tag-orange { background: #fcd6c3; color: #6e3619; } .tag-yellow { background: #fff7bf; color: #594d00; }
.tag-blue { background: #bbd4ea; color: #0c2d4a; } .tag-grey { background: #e5e6e7; color: #383f43; }
.illustrative { border-left: 10px solid #f47738; background: #fff4ed; padding: 8px 12px; margin: 6px 0; }
.stale { border-left: 10px solid #d4351c; background: #fdf0ee; padding: 8px 12px; margin: 6px 0; }
[data-testid="stMetricLabel"], [data-testid="stMetricLabel"] * { white-space: normal !important;
    overflow: visible !important; text-overflow: clip !important; }
.source { color: #505a5f; font-size: 0.85rem; margin-top: -4px; }
</style>
"""


# ---------------------------------------------------------------- formatting
def is_blank(value: object) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)) or (
        not isinstance(value, (str, bytes)) and pd.isna(value) is True)


def number(value: object, decimals: int = 0) -> str:
    if is_blank(value):
        return "–"
    value = float(value)
    if abs(value) >= 1_000_000_000:
        return f"{value / 1_000_000_000:,.1f} billion"
    if abs(value) >= 10_000_000:
        return f"{value / 1_000_000:,.1f} million"
    return f"{value:,.{decimals}f}"


def percent(share: object, decimals: int = 1) -> str:
    return "–" if is_blank(share) else f"{float(share) * 100:.{decimals}f}%"


def date(value: object) -> str:
    if is_blank(value):
        return "–"
    day = pd.Timestamp(value).date() if not isinstance(value, dt.date) else value
    return f"{day.day} {day:%b %Y}"


def amount(value: object, unit: str) -> str:
    """A figure with its unit: percentages as 5.3%, counts as 1,603 services."""
    if is_blank(value):
        return "–"
    return f"{float(value):.1f}%" if unit == "percent" else f"{number(value)} {unit}".strip()


def month(value: object) -> str:
    return "–" if is_blank(value) else f"{pd.Timestamp(value):%b %Y}"


def signed(value: object, decimals: int = 0) -> str:
    if is_blank(value):
        return "no earlier figure"
    return ("+" if float(value) > 0 else "") + number(value, decimals)


# ---------------------------------------------------------------- status and trust
def status_text(status: object) -> str:
    """The status as a symbol and a word, for tables and CSVs."""
    if is_blank(status):
        return "–"
    symbol, _ = STATUS_STYLE.get(str(status), ("", "grey"))
    return f"{symbol} {status}".strip()


def status_tag(status: object) -> str:
    """The status as an HTML tag: a symbol, a word and a colour."""
    colour = STATUS_STYLE.get(str(status), ("", "grey"))[1]
    return f'<strong class="tag tag-{colour}">{escape(status_text(status))}</strong>'


def escape(text: object) -> str:
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;"))


def markdown_safe(text: object) -> str:
    """Text from data shown in Markdown, with Markdown and HTML characters neutralised."""
    return re.sub(r"([\\`*_{}\[\]<>()#+\-.!|$~])", r"\\\1", str(text))


def html(body: str) -> None:
    st.markdown(body, unsafe_allow_html=True)


def page_header(title: str, answers: str) -> None:
    st.title(title)
    st.markdown(f"**What this page answers:** {answers}")


def source_line(source: str, data_date: object, *, freshness: object = None, days_old: object = None,
                illustrative: bool = False) -> None:
    """Under every figure: where it comes from and how old it is, with a flag if stale or illustrative."""
    parts = [f"Source: {escape(source)}", f"data to {date(data_date)}"]
    flags = ""
    if str(freshness) == "stale":
        flags += f' {status_tag("stale")} <span>{"" if is_blank(days_old) else f"{int(days_old)} days old"}</span>'
    elif str(freshness) == "no longer published":
        flags += f' {status_tag("no longer published")}'
    if illustrative:
        flags += ' <strong class="tag tag-orange">ILLUSTRATIVE sample data</strong>'
    html(f'<p class="source">{" · ".join(parts)}{flags}</p>')


def illustrative_notice(frame: pd.DataFrame, what: str = "These figures come from ILLUSTRATIVE sample returns",
                        column: str = "is_illustrative") -> bool:
    """Label the figures as ILLUSTRATIVE if any row of the frame is; says whether it did."""
    illustrative = bool(frame[column].any())
    if illustrative:
        html(f'<div class="illustrative"><strong>ILLUSTRATIVE:</strong> {escape(what)}, shipped to show how the '
             "tracker works. They are not real departmental figures.</div>")
    return illustrative


def stale_notice(text: str) -> None:
    html(f'<div class="stale"><strong>! Stale:</strong> {escape(text)}</div>')


# ---------------------------------------------------------------- tables, downloads, charts
def download(frame: pd.DataFrame, file_name: str, label: str = "Download CSV") -> None:
    st.download_button(label, safe_csv(frame), file_name=file_name, mime="text/csv",
                       key=f"download-{file_name}", on_click="ignore")


def table(frame: pd.DataFrame, file_name: str, *, column_config: dict | None = None, height: int | str = "auto",
          download_label: str = "Download CSV", described_by: str | None = None) -> None:
    """A table with a formula-safe CSV download of exactly what it shows.

    ``described_by`` names the mart the columns come from: each column heading then carries the
    dbt project's one-line description of it as its help."""
    config = dict(column_config or {})
    if described_by:
        descriptions = column_descriptions(described_by)
        for column in frame.columns:
            if column in descriptions and column not in config:
                config[column] = st.column_config.Column(help=descriptions[column])
    st.dataframe(frame, hide_index=True, column_config=config or None, height=height)
    download(frame, file_name, download_label)


def chart_block(title: str, chart, frame: pd.DataFrame, file_name: str, *, source: str, data_date: object,
                freshness: object = None, days_old: object = None, illustrative: bool = False,
                note: str | None = None) -> None:
    """A chart with a headline title, its source and date, a table view and a CSV download."""
    st.subheader(title)
    if note:
        st.caption(note)
    st.altair_chart(chart, width="stretch")
    source_line(source, data_date, freshness=freshness, days_old=days_old, illustrative=illustrative)
    with st.expander(f"Table view: {title}"):
        st.dataframe(frame, hide_index=True)
    download(frame, file_name, "Download the chart's data (CSV)")


def headline(label: str, value: str, *, delta: str | None = None, help: str | None = None) -> None:
    st.metric(label, value, delta=delta, help=help, delta_color="off", border=True)


def measure_card(row: pd.Series) -> None:
    """One platform measure from marts.platform_headlines: the figure, the change since the previous
    quarter's end, and its source, date and freshness."""
    unit = row["measure"]
    delta = None
    if not is_blank(row["previous_value"]):
        delta = f"{signed(row['change'])} since {date(row['previous_period_end'])}"
    shown = (f"{row['latest_value']:.1f}%" if "%" in unit and not is_blank(row["latest_value"])
             else number(row["latest_value"]))
    headline(f"{row['platform']}: {unit}", shown, delta=delta)
    source_line(f"{row['source_name']} ({row['publisher']})", row["latest_date"], freshness=row["freshness"],
                days_old=row["days_old"], illustrative=bool(row["is_illustrative"]))


def platform_overview(platform: str, headline_metric: str) -> dict:
    """A platform page's opening: a notice if its source is no longer published, then a card per measure.
    Returns the headline measure's source, freshness and age, for the page's charts."""
    measures = platform_headlines(platform)
    headline_row = measures.set_index("metric").loc[headline_metric]
    if headline_row["freshness"] == "no longer published":
        stale_notice(f"{platform} is no longer published: these are its last figures, to "
                     f"{date(headline_row['latest_date'])}. {headline_row['closed_note']}")
    measure_cards(measures)
    return trust_of(measures, headline_metric)


def trust_of(measures: pd.DataFrame, metric: str) -> dict:
    """Source, freshness and age of one measure, to pass to chart_block and the shared sections."""
    row = measures.set_index("metric").loc[metric]
    return {"source": f"{row['source_name']} ({row['publisher']})", "freshness": row["freshness"],
            "days_old": row["days_old"]}


def measure_cards(frame: pd.DataFrame, per_row: int = 3) -> None:
    rows = list(frame.iterrows())
    for start in range(0, len(rows), per_row):
        for column, (_, row) in zip(st.columns(per_row), rows[start:start + per_row], strict=False):
            with column:
                measure_card(row)
