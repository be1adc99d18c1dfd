"""GOV.UK Notify: which organisations signed Notify's data sharing and financial agreement, and (from the tracker's
own fetches of Notify's performance page) how many services each department runs on Notify now?"""

from __future__ import annotations

import streamlit as st

from dashboard import charts, sections, snapshot
from dashboard.components import (
    chart_block,
    date,
    number,
    page_header,
    platform_overview,
)

page_header("GOV.UK Notify", "how many organisations signed GOV.UK Notify's data sharing and financial agreement, "
            "how that grew, and which departments and sectors they belong to? And how many live services each "
            "department runs on Notify, from Notify's performance page?")

TOP_DEPARTMENTS = 15

trust = platform_overview("GOV.UK Notify", "notify_agreements_signed")
if trust is None:  # nothing by the reporting date: the notice says why
    st.stop()

history = snapshot.platform_history("GOV.UK Notify")
signed = history[history["measure"].str.startswith("organisations that signed")]
chart_block(f"Signed agreements rose from {number(signed['value'].iloc[0])} to {number(signed['value'].iloc[-1])} "
            f"between {signed['date'].iloc[0]:%B %Y} and {signed['date'].iloc[-1]:%B %Y}",
            charts.line(history, "date", "value", series="measure", y_title="organisations"), history,
            "notify-history.csv", data_date=history["date"].max(), **trust)

sections.by_department("GOV.UK Notify", "organisations with data sharing agreement", trust, "notify")
sections.by_kind("GOV.UK Notify", "organisations", trust, "notify")
sections.movers("GOV.UK Notify", "organisations with data sharing agreement", trust, "notify")
sections.reported_by_departments("GOV.UK Notify", "notify")

st.header("Live services by department, from Notify's performance page")
live = snapshot.notify_live_by_department()
LIVE_SOURCE = "GOV.UK Notify's performance page, as the tracker fetched it"
if live.empty:
    st.info("The live figures appear once the Notify feed has been fetched: the tracker fetches GOV.UK Notify's "
            "performance page every day (data/feeds.yaml) and keeps each version, since Notify publishes no history. "
            "The figures above are from the 2019 agreement register.")
else:
    fetched_on = live["data_date"].max()
    top = live.head(TOP_DEPARTMENTS)
    chart_block(f"{top['department_name'].iloc[0]} runs the most live services on Notify: "
                f"{number(top['live_services'].iloc[0])}, of {number(live['live_services'].sum())} across "
                f"{len(live)} departments on {date(fetched_on)}",
                charts.bars(top, "department_name", "live_services", value_title="live services"), live,
                "notify-live-by-department.csv", source=LIVE_SOURCE, data_date=fetched_on,
                note="These figures come from the tracker's own fetches of GOV.UK Notify's performance page "
                f"(the latest on {date(fetched_on)}), not from the 2019 agreement register above. Each department "
                "counts its own organisations and agencies that Notify names; names that match no GOV.UK "
                "organisation (councils, NHS bodies, services with no organisation) are not counted. The "
                f"{min(TOP_DEPARTMENTS, len(live))} largest departments are charted; the table has every one.")
