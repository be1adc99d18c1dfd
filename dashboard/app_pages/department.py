"""One department: its agencies, its returns, its plans, where its figures disagree, and who to ask."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.components import (
    escape,
    headline,
    html,
    illustrative_notice,
    number,
    page_header,
    percent,
    source_line,
    status_tag,
    status_text,
    table,
)
from dashboard.snapshot import query

league = query("SELECT * FROM marts.department_league ORDER BY department_name")
codes = list(league["department_code"])
names = dict(zip(league["department_code"], league["department_name"], strict=False))
ANSWERS = ("how far this department and its agencies have moved onto the platforms, what its returns say and "
           "whether they were on time, its plans, where its figures disagree with the platforms', and which "
           "departments are furthest ahead to learn from.")
asked = st.query_params.get("department")
code = st.selectbox("Department", codes, index=codes.index(asked) if asked in codes else None,
                    format_func=lambda c: f"{names[c]} ({c})", placeholder="Choose a department", key="department")
if code is None:
    page_header("One department", ANSWERS)
    st.info("Choose a department above, or open one from the league table.")
    st.stop()
st.query_params["department"] = code
row = league.set_index("department_code").loc[code]
page_header(row["department_name"], ANSWERS)

dates = query("SELECT platform, latest_date FROM marts.platform_headlines WHERE is_headline").set_index("platform")
columns = st.columns(5)
with columns[0]:
    headline("GOV.UK Pay live services", number(row["pay_live_services"]))
with columns[1]:
    headline("GOV.UK One Login services", number(row["one_login_services"]))
with columns[2]:
    headline("APIs published", number(row["apis_published"]))
with columns[3]:
    headline("Notify agreements (2019)", number(row["notify_agreements_signed_2019"]))
with columns[4]:
    headline("Adoption rate from returns", percent(row["returned_adoption_rate"]),
             help="Services live / services in scope, all platforms, latest quarter returned")
source_line(f"GOV.UK Pay to {dates.loc['GOV.UK Pay', 'latest_date']:%d %b %Y}; One Login registry; API catalogue; "
            f"Notify register (2019); returns ({row['returned_quarter'] or 'none'})",
            dates["latest_date"].max(), illustrative=bool(row["returns_are_illustrative"]))

st.subheader("Where it stands")
html("<ul>"
     f"<li>One Login adoption plan: {status_tag(row['one_login_plan'])}</li>"
     f"<li>Mandate to use GOV.UK Pay and GOV.UK Notify: {status_tag(row['pay_and_notify'])}</li>"
     f"<li>Data sharing: {status_tag(row['data_sharing'])}</li>"
     f"<li>Its own return for {escape(row['current_quarter'])}: {status_tag(row['own_return_status'])}; "
     f"{int(row['organisations_to_chase'])} of its organisations to chase</li>"
     f"<li>Returned Pay figures that differ from GOV.UK Pay's: {int(row['reconciliation_differences'])}</li></ul>")

st.subheader("Its organisations on the platforms")
organisations = query("SELECT organisation_name, organisation_code, organisation_type, is_department, "
                      "pay_live_services, pay_names, one_login_services, apis_published, "
                      "notify_agreement_signed_2019 FROM marts.organisation_adoption WHERE department_code = ? "
                      "ORDER BY NOT is_department, pay_live_services DESC, organisation_name", code)
if organisations.empty:
    st.info("No organisation in this department appears in the platforms' published figures.")
else:
    table(organisations, f"{code}-organisations.csv")
    source_line("Platform figures matched to GOV.UK organisations", dates["latest_date"].max())

returns = query("""
    SELECT s.reporting_quarter, s.organisation_name, s.submission_ref, s.file_name, s.received_at, s.status,
           s.summary, s.is_current, s.is_superseded, s.is_illustrative
    FROM marts.return_submissions s
    JOIN staging.organisations o ON o.organisation_code = s.organisation_code
    WHERE o.department_code = ? ORDER BY s.received_at DESC""", code)
st.subheader("Returns history")
status = query("SELECT organisation_name, reporting_quarter, deadline, status, received_at, days_late, "
               "needs_chasing FROM marts.returns_status WHERE department_code = ? "
               "ORDER BY quarter_end DESC, organisation_name LIMIT 40", code)
if returns.empty:
    st.info("This department and its agencies have sent no returns.")
else:
    illustrative_notice(returns)
    table(returns.assign(status=returns["status"].map(status_text)), f"{code}-returns.csv")
if not status.empty:
    st.markdown("**Expected returns, latest quarters first**")
    table(status.assign(status=status["status"].map(status_text)), f"{code}-returns-status.csv")

st.subheader("Plans: services not yet live, from its latest returns")
plans = query("""
    SELECT organisation_name, platform, reporting_quarter, in_scope, live, planned, not_yet_live, adoption_rate,
           is_illustrative
    FROM marts.return_adoption a
    WHERE level = 'organisation' AND department_code = ?
      AND quarter_end = (SELECT max(quarter_end) FROM marts.return_adoption b
                         WHERE b.level = 'organisation' AND b.organisation_code = a.organisation_code)
    ORDER BY organisation_name, platform""", code)
if plans.empty:
    st.info("No plans: this department and its agencies have no accepted return.")
else:
    illustrative_notice(plans)
    table(plans.assign(adoption_rate=plans["adoption_rate"].map(percent)), f"{code}-plans.csv")

st.subheader("Reconciliation: returned Pay figures against GOV.UK Pay's own")
reconciliation = query("SELECT organisation_name, reporting_quarter, reported_live, published_live, difference, "
                       "tolerance, outcome, published_names, published_date, is_illustrative "
                       "FROM marts.return_reconciliation WHERE department_code = ? "
                       "ORDER BY beyond_tolerance DESC, reporting_quarter DESC", code)
if reconciliation.empty:
    st.info("Nothing to reconcile: no returned Pay figures for this department.")
else:
    table(reconciliation.assign(outcome=reconciliation["outcome"].map(status_text)), f"{code}-reconciliation.csv")

st.subheader("Who to ask: the departments furthest ahead on each platform")
peers = []
for column, label in [("pay_live_services", "GOV.UK Pay live services"),
                      ("one_login_services", "GOV.UK One Login services"), ("apis_published", "APIs published"),
                      ("notify_agreements_signed_2019", "Notify agreements (2019)"),
                      ("returned_adoption_rate", "adoption rate from returns")]:
    others = league[(league["department_code"] != code) & league[column].notna() & (league[column] > 0)]
    for _, peer in others.sort_values(column, ascending=False).head(3).iterrows():
        value = percent(peer[column]) if column == "returned_adoption_rate" else number(peer[column])
        peers.append({"platform measure": label, "department": peer["department_name"], "their figure": value,
                      "this department": percent(row[column]) if column == "returned_adoption_rate"
                      else number(row[column])})
table(pd.DataFrame(peers), f"{code}-peers.csv")
