"""Overview: are we on track against each target, and where does each platform stand?"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, snapshot
from dashboard.components import (
    amount,
    chart_block,
    date,
    escape,
    html,
    is_blank,
    measure_cards,
    page_header,
    signed,
    status_tag,
    status_text,
    table,
)

# Most urgent first: what needs action leads the page.
STATUS_ORDER = ["missed", "off track", "at risk", "no figure since deadline", "no trajectory", "met late", "on track",
                "met", "awaiting returns", "no data", "not measured"]

page_header("Overview", "are we on track against each target, what changed since the previous quarter, "
            "and where does each platform stand today?")

targets = snapshot.target_progress()
targets["order"] = targets["status"].map({s: i for i, s in enumerate(STATUS_ORDER)}).fillna(len(STATUS_ORDER))
targets = targets.sort_values(["order", "deadline"])
headlines = snapshot.all_platform_headlines()
headline = targets[targets["counts_in_headline"]]
counts = headline["status"].value_counts()
summary = " ".join(f"{status_tag(s)} {int(counts[s])}" for s in STATUS_ORDER if s in counts)
html(f"<p><strong>{len(headline)} targets judged on published figures:</strong> {summary}</p>")
apart = targets[~targets["counts_in_headline"]]
if not apart.empty:
    html("<p><strong>Judged only on ILLUSTRATIVE sample returns, so counted apart:</strong> "
         + " ".join(f"{status_tag(s)} {escape(t)}" for s, t in zip(apart["status"], apart["title"], strict=True))
         + "</p>")

st.header("Platforms")
measure_cards(headlines[headlines["is_headline"]].sort_values("platform"))

st.header("Targets")
series = snapshot.target_series()
changes = headlines.set_index("metric")
for _, target in targets.iterrows():
    with st.container(border=True):
        html(f"<h3 style='margin-bottom:4px'>{escape(target['title'])}</h3>"
             f"<p>{status_tag(target['status'])} &nbsp; {escape(target['strategy'])} · {escape(target['platform'])}"
             f" · deadline {date(target['deadline'])}</p>")
        unit = target["unit"] or ""
        if is_blank(target["latest_value"]):
            reason = (target["status_note"] if not is_blank(target["status_note"]) else
                      "No published figure tracks this target, so the tracker does not invent one."
                      if target["status"] == "not measured" else
                      "This target is measured from departments' returns, and none has reported a figure yet."
                      if str(target["tracked_by"]).startswith("returns_") else
                      f"{target['platform']} had published no figure for it by the reporting date.")
            st.markdown(f"**Target:** {amount(target['target'], unit)} by {date(target['deadline'])}. {reason}")
            if not is_blank(target["beside_latest_value"]):
                st.markdown(f"**Beside it, a different measure ({target['beside_measure_name']}):** "
                            f"{amount(target['beside_latest_value'], unit)} on {date(target['beside_latest_date'])}. "
                            f"It counts {target['beside_counts']}.")
        else:
            change = changes.loc[target["tracked_by"]] if target["tracked_by"] in changes.index else None
            since = ("" if change is None or is_blank(change["previous_value"])
                     else f" ({signed(change['change'])} since {date(change['previous_date'])})")
            forecast = ("none: the service has closed" if target["forecast_basis"] == "service closed"
                        else "–" if is_blank(target["forecast_date"])
                        else f"{date(target['forecast_date'])} ({target['forecast_basis']})")
            baseline = ("no baseline or trajectory: the target is a share of all departments, judged on the "
                        "latest figure" if is_blank(target["baseline"])
                        else f"{amount(target['baseline'], unit)} on {date(target['baseline_date'])}"
                        + ("" if is_blank(target["baseline_note"]) else f" ({target['baseline_note']})"))
            st.markdown(
                f"**Latest:** {amount(target['latest_value'], unit)} on {date(target['latest_date'])}{since}  \n"
                f"**Target:** {amount(target['target'], unit)} by {date(target['deadline'])}"
                f" · **trajectory says today:** {amount(target['trajectory_today'], unit)}"
                f" · **forecast to reach it:** {forecast}  \n"
                f"**Baseline:** {baseline}"
                + ("" if is_blank(target["status_note"]) else f"  \n{target['status_note']}"))
            actual = series[series["metric"] == target["tracked_by"]][["date", "value"]]
            chart = charts.trajectory(actual, baseline_date=target["baseline_date"], baseline=target["baseline"],
                                      deadline=target["deadline"], target=target["target"],
                                      forecast_date=target["forecast_date"], latest_date=target["latest_date"],
                                      latest_value=target["latest_value"], value_title=unit)
            points = pd.concat([actual.rename(columns={"date": "point_date"}).assign(series="Actual"), pd.DataFrame([
                {"point_date": target["baseline_date"], "value": target["baseline"], "series": "Baseline"},
                {"point_date": target["deadline"], "value": target["target"], "series": "Target"},
                {"point_date": target["forecast_date"], "value": target["target"], "series": "Forecast"}])])
            points = points.dropna(subset=["point_date", "value"])[["series", "point_date", "value"]]
            source = (f"{change['source_name']} ({change['publisher']})" if change is not None
                      else "Departments' returns")
            chart_block(f"{amount(target['latest_value'], unit)} on {date(target['latest_date'])}, against "
                        f"{amount(target['target'], unit)} due by {date(target['deadline'])}: "
                        f"{status_text(target['status'])}", chart, points,
                        f"target-{target['target_id']}.csv", source=source, data_date=target["latest_date"],
                        freshness=None if change is None else change["freshness"],
                        days_old=None if change is None else change["days_old"],
                        illustrative=bool(target["uses_illustrative_data"]),
                        titles={"value": "Per cent" if unit == "percent" else unit.capitalize() or "Figure"})
        html(f'<p class="source">Target source: <a href="{escape(target["source_url"])}">'
             f'{escape(target["source_note"])}</a></p>')

st.subheader("Every target as a table")
shown = targets[["title", "status", "platform", "unit", "baseline", "baseline_date", "latest_value", "latest_date",
                 "target", "deadline", "trajectory_today", "forecast_date", "forecast_basis", "status_note",
                 "uses_illustrative_data",
                 "strategy", "source_note", "source_url"]].copy()
shown["status"] = shown["status"].map(status_text)
table(shown, "targets.csv", download_label="Download every target (CSV)", described_by="marts.target_progress",
      alt="Every target", pinned=("title",))
