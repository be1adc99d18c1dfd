"""Altair charts in GOV.UK colours. Each series is named in a legend and in the data, so nothing
depends on colour alone, and every chart's data is also shown as a table by the caller."""

from __future__ import annotations

import altair as alt
import pandas as pd

BLUE, BLACK, GREEN, ORANGE, RED, GREY, PURPLE = ("#1d70b8", "#0b0c0c", "#00703c", "#f47738", "#d4351c",
                                                 "#505a5f", "#4c2c92")
PALETTE = [BLUE, ORANGE, GREEN, PURPLE, RED, GREY, "#28a197", "#912b88"]
HEIGHT = 300


def line(frame: pd.DataFrame, x: str, y: str, *, series: str | None = None, y_title: str = "", x_title: str = "",
         points: bool = False) -> alt.Chart:
    encoding = {
        "x": alt.X(f"{x}:T", title=x_title or None),
        "y": alt.Y(f"{y}:Q", title=y_title or None),
        "tooltip": [alt.Tooltip(f"{x}:T", title="date", format="%d %b %Y"),
                    alt.Tooltip(f"{y}:Q", title=y_title or y, format=",")],
    }
    if series:
        encoding["color"] = alt.Color(f"{series}:N", title=None, scale=alt.Scale(range=PALETTE),
                                      legend=alt.Legend(orient="bottom"))
        encoding["strokeDash"] = alt.StrokeDash(f"{series}:N", title=None, legend=alt.Legend(orient="bottom"))
        encoding["tooltip"].insert(0, alt.Tooltip(f"{series}:N", title="series"))
    mark = alt.Chart(frame).mark_line(point=points, strokeWidth=2.5, color=BLUE)
    return mark.encode(**encoding).properties(height=HEIGHT)


def bars(frame: pd.DataFrame, category: str, value: str, *, value_title: str = "", colour: str = BLUE,
         sort_descending: bool = True) -> alt.Chart:
    height = max(120, 22 * len(frame))
    base = alt.Chart(frame).encode(
        y=alt.Y(f"{category}:N", sort="-x" if sort_descending else None, title=None,
                axis=alt.Axis(labelLimit=320, labelOverlap=False)),
        x=alt.X(f"{value}:Q", title=value_title or None),
        tooltip=[alt.Tooltip(f"{category}:N"), alt.Tooltip(f"{value}:Q", format=",")],
    )
    labels = base.mark_text(align="left", dx=3, color=BLACK).encode(text=alt.Text(f"{value}:Q", format=","))
    return (base.mark_bar(color=colour) + labels).properties(height=height)


def trajectory(actual: pd.DataFrame, *, baseline_date, baseline, deadline, target, forecast_date,
               latest_date, latest_value, value_title: str) -> alt.Chart:
    """Actual figures, the straight trajectory from baseline to target, the target and the forecast."""
    rows = [{"series": "Actual", "date": d, "value": v} for d, v in zip(actual["date"], actual["value"], strict=False)]
    if pd.notna(baseline_date) and pd.notna(baseline):
        rows += [{"series": "Trajectory to target", "date": baseline_date, "value": baseline},
                 {"series": "Trajectory to target", "date": deadline, "value": target}]
    if pd.notna(forecast_date) and pd.notna(latest_date):
        rows += [{"series": "Forecast at current rate", "date": latest_date, "value": latest_value},
                 {"series": "Forecast at current rate", "date": forecast_date, "value": target}]
    frame = pd.DataFrame(rows)
    frame["date"] = pd.to_datetime(frame["date"])
    domain = ["Actual", "Trajectory to target", "Forecast at current rate"]
    lines = alt.Chart(frame).mark_line(strokeWidth=2.5).encode(
        x=alt.X("date:T", title=None),
        y=alt.Y("value:Q", title=value_title),
        color=alt.Color("series:N", scale=alt.Scale(domain=domain, range=[BLUE, BLACK, ORANGE]), title=None,
                        legend=alt.Legend(orient="bottom")),
        strokeDash=alt.StrokeDash("series:N", scale=alt.Scale(domain=domain, range=[[1, 0], [6, 4], [2, 3]]),
                                  title=None, legend=alt.Legend(orient="bottom")),
        tooltip=["series:N", alt.Tooltip("date:T", format="%d %b %Y"), alt.Tooltip("value:Q", format=",")],
    )
    marker = pd.DataFrame([{"date": pd.Timestamp(deadline), "value": target,
                            "label": f"Target {target:,.0f} by {pd.Timestamp(deadline):%d %b %Y}"}])
    target_point = alt.Chart(marker).mark_point(shape="diamond", size=160, filled=True, color=RED).encode(
        x="date:T", y="value:Q", tooltip=["label:N"])
    target_label = alt.Chart(marker).mark_text(align="right", dx=-10, dy=-12, color=RED, fontWeight="bold").encode(
        x="date:T", y="value:Q", text="label:N")
    layers = [lines, target_point, target_label]
    if pd.notna(forecast_date):
        forecast = pd.DataFrame([{"date": pd.Timestamp(forecast_date), "value": target,
                                  "label": f"Forecast {pd.Timestamp(forecast_date):%b %Y}"}])
        layers.append(alt.Chart(forecast).mark_point(shape="circle", size=90, color=ORANGE, filled=True).encode(
            x="date:T", y="value:Q", tooltip=["label:N"]))
        layers.append(alt.Chart(forecast).mark_text(align="left", dx=8, dy=12, color=BLACK).encode(
            x="date:T", y="value:Q", text="label:N"))
    return alt.layer(*layers).properties(height=HEIGHT)
