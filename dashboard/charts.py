"""Altair charts in GOV.UK colours. Each series is named in a legend and in the data, so nothing
depends on colour alone, and every chart's data is also shown as a table by the caller."""

from __future__ import annotations

import altair as alt
import pandas as pd

from dashboard.formatting import CHART_FORMATS, date, month
from dashboard.labels import column, label

BLUE, BLACK, GREEN, ORANGE, RED, GREY, PURPLE = ("#1d70b8", "#0b0c0c", "#00703c", "#f47738", "#d4351c",
                                                 "#505a5f", "#4c2c92")
PALETTE = [BLUE, ORANGE, GREEN, PURPLE, RED, GREY, "#28a197", "#912b88"]
HEIGHT = 300
def value_axis(kind: str, title: str | None, **more) -> alt.Axis:
    """The value axis: counts on whole numbers only, shares in per cent, per cents with a % sign."""
    if kind == "share":
        return alt.Axis(title=title, format=CHART_FORMATS["share"], **more)
    if kind == "percent":
        # up to one decimal (trailing zeros trimmed), so a narrow range such as 0-5% never repeats a tick label
        return alt.Axis(title=title, format=".1~f", labelExpr="datum.label + '%'", **more)
    if kind == "count":
        return alt.Axis(title=title, format=CHART_FORMATS["count"], tickMinStep=1, **more)
    return alt.Axis(title=title, format=CHART_FORMATS["number"], **more)


def value_tooltip(field: str, kind: str, title: str) -> alt.Tooltip:
    fmt = {"share": CHART_FORMATS["share_detail"], "percent": CHART_FORMATS["percent_detail"]}.get(kind, ",")
    return alt.Tooltip(f"{field}:Q", title=title, format=fmt)


def time_tooltip(field: str) -> alt.Tooltip:
    kind = column(field).kind
    return alt.Tooltip(f"{field}:T", title=label(field),
                       format=CHART_FORMATS["month"] if kind == "month" else CHART_FORMATS["date"])


LEGEND = {"orient": "bottom", "direction": "vertical", "labelLimit": 300, "title": None}


def line(frame: pd.DataFrame, x: str, y: str, *, series: str | None = None, y_title: str = "", x_title: str = "",
         points: bool = False, y_kind: str = "count") -> alt.Chart:
    """A line over time. ``y_kind`` is how the values read: "count" (whole numbers), "share" (0 to 1, shown
    in per cent), "percent" (0 to 100) or "number"."""
    encoding = {
        "x": alt.X(f"{x}:T", title=x_title or None, axis=alt.Axis(labelOverlap=True)),
        "y": alt.Y(f"{y}:Q", axis=value_axis(y_kind, y_title or None)),
        "tooltip": [time_tooltip(x), value_tooltip(y, y_kind, y_title or label(y))],
    }
    if series:
        encoding["color"] = alt.Color(f"{series}:N", scale=alt.Scale(range=PALETTE), legend=alt.Legend(**LEGEND))
        encoding["strokeDash"] = alt.StrokeDash(f"{series}:N", legend=alt.Legend(**LEGEND))
        encoding["tooltip"].insert(0, alt.Tooltip(f"{series}:N", title=label(series)))
    mark = alt.Chart(frame).mark_line(point=points, strokeWidth=2.5, color=BLUE)
    return mark.encode(**encoding).properties(height=HEIGHT)


# Category names take at most 40% of the chart's width, so the bars still show on a narrow screen
CATEGORY_LABEL_LIMIT = alt.ExprRef("clamp(containerSize()[0] * 0.4, 90, 320)")


