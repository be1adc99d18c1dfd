"""Departments: which departments are ahead or behind, on which platform and which target?"""

from __future__ import annotations

import streamlit as st

from dashboard import snapshot
from dashboard.components import (
    date,
    download,
    illustrative_notice,
    page_header,
    show_frame,
    source_line,
    status_text,
)

page_header("Departments: league table", "which departments are ahead or behind across the platforms, where each "
            "stands on the targets, and whose returns are missing or disagree with the platforms' own figures?")

league = snapshot.department_league()
dates = snapshot.platform_latest_dates()
FILTERS = {
    "every department": lambda f: f,
    "its own return is missing or rejected for the current quarter":
        lambda f: f[(f["own_return_status"] == "missing") | f["own_return_status"].str.startswith("rejected")],
    "any of its organisations must be chased for a return": lambda f: f[f["organisations_to_chase"] > 0],
    "no One Login plan reported": lambda f: f[f["one_login_plan"] != "plan confirmed"],
    "does not use both GOV.UK Pay and GOV.UK Notify": lambda f: f[f["pay_and_notify"] != "uses both"],
    "its returned Pay figures differ from GOV.UK Pay's": lambda f: f[f["reconciliation_differences"] > 0],
}
SORTS = {
    "platforms used, then Pay live services": ["platforms_used", "pay_live_services"],
    "GOV.UK Pay live services": ["pay_live_services"],
    "GOV.UK One Login services": ["one_login_services"],
    "APIs published": ["apis_published"],
    "adoption rate from returns": ["returned_adoption_rate"],
    "organisations to chase": ["organisations_to_chase"],
}

left, middle, right = st.columns([2, 2, 2])
search = left.text_input("Department name contains", key="search")
behind = middle.selectbox("Show departments where", list(FILTERS), key="behind")
sort = right.selectbox("Sort by (largest first)", list(SORTS), key="sort")
types = st.multiselect("Kind of department", sorted(league["organisation_type"].dropna().unique()), key="types")

shown = FILTERS[behind](league)
if search:
    shown = shown[shown["department_name"].str.contains(search, case=False, regex=False)]
if types:
    shown = shown[shown["organisation_type"].isin(types)]
shown = shown.sort_values(SORTS[sort], ascending=False, na_position="last")

st.subheader(f"{len(shown)} of {len(league)} departments")
illustrative = illustrative_notice(league, "Adoption rates, One Login plans, return status and reconciliation "
                                   "come from ILLUSTRATIVE sample returns", column="returns_are_illustrative")
# The key measures first, beside the department's name (pinned), so they show without scrolling sideways
# at 1280 pixels; then the statuses, and the codes and links last.
KEY_COLUMNS = ["department_name", "platforms_used", "pay_live_services", "one_login_services", "apis_published",
               "returned_adoption_rate", "own_return_status", "organisations_to_chase"]
NOTIFY_LIVE = ["notify_live_services"] if league["notify_live_services"].notna().any() else []  # once fetched
LEAGUE_COLUMNS = [*KEY_COLUMNS, *NOTIFY_LIVE, "notify_agreements_signed_2019", "reconciliation_differences",
                  "one_login_plan", "pay_and_notify", "data_sharing", "returned_quarter", "organisation_type",
                  "department_code", "open"]
SHORT = {"platforms_used": "Platforms (of 4)", "pay_live_services": "Pay services",
         "one_login_services": "One Login", "apis_published": "APIs",
         "notify_agreements_signed_2019": "Notify (2019)", "notify_live_services": "Notify services",
         "returned_adoption_rate": "Adoption rate",
         "own_return_status": "Own return", "organisations_to_chase": "To chase",
         "reconciliation_differences": "Pay differences"}
league_table = shown.assign(
    open="/department?department=" + shown["department_code"],
    one_login_plan=shown["one_login_plan"].map(status_text),
    pay_and_notify=shown["pay_and_notify"].map(status_text),
    data_sharing=shown["data_sharing"].map(status_text),
    own_return_status=shown["own_return_status"].map(status_text),
)[LEAGUE_COLUMNS]
show_frame(league_table, alt="League table of departments", titles=SHORT, pinned=("department_name",), height=560,
           described_by="marts.department_league")
download(league_table.drop(columns=["open"]), "department-league.csv", "Download this table (CSV)")
source_line("GOV.UK Pay, One Login registry, API catalogue, Notify register (platform columns); departments' "
            "returns (adoption rate, plan, return status, differences)", dates["latest_date"].max(),
            illustrative=illustrative)
st.caption("Platform figures: " + "; ".join(f"{r.platform} to {date(r.latest_date)}" for r in dates.itertuples())
           + (f"; GOV.UK Notify live services as fetched on {date(league['notify_live_date'].max())}"
              if NOTIFY_LIVE else "")
           + ". Each department's figures include its agencies and other bodies. Select a column heading to sort; "
           "hover over a heading for what it counts.")
