"""Data quality and sources: can I trust this number, where does it come from, and how fresh is it?"""

from __future__ import annotations

import streamlit as st

from dashboard import charts
from dashboard.components import (
    chart_block,
    date,
    escape,
    html,
    is_blank,
    page_header,
    percent,
    source_line,
    status_tag,
    status_text,
    table,
)
from dashboard.snapshot import query

page_header("Data quality and sources", "where does every figure come from, how fresh is each source, did the "
            "latest checks pass, what was quarantined, and how well are platform organisation names matched?")

st.header("Sources and freshness")
sources = query("SELECT * FROM marts.sources ORDER BY freshness = 'fresh', source")


def freshness_line(source) -> str:
    line = f"<li><strong>{escape(source.name)}</strong>: {status_tag(source.freshness)} "
    if not is_blank(source.latest_date):
        line += f"data to {date(source.latest_date)}, {int(source.days_old)} days before the reporting date"
        if not is_blank(source.fresh_within_days):
            line += f" (expected within {int(source.fresh_within_days)} days: {escape(source.cadence)})"
        line += ". "
    if source.closed_note:
        line += escape(source.closed_note)
    return line + "</li>"


html("<ul>" + "".join(freshness_line(s) for s in sources.itertuples()) + "</ul>")
table(sources.assign(freshness=sources["freshness"].map(status_text)), "sources.csv")

st.header("Latest check results")
checks = query("SELECT * FROM meta.check_results ORDER BY outcome = 'passed', outcome, asset, check_name")
counts = checks["outcome"].value_counts()
html("<p>" + " ".join(f"{status_tag(o)} {int(counts[o])}" for o in ["failed", "warning", "passed", "not run"]
                      if o in counts) + "</p>")
if not checks.empty and checks["evaluated_at"].notna().any():
    st.caption(f"Checked by the pipeline run that published these figures; last check at "
               f"{checks['evaluated_at'].max():%d %b %Y %H:%M} UTC. Failed checks block the figures after them; "
               "warnings are published for people to act on.")
table(checks.assign(outcome=checks["outcome"].map(status_text)), "check-results.csv")

st.header("Quarantine: what was held back, and why")
problems = query("SELECT rule, count(*) AS problems, count(DISTINCT submission_ref) AS returns, "
                 "bool_or(is_current) AS still_current FROM marts.return_problems GROUP BY 1 ORDER BY 2 DESC")
rejected = query("SELECT count(*) AS n FROM marts.return_submissions WHERE status = 'rejected'")["n"].iloc[0]
st.markdown(f"**{int(rejected)} rejected returns** are kept in full, with **{int(problems['problems'].sum())} "
            "problems** in quarantine. Nothing is deleted: every file's bytes stay in the raw layer.")
table(problems, "quarantine-counts.csv")

st.header("Data quality of returns (Government Data Quality Framework)")
quality = query("SELECT * FROM marts.return_data_quality")
table(quality.assign(score=quality["score"].map(percent)), "returns-data-quality.csv")

st.header("Matching platform organisation names to GOV.UK organisations")
coverage = query("""
    SELECT platform, snapshot_date, organisation_names, matched_names, services, matched_services,
           outside_govuk_services, unmatched_services, matched_share, matched_share_excluding_outside
    FROM staging.organisation_match_coverage
    WHERE snapshot_date IS NULL OR (platform, snapshot_date) IN
          (SELECT (platform, max(snapshot_date)) FROM staging.organisation_match_coverage GROUP BY platform)
    ORDER BY platform""")
table(coverage.assign(matched_share=coverage["matched_share"].map(percent),
                      matched_share_excluding_outside=coverage["matched_share_excluding_outside"].map(percent)),
      "matching-coverage.csv")
st.caption("'Outside GOV.UK' are bodies that are not on the GOV.UK register (councils, police, NHS trusts): they "
           "count towards the platform but not towards any department.")
trend = query("SELECT snapshot_date, matched_share_excluding_outside FROM staging.organisation_match_coverage "
              "WHERE platform = 'GOV.UK Pay' ORDER BY snapshot_date")
chart_block(f"{percent(trend['matched_share_excluding_outside'].iloc[-1], 0)} of GOV.UK Pay's services that could "
            "be matched to a GOV.UK organisation are matched",
            charts.line(trend, "snapshot_date", "matched_share_excluding_outside", y_title="share matched"), trend,
            "pay-matching-trend.csv", source="GOV.UK Pay performance data, matched by the tracker",
            data_date=trend["snapshot_date"].max())

st.header("Where every figure comes from")
lineage = query("""
    SELECT h.platform, h.measure, h.latest_value, h.latest_date, h.source_name, h.publisher, s.origin,
           s.newest_file, s.newest_file_sha256, h.freshness, h.is_illustrative
    FROM marts.platform_headlines h LEFT JOIN marts.sources s ON s.source = h.source
    ORDER BY h.platform, h.measure""")
table(lineage.assign(freshness=lineage["freshness"].map(status_text)), "figure-sources.csv")
source_line("marts.platform_headlines and marts.sources in the published snapshot", lineage["latest_date"].max())
