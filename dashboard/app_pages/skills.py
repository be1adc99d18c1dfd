"""Skills and barriers: each department's digital capacity and what it says holds it back, beside its adoption.

Three counts of digital people are never mixed (data/targets.yaml, measures): the DDaT profession that the Civil
Service Statistics count per department, the wider DDaT function, and the "digital and data roles" of the 10% target.
"""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard import charts, snapshot
from dashboard.components import (
    chart_block,
    date,
    headline,
    illustrative_notice,
    markdown_safe,
    number,
    page_header,
    source_line,
    table,
)

page_header("Skills and barriers", "how many civil servants in each department work in the digital, data and "
            "technology (DDaT) profession and how that changes, how it compares with the 10% target (which counts "
            "something else), what departments say holds back adoption, what civil servants said in 2015-2017, "
            "and how each department's digital share sits beside its adoption.")

STATISTICS = "Civil Service Statistics (Cabinet Office), staff in post on 31 March"
national = snapshot.digital_capacity_national()
capacity = snapshot.digital_capacity()
targets = snapshot.target_progress().set_index("target_id")
st.header("Digital share of the civil service")
if national.empty or capacity.empty:  # no statistics describe a date on or before the reporting date
    st.info("No Civil Service Statistics describe a date on or before the reporting date, "
            f"{date(snapshot.snapshot_info().as_of)}.")
else:
    latest = national.iloc[-1]
    ten = targets.loc["digital-data-share-10pc-2030"] if "digital-data-share-10pc-2030" in targets.index else None

    columns = st.columns(3)
    with columns[0]:
        headline(f"DDaT profession, 31 March {latest['year']}", f"{latest['ddat_share_pct']:.2f}%",
                 help=latest["definition"])
    with columns[1]:
        headline(f"Civil servants in the DDaT profession, of {number(latest['total_headcount'])} in {latest['year']}",
                 number(latest["ddat_headcount"]))
    with columns[2]:
        if ten is not None:
            headline("Target: digital and data roles by 2030", f"{ten['target']:.0f}%",
                     help=ten["measure_counts"])
    source_line(STATISTICS, latest["as_at"])
    if ten is not None:
        st.warning(f"**The 10% target counts a different thing.** It counts {ten['measure_counts']}. The DDaT "
                   f"profession counts {ten['beside_counts']}. The two are shown side by side and never compared: "
                   f"the tracker does not judge the 10% target on the profession's share. The target's baseline is "
                   f"{ten['baseline']:.0f}% on {date(ten['baseline_date'])} ({ten['baseline_note']}).")

    low = national[national["low_coverage"]]
    trend = national.assign(as_published=[
        f"31 March {y}" + (" (low coverage)" if low_flag else "")
        for y, low_flag in zip(national["year"], national["low_coverage"], strict=True)])
    first_share, last_share = trend["ddat_share_pct"].iloc[0], trend["ddat_share_pct"].iloc[-1]
    moved = "grew" if last_share > first_share else "fell" if last_share < first_share else "stayed the same,"
    chart_block(f"The DDaT profession {moved} from {first_share:.2f}% to "
                f"{last_share:.2f}% of civil servants between {trend['year'].iloc[0]} and "
                f"{trend['year'].iloc[-1]}",
                charts.bars(trend, "as_published", "ddat_share_pct", value_title="% of civil servants in post",
                            value_kind="percent", sort_descending=False),
                trend.drop(columns=["as_published"]).astype({"year": str}), "ddat-share-national.csv",
                source=STATISTICS,
                data_date=trend["as_at"].max(),
                note=("Low coverage: in " + ", ".join(str(y) for y in low["year"]) + " more than 20% of staff had no "
                      "recorded profession, so the share understates the profession that year; it is not a fall in "
                      "capacity. " if not low.empty else "")
                + "The DDaT profession is the civil servants whose profession of post is Digital, Data and Technology.")

    st.header("Each department's DDaT share")
    latest_year = int(capacity["year"].max())
    this_year = capacity[(capacity["year"] == latest_year) & capacity["ddat_share_pct"].notna()].copy()
    this_year["department"] = this_year["department_name"].where(this_year["successor_departments"].isna(),
                                                                  this_year["department_name"] + " (split since)")
    top = this_year.iloc[0]
    chart_block(f"{top['department_name']} had the largest DDaT share on 31 March {latest_year}: "
                f"{top['ddat_share_pct']:.1f}% of its civil servants",
                charts.bars(this_year, "department", "ddat_share_pct", value_title="% in the DDaT profession",
                            value_kind="percent"),
                this_year.drop(columns=["department"]).astype({"year": str}),
                f"ddat-share-by-department-{latest_year}.csv", source=STATISTICS,
                data_date=this_year["as_at"].max(),
                note="Each department as it was on that date. A department that was split afterwards is shown under "
                "its old name, with its successors named in the table: its staff are not divided between them, "
                "because the statistics do not say how.")
    split = this_year[this_year["successor_departments"].notna()]
    for note in split["mapping_note"].dropna().drop_duplicates():
        st.info(note)
    named = this_year[this_year["mapping_note"].notna() & this_year["successor_departments"].isna()]
    if not named.empty:
        with st.expander(f"How {len(named)} published names were matched to departments"):
            for _, body in named.iterrows():
                st.markdown(f"- **{markdown_safe(body['name_as_published'])}**: {markdown_safe(body['mapping_note'])}")

    st.subheader("Trend per department")
    known = capacity[capacity["ddat_share_pct"].notna()].sort_values("as_at")
    trend_table = known.groupby("department_name", as_index=False).agg(
        first_year=("year", "first"), first_share_pct=("ddat_share_pct", "first"),
        latest_year=("year", "last"), ddat_share_pct=("ddat_share_pct", "last"))
    trend_table["share_change_points"] = (trend_table["ddat_share_pct"] - trend_table["first_share_pct"]).round(2)
    low_years = capacity[capacity["low_coverage"]].groupby("department_name")["year"].apply(
        lambda years: ", ".join(str(y) for y in sorted(years)))
    trend_table["low_coverage_years"] = trend_table["department_name"].map(low_years)
    trend_table[["first_year", "latest_year"]] = trend_table[["first_year", "latest_year"]].astype(str)
    table(trend_table.sort_values("ddat_share_pct", ascending=False), "ddat-share-trend.csv",
          alt="DDaT share per department: earliest and latest year", pinned=("department_name",))
    st.caption("A change across a low-coverage year partly reflects better recording of professions, not only more "
               "people.")
    source_line(STATISTICS, capacity["as_at"].max())

