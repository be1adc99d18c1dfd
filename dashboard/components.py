"""The dashboard's shared vocabulary: statuses in words, symbols and colour; figures with their
source and date; charts with a headline title, a table view and a formula-safe CSV download.

Every page builds from these, so trust and accessibility rules hold on every screen.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pandas as pd
import streamlit as st

from dashboard.export import safe_csv
from dashboard.formatting import (  # noqa: F401  (the pages import these from here)
    BLANK,
    GRID_FORMATS,
    amount,
    date,
    for_csv,
    for_table,
    is_blank,
    long_month,
    month,
    number,
    percent,
    signed,
    timestamp,
)
from dashboard.labels import column
from dashboard.snapshot import column_descriptions, platform_headlines, snapshot_info, sources

# status word -> (symbol, GOV.UK colour class). Colour is never the only signal: the symbol and word are shown too.
STATUS_STYLE = {
    "met": ("✓", "green"), "on track": ("✓", "green"), "met late": ("✓", "yellow"),
    "at risk": ("!", "orange"), "off track": ("✗", "red"), "missed": ("✗", "red"),
    "no trajectory": ("?", "grey"), "no data": ("–", "grey"), "not measured": ("–", "grey"),
    "no figure since deadline": ("?", "grey"),
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
.block-container { max-width: 1400px; padding-top: 2.5rem; }
@media (min-width: 768px) { .block-container { padding-left: 2rem; padding-right: 2rem; } }
/* Streamlit's captions are grey at 60% opacity (3.9:1); GOV.UK's secondary text colour is 7:1 */
[data-testid="stCaptionContainer"] { opacity: 1; }
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] * { color: #505a5f; }
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


# Characters Markdown would read as syntax (links, emphasis, code, headings, tables, autolinked addresses),
# written as HTML character references: they look the same and mean nothing.
_MARKDOWN_SYNTAX = {c: f"&#{ord(c)};" for c in "\\`*_[]()#+!|~:'"}


def plain(text: object) -> str:
    """What a sender controls (a file name, a note, a value) as plain text inside markup: never HTML, never
    Markdown."""
    return "".join(_MARKDOWN_SYNTAX.get(c, c) for c in escape(text))


def return_heading(sent) -> str:
    """A return's line on the returns pages: its status, organisation, quarter, file, when it came and its reference,
    as plain text, marked if it is an ILLUSTRATIVE sample. A quarter the file did not give readably (a file that
    could not be read) is said so, never shown as 'None'; an organisation not in the register is shown by its code."""
    name, quarter, sample = sent["organisation_name"], sent["reporting_quarter"], sent["is_illustrative"]
    return (f"{status_tag(sent['status'])} <strong>{plain(sent['organisation_code'] if is_blank(name) else name)}"
            f"</strong> · {'quarter unreadable' if is_blank(quarter) else plain(quarter)} · "
            f"{plain(sent['file_name'])} · received {date(sent['received_at'])} · reference "
            f"{plain(sent['submission_ref'])}"
            + (' <strong class="tag tag-orange">ILLUSTRATIVE sample</strong>' if not is_blank(sample) and sample
               else ""))


def problem_line(problem) -> str:  # a row of marts.return_problems, or one of return_outcomes.problems
    """'Row 2, column L (pay_services_live): message', as plain text (the message repeats what was sent)."""
    where = ("" if is_blank(problem["row_number"])
             else f"Row {int(problem['row_number'])}, column {problem['column_letter']}")
    if not is_blank(problem["column_name"]):
        where += f" ({problem['column_name']})"
    return plain(f"{where}: {problem['message']}" if where else problem["message"])


def markdown_safe(text: object) -> str:
    """Text from data shown in Markdown, with Markdown and HTML characters neutralised."""
    return re.sub(r"([\\`*_{}\[\]<>()#+\-.!|$~])", r"\\\1", str(text))


def html(body: str) -> None:
    st.markdown(body, unsafe_allow_html=True)


def page_header(title: str, answers: str) -> None:
    st.title(title)
    st.markdown(f"**What this page answers:** {answers}")


def source_line(source: str, data_date: object, *, freshness: object = None, days_old: object = None,
                illustrative: bool = False, monthly: bool = False) -> None:
    """Under every figure: where it comes from and how old it is, with a flag if stale or illustrative."""
    when = f"figures for {month(data_date)}" if monthly else f"data to {date(data_date)}"
    parts = [f"Source: {escape(source)}", when]
    flags = ""
    if str(freshness) == "stale":
        flags += f' {status_tag("stale")} <span>{"" if is_blank(days_old) else f"{int(days_old)} days old"}</span>'
    elif str(freshness) == "no longer published":
        flags += f' {status_tag("no longer published")}'
    if illustrative:
        flags += ' <strong class="tag tag-orange">ILLUSTRATIVE sample data</strong>'
    html(f'<p class="source">{" · ".join(parts)}{flags}</p>')


def illustrative_notice(frame: pd.DataFrame, what: str = "These figures come from ILLUSTRATIVE sample returns",
                        column: str = "is_illustrative", some: str | None = None) -> bool:
    """Label the figures as ILLUSTRATIVE if any row of the frame is; says whether it did. Given counts of returns
    (``returns`` and ``illustrative``, from the snapshot's counts) and ``some``, a mix of samples and real returns
    is said as such ('{n} of the {total} returns ...'), not as if every one were a sample."""
    illustrative = bool(frame[column].eq(True).any())
    if illustrative and some is not None and {"returns", "illustrative"} <= set(frame.columns):
        samples, total = int(frame["illustrative"].sum()), int(frame["returns"].sum())
        if samples < total:
            what = some.format(n=number(samples), total=number(total))
    if illustrative:
        html(f'<div class="illustrative"><strong>ILLUSTRATIVE:</strong> {escape(what)}, shipped to show how the '
             "tracker works. They are not real departmental figures.</div>")
    return illustrative


def stale_notice(text: str) -> None:
    html(f'<div class="stale"><strong>! Stale:</strong> {escape(text)}</div>')


# ---------------------------------------------------------------- tables, downloads, charts
def column_config(frame: pd.DataFrame, *, titles: dict[str, str] | None = None,
                  descriptions: dict[str, str] | None = None, pinned: tuple[str, ...] = ()) -> dict:
    """Each column's heading (from dashboard/labels.py), format, width and help, for st.dataframe."""
    config = {}
    for name in frame.columns:
        entry = column(name)
        described = (descriptions or {}).get(name)
        notes = [described.replace("NULL", "empty") if described else None,
                 f"{BLANK} means {entry.blank}." if entry.blank else None]
        common = {"label": (titles or {}).get(name, entry.label), "help": " ".join(n for n in notes if n) or None,
                  "width": entry.width, "pinned": True if name in pinned else None}
        fmt = GRID_FORMATS.get(entry.kind)
        if entry.kind in ("date", "month"):
            config[name] = st.column_config.DateColumn(format=fmt, **common)
        elif entry.kind == "timestamp":
            config[name] = st.column_config.DatetimeColumn(format=fmt, **common)
        elif fmt:
            config[name] = st.column_config.NumberColumn(format=fmt, **common)
        elif entry.kind == "link":
            config[name] = st.column_config.LinkColumn(display_text="Open", **common)
        else:
            config[name] = st.column_config.TextColumn(**common)
    return config


def show_frame(frame: pd.DataFrame, *, alt: str, titles: dict[str, str] | None = None,
               described_by: str | None = None, pinned: tuple[str, ...] = (), height: int | str = "auto") -> None:
    """A table as people read it: labelled headings, formatted cells, "–" for an empty cell (its heading's
    help says what it means there), and an accessible name."""
    descriptions = column_descriptions(described_by) if described_by else None
    st.dataframe(for_table(frame), hide_index=True, height=height, placeholder=BLANK, alt=alt,
                 column_config=column_config(frame, titles=titles, descriptions=descriptions, pinned=pinned))


def download(frame: pd.DataFrame, file_name: str, label: str = "Download CSV", *,
             titles: dict[str, str] | None = None) -> None:
    """A formula-safe CSV of the frame, under the same headings as the table."""
    st.download_button(label, safe_csv(for_csv(frame, titles)), file_name=file_name, mime="text/csv",
                       key=f"download-{file_name}", on_click="ignore")


def download_on_demand(build: Callable[[], pd.DataFrame], file_name: str, label: str, *,
                       titles: dict[str, str] | None = None) -> None:
    """A formula-safe CSV of a list too long to read on every page view: Streamlit calls ``build`` only when the
    button is pressed (in another thread, so the page is not held up), and the CSV is made from what it returns."""
    st.download_button(label, lambda: safe_csv(for_csv(build(), titles)), file_name=file_name, mime="text/csv",
                       key=f"download-{file_name}", on_click="ignore")


def table(frame: pd.DataFrame, file_name: str, *, height: int | str = "auto", download_label: str = "Download CSV",
          described_by: str | None = None, titles: dict[str, str] | None = None, alt: str | None = None,
          pinned: tuple[str, ...] = ()) -> None:
    """A table with a formula-safe CSV download of exactly what it shows.

    ``described_by`` names the mart the columns come from: each column heading then carries the
    dbt project's one-line description of it as its help."""
    show_frame(frame, alt=alt or file_name.removesuffix(".csv").replace("-", " "), titles=titles,
               described_by=described_by, pinned=pinned, height=height)
    download(frame, file_name, download_label, titles=titles)


def chart_block(title: str, chart, frame: pd.DataFrame, file_name: str, *, source: str, data_date: object,
                freshness: object = None, days_old: object = None, illustrative: bool = False,
                note: str | None = None, titles: dict[str, str] | None = None, monthly: bool = False) -> None:
    """A chart with a headline title, its source and date, a table view and a CSV download."""
    st.subheader(title)
    if note:
        st.caption(note)
    st.altair_chart(chart, width="stretch", alt=f"Chart: {title}. Its figures are in the table view below.")
    source_line(source, data_date, freshness=freshness, days_old=days_old, illustrative=illustrative,
                monthly=monthly)
    with st.expander(f"Table view: {title}"):
        show_frame(frame, alt=f"Table view: {title}", titles=titles)
    download(frame, file_name, "Download the chart's data (CSV)", titles=titles)


def headline(label: str, value: str, *, delta: str | None = None, help: str | None = None) -> None:
    st.metric(label, value, delta=delta, help=help, delta_color="off", border=True)


def measure_card(row: pd.Series) -> None:
    """One platform measure from marts.platform_headlines: the figure, the change since the previous
    quarter's end, and its source, date and freshness."""
    unit = row["measure"]
    delta = None
    if not is_blank(row["previous_value"]):
        delta = f"{signed(row['change'])} since {date(row['previous_date'])}"
    shown = (f"{row['latest_value']:.1f}%" if "%" in unit and not is_blank(row["latest_value"])
             else number(row["latest_value"]))
    headline(f"{row['platform']}: {unit}", shown, delta=delta)
    source_line(f"{row['source_name']} ({row['publisher']})", row["latest_date"], freshness=row["freshness"],
                days_old=row["days_old"], illustrative=bool(row["is_illustrative"]))


def platform_overview(platform: str, headline_metric: str) -> dict | None:
    """A platform page's opening: a notice if its source is no longer published, then a card per measure.
    Returns the headline measure's source, freshness and age, for the page's charts; None, having said why, when
    the platform has no figure by the reporting date (its source never read, or not yet publishing then)."""
    measures = platform_headlines(platform)
    if headline_metric not in set(measures["metric"]):
        st.info(no_figures_notice(platform))
        return None
    headline_row = measures.set_index("metric").loc[headline_metric]
    if headline_row["freshness"] == "no longer published":
        stale_notice(f"{platform} is no longer published: these are its last figures, to "
                     f"{date(headline_row['latest_date'])}. {headline_row['closed_note']}")
    measure_cards(measures)
    return trust_of(measures, headline_metric)


def no_figures_notice(platform: str) -> str:
    """Why a platform shows no figure: its source's own problem when the latest run could not read it."""
    info = snapshot_info()
    said = f"No {platform} figures were published by the reporting date, {date(info.as_of)}"
    listed = sources()
    listed = listed[listed["platforms"].fillna("").str.split(", ").map(lambda names: platform in names)]
    unread = listed[listed["feed_status"] != "read in full"]
    if not unread.empty:
        row = unread.iloc[0]
        return (f"{said}: the latest run could not read {row['name']} ({row['feed_problem_summary'] or 'no file'}). "
                "The data-quality page lists each file and what to do.")
    return f"{said}: the source's first figure is later than that."


def trust_of(measures: pd.DataFrame, metric: str) -> dict:
    """Source, freshness and age of one measure, to pass to chart_block and the shared sections."""
    row = measures.set_index("metric").loc[metric]
    return {"source": f"{row['source_name']} ({row['publisher']})", "freshness": row["freshness"],
            "days_old": row["days_old"]}


def measure_cards(frame: pd.DataFrame, per_row: int = 3) -> None:
    rows = list(frame.iterrows())
    for start in range(0, len(rows), per_row):
        for place, (_, row) in zip(st.columns(per_row), rows[start:start + per_row], strict=False):
            with place:
                measure_card(row)
