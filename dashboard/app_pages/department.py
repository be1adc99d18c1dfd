"""One department: its agencies, its returns, its plans, where its figures disagree, and who to ask."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import snapshot
from dashboard.components import (
    date,
    escape,
    headline,
    html,
    illustrative_notice,
    is_blank,
    number,
    page_header,
    percent,
    source_line,
    status_tag,
    status_text,
    table,
)
from dashboard.sign_in import current_viewer

league = snapshot.departments_by_name()
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

dates = snapshot.platform_latest_dates().set_index("platform")
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
returned = "none" if is_blank(row["returned_quarter"]) else row["returned_quarter"]
source_line(f"GOV.UK Pay to {date(dates.loc['GOV.UK Pay', 'latest_date'])}; One Login registry; API catalogue; "
            f"Notify register (2019); returns ({returned})",
            dates["latest_date"].max(), illustrative=bool(row["returns_are_illustrative"]))

st.subheader("Where it stands")
html("<ul>"
     f"<li>One Login adoption plan: {status_tag(row['one_login_plan'])}</li>"
     f"<li>Mandate to use GOV.UK Pay and GOV.UK Notify: {status_tag(row['pay_and_notify'])}</li>"
     f"<li>Data sharing: {status_tag(row['data_sharing'])}</li>"
     f"<li>Its own return for {escape(row['current_quarter'])}: {status_tag(row['own_return_status'])}; "
     f"{int(row['organisations_to_chase'])} of its organisations to chase</li>"
     f"<li>Returned Pay figures that differ from GOV.UK Pay's: {int(row['reconciliation_differences'])}</li></ul>")

st.subheader("Digital skills")
capacity = snapshot.department_digital_capacity(code, row["department_name"])
skills = snapshot.department_return_skills(code)
columns = st.columns(3)
own_years = capacity[capacity["mapping_note"].isna()]
with columns[0]:
    if own_years.empty:
        headline("DDaT profession share", "–", help="No Civil Service Statistics figure under this department.")
    else:
        last = own_years.iloc[-1]
        headline(f"DDaT profession share, 31 March {last['year']}", f"{last['ddat_share_pct']:.1f}%"
                 + (" (low coverage)" if last["low_coverage"] else ""),
                 help="Civil servants in post whose profession of post is Digital, Data and Technology, as a share "
                 "of the department's headcount (Civil Service Statistics). Not the 'digital and data roles' of the "
                 "10% target, which count something else.")
reported = skills[skills["skills_reported"]]
with columns[1]:
    headline("DDaT staff (FTE), from its returns",
             "–" if reported.empty else number(reported["ddat_staff_fte"].sum()),
             help="The sum over its organisations' latest returns that report the skills section.")
with columns[2]:
    headline("Adoption rate from returns", percent(row["returned_adoption_rate"]),
             help="Services live / services in scope, all platforms, latest quarter returned: its adoption, beside "
             "its digital capacity")
if capacity.empty:
    st.info("The Civil Service Statistics the tracker holds (2021 to 2023) have no figure for this department.")
else:
    table(capacity, f"{code}-ddat-share.csv", described_by="marts.digital_capacity",
          alt=f"{row['department_name']}: DDaT profession share per year")
    for note in capacity["mapping_note"].dropna().drop_duplicates():
        st.info(note)
    source_line("Civil Service Statistics (Cabinet Office), staff in post on 31 March", capacity["as_at"].max())
if skills.empty:
    st.info("No accepted return from this department and its agencies yet, so no skills figures or barriers.")
else:
    illustrative_notice(skills)
    table(skills.assign(skills_reported=skills["skills_reported"].map(
              lambda r: "reported" if r else "skills not reported (previous template)")),
          f"{code}-skills.csv", described_by="marts.return_skills",
          alt=f"{row['department_name']}: skills figures and barriers from its latest returns")

st.subheader("Its organisations on the platforms")
organisations = snapshot.department_organisations(code)
if organisations.empty:
    st.info("No organisation in this department appears in the platforms' published figures.")
else:
    table(organisations, f"{code}-organisations.csv", described_by="marts.organisation_adoption",
          alt=f"{row['department_name']}: its organisations on the platforms", pinned=("organisation_name",))
    source_line("Platform figures matched to GOV.UK organisations", dates["latest_date"].max())

returns = snapshot.department_submissions(code, current_viewer().scope)
st.subheader("Returns history")
status = snapshot.department_returns_status(code)
if returns.empty:
    st.info("This department and its agencies have sent no returns.")
else:
    illustrative_notice(returns)
    table(returns.assign(status=returns["status"].map(status_text)), f"{code}-returns.csv",
          described_by="marts.return_submissions", alt=f"{row['department_name']}: returns history")
if not status.empty:
    st.markdown("**Expected returns, latest quarters first**")
    table(status.assign(status=status["status"].map(status_text)), f"{code}-returns-status.csv",
          described_by="marts.returns_status", alt=f"{row['department_name']}: expected returns")

st.subheader("Plans: services not yet live, from its latest returns")
plans = snapshot.department_plans(code)
if plans.empty:
    st.info("No plans: this department and its agencies have no accepted return.")
else:
    illustrative_notice(plans)
    table(plans, f"{code}-plans.csv", described_by="marts.return_adoption",
          alt=f"{row['department_name']}: services not yet live")

st.subheader("Reconciliation: returned Pay figures against GOV.UK Pay's own")
reconciliation = snapshot.department_reconciliation(code)
if reconciliation.empty:
    st.info("Nothing to reconcile: no returned Pay figures for this department.")
else:
    table(reconciliation.assign(outcome=reconciliation["outcome"].map(status_text)), f"{code}-reconciliation.csv",
          described_by="marts.return_reconciliation", alt=f"{row['department_name']}: reconciliation with GOV.UK Pay")

st.subheader("Who to ask: the departments furthest ahead on each platform")
peers = []
for column, label in [("pay_live_services", "GOV.UK Pay live services"),
                      ("one_login_services", "GOV.UK One Login services"), ("apis_published", "APIs published"),
                      ("notify_agreements_signed_2019", "Notify agreements (2019)"),
                      ("returned_adoption_rate", "adoption rate from returns")]:
    others = league[(league["department_code"] != code) & league[column].notna() & (league[column] > 0)]
    for _, peer in others.sort_values(column, ascending=False).head(3).iterrows():
        value = percent(peer[column]) if column == "returned_adoption_rate" else number(peer[column])
        peers.append({"peer_measure": label, "peer_department": peer["department_name"], "peer_figure": value,
                      "own_figure": percent(row[column]) if column == "returned_adoption_rate"
                      else number(row[column])})
table(pd.DataFrame(peers, columns=["peer_measure", "peer_department", "peer_figure", "own_figure"]),
      f"{code}-peers.csv", alt="Departments furthest ahead on each platform")
