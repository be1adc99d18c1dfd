"""Data quality and sources: can I trust this number, where does it come from, and how fresh is it?"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, snapshot
from dashboard.components import (
    chart_block,
    date,
    escape,
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
from dashboard.formatting import uk_timestamp

page_header("Data quality and sources", "where does every figure come from, how fresh is each source, did the "
            "latest checks pass, what was quarantined, and how well are platform organisation names matched?")

st.header("Sources and freshness")
sources = snapshot.sources()
st.markdown("Each source has **two ages**. **Tracker last built it** is when a run of the tracker last wrote the "
            "source's tables: it says whether the tracker is keeping up. **Latest figure** is the date of the newest "
            "figure the source itself published: it says whether the publisher is keeping up. They differ: a weekly "
            "feed the tracker read this morning can still end last week, and a source is stale when its latest "
            "figure is older than its window, however recently the tracker read it.")


def build_age(built_at) -> str:
    """How long ago the tracker built a source, as of now (the page's time, not the reporting date)."""
    days = (pd.Timestamp.now(tz="UTC").tz_localize(None) - pd.Timestamp(built_at)).days
    return "today" if days < 1 else "yesterday" if days < 2 else f"{days} days ago"


def freshness_line(source) -> str:
    line = f"<li><strong>{escape(source.name)}</strong>: {status_tag(source.freshness)} "
    if not is_blank(source.latest_date):
        line += f"latest figure {date(source.latest_date)}, {int(source.days_old)} days before the reporting date"
        if not is_blank(source.fresh_within_days):
            line += f" (expected within {int(source.fresh_within_days)} days: {escape(source.cadence)})"
        line += ". "
    if not is_blank(source.last_built_at):
        built = source.last_built_at
        line += f"Tracker last built it {build_age(built)} ({escape(uk_timestamp(built))}). "
    if source.closed_note:
        line += escape(source.closed_note)
    if source.feed_status != "read in full":
        line += f" {status_tag('warning')} The latest run {escape(source.feed_status)}: " \
                f"{escape(source.feed_problem_summary or '')}"
    return line + "</li>"


html("<ul>" + "".join(freshness_line(s) for s in sources.itertuples()) + "</ul>")
table(sources.drop(columns=["as_of"]).assign(freshness=sources["freshness"].map(status_text)), "sources.csv",
      described_by="marts.sources", alt="Every source and its freshness", pinned=("source",))

st.header("Recent alerts")
recent = snapshot.alerts()
if recent is None:
    st.info("This snapshot was published before the tracker kept alerts.")
elif recent.empty:
    st.success("No alert: no run has failed and no source or snapshot has gone stale.")
else:
    st.caption("The latest alerts for a failed run, a stale source or an overdue snapshot, as they stood when this "
               "snapshot was published (an alert raised since then shows with the next publication).")
    table(recent, "alerts.csv", alt="The latest alerts, newest first")

st.header("Files that could not be read")
problems = snapshot.feed_problems()
if problems.empty:
    st.success("The latest run read every file of every source.")
else:
    st.warning(f"{len(problems)} problem(s) in the latest run. Each file named here was left out (its bytes are "
               "kept), and the source's other files still count; where no single file explains a problem, the "
               "source keeps its last good figures. Every other source was published.")
    table(problems, "feed-problems.csv", described_by="marts.feed_problems",
          alt="Files the latest run could not read, with the problem and what the tracker did")

st.header("Latest check results")
checks = snapshot.check_results()
counts = checks["outcome"].value_counts()
html("<p>" + " ".join(f"{status_tag(o)} {int(counts[o])}" for o in ["failed", "warning", "passed", "not run"]
                      if o in counts) + "</p>")
if not checks.empty and checks["evaluated_at"].notna().any():
    st.caption(f"Checked by the pipeline run that published these figures; last check at "
               f"{uk_timestamp(checks['evaluated_at'].max())}. Failed checks block the figures after them; "
               "warnings are published for people to act on.")
table(checks.assign(outcome=checks["outcome"].map(status_text)), "check-results.csv",
      alt="The latest result of every data check", pinned=("check_name",))

st.header("Quarantine: what was held back, and why")
illustrative_notice(snapshot.return_submission_counts(()), "The returns counted in this section and the next come, in "
                    "part or in whole, from ILLUSTRATIVE sample returns")
problems = snapshot.quarantine_counts()
rejected = snapshot.rejected_returns_count()
held = int(problems["problems"].sum())
st.markdown(f"**{number(int(rejected))} rejected {'return is' if rejected == 1 else 'returns are'}** kept in full, "
            f"with **{number(held)} {'problem' if held == 1 else 'problems'}** in quarantine. Nothing is deleted: "
            "every file's bytes stay in the raw layer.")
table(problems, "quarantine-counts.csv", alt="Problems in quarantine by rule")

st.header("Data quality of returns (Government Data Quality Framework)")
quality = snapshot.returns_data_quality()
table(quality.drop(columns=["as_of"]), "returns-data-quality.csv", described_by="marts.return_data_quality",
      alt="Data quality of returns by dimension")

st.header("Matching platform organisation names to GOV.UK organisations")
coverage = snapshot.organisation_match_coverage()
table(coverage, "matching-coverage.csv", alt="How well each platform's organisation names are matched")
st.caption("'Outside GOV.UK' are bodies that are not on the GOV.UK register (councils, police, NHS trusts): they "
           "count towards the platform but not towards any department.")
trend = snapshot.organisation_match_trend("GOV.UK Pay")
if trend.empty:
    st.info("No GOV.UK Pay version was published by the reporting date, so none has been matched.")
else:
    chart_block(f"{percent(trend['matched_share_excluding_outside'].iloc[-1], 0)} of GOV.UK Pay's services that "
                "could be matched to a GOV.UK organisation are matched",
                charts.line(trend, "snapshot_date", "matched_share_excluding_outside", y_title="share matched",
                            y_kind="share"), trend,
                "pay-matching-trend.csv", source="GOV.UK Pay performance data, matched by the tracker",
                data_date=trend["snapshot_date"].max())

st.header("Where every figure comes from")
lineage = snapshot.figure_sources()
table(lineage.assign(freshness=lineage["freshness"].map(status_text)), "figure-sources.csv",
      alt="Where every platform figure comes from", pinned=("platform",))
source_line("the published snapshot's platform headlines and sources", lineage["latest_date"].max())
