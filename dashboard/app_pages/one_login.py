"""GOV.UK One Login, with GOV.UK Verify as its history: how many services use it, and who has a plan?"""

from __future__ import annotations

import streamlit as st

from dashboard import charts, sections, snapshot
from dashboard.components import (
    chart_block,
    date,
    illustrative_notice,
    number,
    page_header,
    percent,
    platform_overview,
    table,
)

page_header("GOV.UK One Login and GOV.UK Verify", "how many services use GOV.UK One Login, which departments "
            "run them and moved most, which departments have an adoption plan, and what GOV.UK Verify reached "
            "before One Login replaced it?")

trust = platform_overview("GOV.UK One Login", "one_login_services_onboarded")
if trust is not None:  # else the notice says why there is no figure; the plans come from returns
    onboarded = snapshot.metric_history_to_reporting_date("one_login_services_onboarded")
    chart_block(f"{number(onboarded['value'].iloc[-1])} services onboarded by {date(onboarded['date'].iloc[-1])}",
                charts.line(onboarded, "date", "value", y_title="services onboarded"), onboarded,
                "one-login-services.csv", data_date=onboarded["date"].max(),
                note="Counted from the relying-party registry, which only starts on 5 February 2025: services "
                "onboarded earlier all appear on that date. One Login's own and test clients are excluded.", **trust)

    sections.by_department("GOV.UK One Login", "live services", trust, "one-login")
    sections.by_kind("GOV.UK One Login", "live services", trust, "one-login")
    sections.movers("GOV.UK One Login", "live services", trust, "one-login")

st.subheader("Departments with a One Login adoption plan (from returns)")
plans = snapshot.one_login_plans()
if plans.empty:
    st.info("No department has returned a One Login plan yet.")
else:
    illustrative_notice(plans)
    latest = plans.iloc[-1]
    st.markdown(f"**{int(latest['departments_with_plan'])} of {int(latest['expected_departments'])}** expected "
                f"departments ({percent(latest['departments_with_plan_share'])}) reported One Login services live "
                f"or planned in {latest['reporting_quarter']}; {int(latest['departments_returned'])} returned.")
    table(plans, "one-login-plans.csv", alt="Departments with a One Login adoption plan, by quarter")
sections.reported_by_departments("GOV.UK One Login", "one-login")

st.header("GOV.UK Verify: the history")
verify_trust = platform_overview("GOV.UK Verify", "verify_accounts_cumulative")
if verify_trust is not None:
    accounts = snapshot.platform_history("GOV.UK Verify")
    created = accounts[accounts["measure"].str.startswith("accounts created in")]
    best = created.loc[created["value"].idxmax()]
    chart_block(f"Verify accounts created peaked at {number(best['value'])} in the year to {best['date']:%B %Y}",
                charts.bars(created.assign(year=created["date"].dt.strftime("year to %b %Y")), "year", "value",
                            value_title="accounts created", sort_descending=False),
                accounts, "verify-accounts.csv", data_date=accounts["date"].max(), **verify_trust)
