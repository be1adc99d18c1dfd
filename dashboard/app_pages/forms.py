"""GOV.UK Forms and forms not yet online: how many forms are live, and how many are still on paper?"""

from __future__ import annotations

import streamlit as st

from dashboard import charts, snapshot
from dashboard.components import (
    chart_block,
    illustrative_notice,
    number,
    page_header,
    percent,
    platform_overview,
    source_line,
    table,
)

page_header("GOV.UK Forms", "how many forms are live on GOV.UK Forms and how fast that grows, and how many of "
            "departments' forms are online rather than paper only?")

trust = platform_overview("GOV.UK Forms", "forms_live_forms")
if trust is None:  # nothing by the reporting date: the notice says why
    st.stop()

history = snapshot.platform_history("GOV.UK Forms", leave_out_metric="forms_submissions_cumulative")
live = history[history["measure"] == "live forms"]
chart_block(f"Live forms grew from {number(live['value'].iloc[0])} to {number(live['value'].iloc[-1])} "
            f"between {live['date'].iloc[0]:%B %Y} and {live['date'].iloc[-1]:%B %Y}",
            charts.line(history, "date", "value", series="measure", y_title="at each version"), history,
            "forms-history.csv", data_date=history["date"].max(),
            note="GOV.UK Forms publishes totals only: there is no public breakdown by department or sector, "
            "so those come from departments' returns below.", **trust)

st.header("Forms online, from departments' returns")
forms = snapshot.returned_forms()
if forms.empty:
    st.info("No department has returned forms figures yet.")
else:
    illustrative = illustrative_notice(forms)
    overall = forms[forms["level"] == "all returning organisations"]
    last = overall.iloc[-1]
    chart_block(f"{percent(last['forms_online_share'], 0)} of returning organisations' forms were online in "
                f"{last['reporting_quarter']} ({number(last['forms_paper_only'])} still paper only)",
                charts.line(overall, "quarter_end", "forms_online_share", y_title="share of forms online",
                            points=True, y_kind="share"),
                overall[["reporting_quarter", "forms_total", "forms_online", "forms_paper_only", "forms_online_share",
                         "organisations_reporting"]], "forms-online.csv", source="Departments' quarterly returns",
                data_date=last["quarter_end"], illustrative=illustrative)
    st.subheader("By department, latest quarter each returned")
    departments = forms[forms["level"] == "department"].sort_values("quarter_end").groupby("department_code").tail(1)
    shown = departments[["department_name", "reporting_quarter", "forms_total", "forms_online", "forms_paper_only",
                         "forms_online_share"]].sort_values("forms_online_share", ascending=False)
    table(shown, "forms-by-department.csv", alt="Forms online by department, latest quarter each returned")
    source_line("Departments' quarterly returns", departments["quarter_end"].max(),
                illustrative=illustrative)