st.header("What the government said, beside what the data says")
said = snapshot.published_figures()
table(said, "published-figures.csv", alt="Published figures beside the tracker's own", pinned=("subject",))
st.caption("Each figure as it was published, with its source and date. It is compared with the tracker's own figure "
           "only where the tracker counts the same thing; otherwise the last column says why not.")

st.header("The barriers departments report")
barriers = snapshot.return_barriers()
if barriers.empty:
    st.info("No return with the skills section has been accepted yet: the barriers appear once departments send "
            "returns on the current template.")
else:
    illustrative_notice(barriers.rename(columns={"uses_illustrative_data": "is_illustrative"}))
    newest = barriers[barriers["quarter_end"] == barriers["quarter_end"].max()]
    leading = newest.sort_values(["departments_naming", "barrier_order"], ascending=[False, True]).iloc[0]
    chart_block(f"{leading['barrier'].capitalize()} was named by the most departments in "
                f"{leading['reporting_quarter']}: {number(leading['departments_naming'])}",
                charts.bars(newest, "barrier", "departments_naming", value_title="departments naming it"),
                barriers.drop(columns=["quarter_end", "barrier_order"]), "barriers-by-quarter.csv",
                source="Departments' quarterly returns", data_date=barriers["quarter_end"].max(),
                illustrative=bool(barriers["uses_illustrative_data"].any()),
                note="A department names a barrier when any of its organisations' latest return for the quarter names "
                "it among its main barriers (up to three). The table has every quarter.")

st.header("What civil servants said, 2015-2017")
surveys = snapshot.civil_servant_surveys()
table(surveys.drop(columns=["percent_value"]), "civil-servant-surveys.csv",
      alt="What civil servants said about digital skills and barriers", pinned=("finding",))
st.caption("As worded in the published reports: where a report gave words (\"nearly half\") rather than a figure, the "
           "words are kept. These surveys ranked the shortage of digital skills as the largest barrier.")

st.header("Digital share beside adoption")
both = snapshot.adoption_and_digital_share()
both = both[both["ddat_share_pct"].notna() & both["pay_live_services"].notna()]
pay_date = snapshot.platform_latest_dates().set_index("platform")["latest_date"].get("GOV.UK Pay")
if not both.empty and pay_date is not None:  # no Pay figure by the reporting date: nothing to set beside
    st.markdown("**This shows association, not cause.** A department with a larger digital share may run more "
                "services on GOV.UK Pay for many reasons (its size, the services it runs), and the chart cannot say "
                "that one leads to the other.")
    scatter = alt.Chart(both).mark_circle(size=80).encode(
        x=alt.X("ddat_share_pct:Q", title="% of civil servants in the DDaT profession (latest year)"),
        y=alt.Y("pay_live_services:Q", title="GOV.UK Pay live services"),
        tooltip=[alt.Tooltip("department_name:N", title="Department"),
                 alt.Tooltip("ddat_share_pct:Q", title="DDaT share (%)", format=".1f"),
                 alt.Tooltip("pay_live_services:Q", title="GOV.UK Pay live services", format=",")],
    ).properties(height=charts.HEIGHT)
    chart_block("Departments' DDaT share beside their GOV.UK Pay live services", scatter, both.astype({"year": str}),
                "digital-share-and-adoption.csv", source=f"{STATISTICS}; GOV.UK Pay's performance data",
                data_date=pay_date,
                note="Association, not cause. The DDaT share is of the latest Civil Service Statistics year the "
                f"tracker holds (31 March {latest_year}); the live services are GOV.UK Pay's latest figures "
                f"({date(pay_date)}).")
else:
    st.info("No department has both a DDaT share and GOV.UK Pay live services.")
