"""Sections that several platform pages share: by department, by kind of organisation, the largest
movers, and what departments' returns say. Each reads one pre-aggregated mart."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, snapshot
from dashboard.components import chart_block, illustrative_notice, month, number, percent, source_line, table

TOP = 15


def by_department(platform: str, measure: str, trust: dict, slug: str) -> pd.DataFrame:
    """The latest month's figure per department (departments and their agencies summed)."""
    frame = snapshot.department_figures_latest_month(platform, measure)
    if frame.empty:
        st.info(f"No department figures for {platform} ({measure}).")
        return frame
    data_date = frame["data_date"].max()  # the source's real last data point, never the month's end
    top = frame.head(TOP)
    title = (f"{top['department'].iloc[0]} leads on {platform} {measure}: {number(top['value'].iloc[0])}, "
             f"of {number(frame['value'].sum())} across {len(frame)} departments")
    chart_block(title, charts.bars(top, "department", "value", value_title=measure), frame[
        ["department", "department_code", "value", "data_date"]], f"{slug}-by-department.csv", data_date=data_date,
        **trust, note=f"The {min(TOP, len(frame))} largest departments, each with its agencies and "
        "other bodies; the table has every department.", titles={"value": measure.capitalize()})
    return frame


def by_kind(platform: str, measure: str, trust: dict, slug: str) -> None:
    """The latest month's figure by kind of organisation: department, body outside one, or not on GOV.UK."""
    frame = snapshot.organisation_kinds_latest_month(platform, measure)
    if frame.empty:
        return
    share = frame["value"].iloc[0] / frame["value"].sum()
    chart_block(f"{percent(share, 0)} of {platform} {measure} are {frame['kind'].iloc[0]}",
                charts.bars(frame, "kind", "value", value_title=measure), frame.drop(columns=["month"]),
                f"{slug}-by-sector.csv", data_date=frame["data_date"].max(), **trust,
                titles={"value": measure.capitalize()},
                note="By kind of organisation, from matching each organisation name to the GOV.UK register; "
                "'unmatched' names could not be placed.")


def movers(platform: str, measure: str, trust: dict, slug: str) -> None:
    """The departments whose figure rose (or fell) most over the last twelve months of data."""
    frame = snapshot.department_movers(platform, measure)
    if frame.empty:
        st.info(f"{platform} has department figures for one month only, so there are no movers to show.")
        return
    moved = frame[frame["change"] != 0]
    span = f"{month(frame['base_month'].iloc[0])} to {month(frame['latest_month'].iloc[0])}"
    if moved.empty:
        st.subheader(f"No department's {measure} changed from {span}")
        source_line(trust["source"], frame["latest_month"].iloc[0], freshness=trust["freshness"],
                    days_old=trust["days_old"], monthly=True)
        return
    top = moved.head(10).rename(columns={"department_name": "department"})
    title = f"{top['department'].iloc[0]} moved most on {platform} {measure}: {number(top['change'].iloc[0])} more"
    chart_block(title, charts.bars(top, "department", "change", value_title=f"change in {measure}"),
                frame.rename(columns={"department_name": "department"})[
                    ["department", "department_code", "value_then", "value_now", "change", "base_month",
                     "latest_month"]],
                f"{slug}-movers.csv", data_date=frame["latest_month"].iloc[0], monthly=True, **trust,
                note=f"Change in each department's {measure}, {span}.")


def reported_by_departments(platform: str, slug: str) -> None:
    """What departments' returns say for this platform: services in scope, live and planned."""
    frame = snapshot.returned_adoption_by_department(platform)
    st.subheader(f"What departments report in their returns for {platform}")
    if frame.empty:
        st.info(f"No department has returned figures for {platform} yet.")
        return
    illustrative = illustrative_notice(frame)
    table(frame, f"{slug}-returns.csv", alt=f"What departments report for {platform}")
    source_line("Departments' quarterly returns (adoption = services live / services in scope)",
                snapshot.returned_adoption_data_date(platform), illustrative=illustrative)
