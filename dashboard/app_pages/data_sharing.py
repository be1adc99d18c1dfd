"""Data sharing: are departments publishing APIs and signing data sharing agreements?"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, sections, snapshot
from dashboard.components import (
    chart_block,
    illustrative_notice,
    measure_cards,
    number,
    page_header,
    platform_overview,
    source_line,
    table,
)
from dashboard.formatting import date

page_header("Data sharing", "how many APIs public bodies have published for others to use, who publishes them, "
            "how many organisations signed Notify's data sharing agreement, and what departments report?")

trust = platform_overview("Data sharing", "apis_published")
if trust is None:  # nothing by the reporting date: the notice says why
    st.stop()
notify = snapshot.platform_headlines("GOV.UK Notify")
measure_cards(notify[notify["metric"] == "notify_agreements_signed"])

apis = snapshot.metric_history("apis_published")
# each run of figures defined one way is its own line, so a change of definition never reads as a fall or a rise
runs = apis["definition_note"].fillna("").ne(apis["definition_note"].fillna("").shift()).cumsum()
spans = apis.groupby(runs)["date"].agg(["min", "max"])
apis["counted"] = [
    ("In the catalogue file" if pd.isna(note) else "The file only (more were drawn from elsewhere)")
    + f", {spans.loc[run, 'min']:%b %Y} to {spans.loc[run, 'max']:%b %Y}"
    for note, run in zip(apis["definition_note"], runs, strict=True)]
chart_block(f"{number(apis['value'].iloc[-1])} APIs in the cross-government catalogue by "
            f"{apis['date'].iloc[-1]:%B %Y}",
            charts.line(apis, "date", "value", series="counted", y_title="APIs published"),
            apis[["date", "value", "counted"]], "apis-published.csv", data_date=apis["date"].max(), **trust)
for change in snapshot.definition_notes("apis_published").itertuples():
    st.info(f"**A change of definition, not of data sharing ({date(change.first_date)} to "
            f"{date(change.last_date)}):** {change.note}")

sections.by_department("Data sharing", "APIs published", trust, "apis")
sections.by_kind("Data sharing", "APIs published", trust, "apis")
sections.movers("Data sharing", "APIs published", trust, "apis")

st.header("Data sharing from departments' returns")
returned = snapshot.returned_data_sharing_by_department()
if returned.empty:
    st.info("No department has returned data sharing figures yet.")
else:
    illustrative = illustrative_notice(returned)
    table(returned.drop(columns=["quarter_end"]), "data-sharing-returns.csv",
          alt="Data sharing agreements and APIs from departments' returns")
    source_line("Departments' quarterly returns (agreements in force, APIs published)", returned["quarter_end"].max(),
                illustrative=illustrative)