def bars(frame: pd.DataFrame, category: str, value: str, *, value_title: str = "", colour: str = BLUE,
         sort_descending: bool = True, value_kind: str = "count") -> alt.Chart:
    height = max(120, 22 * len(frame))
    values = pd.to_numeric(frame[value], errors="coerce")
    low, high = min(0.0, float(values.min())), max(0.0, float(values.max()))
    span = (high - low) or 1.0
    domain = [low - (0.2 * span if low < 0 else 0), high + 0.2 * span]  # room for each bar's figure
    if value_kind == "percent":
        frame = frame.assign(bar_label=values.map(lambda v: "" if pd.isna(v) else f"{v:.1f}%"))
    base = alt.Chart(frame).encode(
        y=alt.Y(f"{category}:N", sort="-x" if sort_descending else None, title=None,
                axis=alt.Axis(labelLimit=CATEGORY_LABEL_LIMIT, labelOverlap=False)),
        x=alt.X(f"{value}:Q", scale=alt.Scale(domain=domain, nice=False),
                axis=value_axis(value_kind, value_title or None, labelOverlap=True)),
        tooltip=[alt.Tooltip(f"{category}:N", title=label(category)),
                 value_tooltip(value, value_kind, value_title or label(value))],
    )
    if value_kind == "percent":  # the bar's figure with its % sign, as the axis shows it (same data: same sort)
        labels = base.mark_text(align="left", dx=3, color=BLACK).encode(text="bar_label:N")
    else:
        labels = base.mark_text(align="left", dx=3, color=BLACK).encode(
            text=alt.Text(f"{value}:Q", format=CHART_FORMATS["share_detail"] if value_kind == "share" else ","))
    return (base.mark_bar(color=colour) + labels).properties(height=height)


def trajectory(actual: pd.DataFrame, *, baseline_date, baseline, deadline, target, forecast_date,
               latest_date, latest_value, value_title: str) -> alt.Chart:
    """``value_title`` is the target's unit: "percent" reads as per cent, anything else is a count."""
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
    kind = "percent" if value_title == "percent" else "count"
    shown_target = f"{target:.1f}%" if kind == "percent" else f"{target:,.0f}"
    lines = alt.Chart(frame).mark_line(strokeWidth=2.5).encode(
        x=alt.X("date:T", title=None, axis=alt.Axis(labelOverlap=True)),
        y=alt.Y("value:Q", axis=value_axis(kind, value_title)),
        color=alt.Color("series:N", scale=alt.Scale(domain=domain, range=[BLUE, BLACK, ORANGE]), title=None,
                        legend=alt.Legend(**LEGEND)),
        strokeDash=alt.StrokeDash("series:N", scale=alt.Scale(domain=domain, range=[[1, 0], [6, 4], [2, 3]]),
                                  title=None, legend=alt.Legend(**LEGEND)),
        tooltip=[alt.Tooltip("series:N", title="Series"), alt.Tooltip("date:T", title="Date",
                                                                      format=CHART_FORMATS["date"]),
                 value_tooltip("value", kind, value_title)],
    )
    marker = pd.DataFrame([{"date": pd.Timestamp(deadline), "value": target,
                            "label": f"Target {shown_target} by {date(deadline)}"}])
    target_point = alt.Chart(marker).mark_point(shape="diamond", size=160, filled=True, color=RED).encode(
        x="date:T", y="value:Q", tooltip=[alt.Tooltip("label:N", title="Target")])
    # the label reads away from the nearer edge, so it is never cut off
    early = pd.notna(latest_date) and pd.Timestamp(deadline) < pd.Timestamp(latest_date)
    target_label = alt.Chart(marker).mark_text(align="left" if early else "right", dx=10 if early else -10, dy=-12,
                                               color=RED, fontWeight="bold").encode(
        x="date:T", y="value:Q", text="label:N")
    layers = [lines, target_point, target_label]
    if pd.notna(forecast_date):
        forecast = pd.DataFrame([{"date": pd.Timestamp(forecast_date), "value": target,
                                  "label": f"Forecast {month(forecast_date)}"}])
        layers.append(alt.Chart(forecast).mark_point(shape="circle", size=90, color=ORANGE, filled=True).encode(
            x="date:T", y="value:Q", tooltip=[alt.Tooltip("label:N", title="Forecast")]))
        layers.append(alt.Chart(forecast).mark_text(align="right", dx=-8, dy=12, color=BLACK).encode(
            x="date:T", y="value:Q", text="label:N"))
    return alt.layer(*layers).properties(height=HEIGHT)
