"""Target arithmetic on hand-worked cases: trajectory, status, forecast date."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest

from tests.conftest import build_models

D = dt.date
START, DEADLINE = D(2020, 1, 1), D(2021, 1, 1)


def target(target_id, metric, baseline=(START, 0.0), target_value=100.0, deadline=DEADLINE,
           tracked_by="same", from_data=False, increase=None):
    return {
        "target_id": target_id, "strategy": "test", "platform": "Test", "metric": metric, "title": target_id,
        "unit": "services", "tracked_by": metric if tracked_by == "same" else tracked_by, "population": None,
        "baseline_date": baseline[0] if baseline else None,
        "baseline_value": None if (from_data or not baseline) else baseline[1],
        "baseline_from_data": from_data, "baseline_note": None,
        "target_value": None if increase else target_value, "target_increase": increase,
        "deadline": deadline, "scope": None, "source_note": None, "source_url": "https://example.org",
    }


SERIES = {
    "at_risk": [(D(2020, 1, 1), 0), (D(2020, 6, 30), 40)],
    "on_track": [(D(2020, 1, 1), 0), (D(2020, 6, 30), 48)],
    "off_track": [(D(2020, 1, 1), 0), (D(2020, 6, 30), 20)],
    "met": [(D(2020, 1, 1), 0), (D(2020, 6, 1), 100), (D(2020, 6, 30), 104)],
    "flat": [(D(2019, 1, 1), 0), (D(2020, 3, 1), 50), (D(2020, 6, 30), 50)],  # no change in the last year
    "increase": [(D(2020, 1, 1), 0), (D(2020, 3, 31), 10), (D(2020, 6, 30), 20)],
    "one_figure": [(D(2020, 6, 30), 40)],  # e.g. a department's first return: one quarter, no rate yet
}


def progress(as_of: dt.date, tmp_path) -> dict:
    path = tmp_path / f"warehouse_{as_of}.duckdb"
    con = duckdb.connect(str(path))
    for schema in ("staging", "marts"):
        con.execute(f"CREATE SCHEMA {schema}")
    targets = pd.DataFrame([
        target("at_risk", "at_risk"), target("on_track", "on_track"), target("off_track", "off_track"),
        target("met", "met"), target("flat", "flat"),
        target("increase", "increase", baseline=(D(2020, 3, 31), None), from_data=True, increase=50.0),
        target("one_figure", "one_figure"),
        target("untracked", "x", tracked_by=None, baseline=None),
        target("returns", "returns_y", tracked_by="returns_y", baseline=None),
    ])
    series = pd.DataFrame([
        {"platform": "Test", "metric": m, "measure": m, "date": d, "value": float(v), "is_illustrative": False}
        for m, points in SERIES.items() for d, v in points
    ])
    rules = pd.DataFrame([{"on_track": 0.95, "at_risk": 0.80, "forecast_window_days": 365}])
    con.register("t", targets)
    con.register("s", series)
    con.register("r", rules)
    con.execute("CREATE TABLE staging.targets AS SELECT * FROM t")
    con.execute("CREATE TABLE marts.metric_series AS SELECT * FROM s")
    con.execute("CREATE TABLE staging.target_rules AS SELECT * FROM r")
    con.execute("CREATE TABLE staging.run_settings AS SELECT ?::DATE AS as_of", [as_of])
    con.close()
    build_models(path, "target_progress")
    con = duckdb.connect(str(path), read_only=True)
    rows = con.execute("SELECT * FROM marts.target_progress").df()
    con.close()
    return {r["target_id"]: r for r in rows.to_dict("records")}


@pytest.fixture(scope="module")
def mid_2020(tmp_path_factory):
    return progress(D(2020, 7, 1), tmp_path_factory.mktemp("mid_2020"))


def test_trajectory_is_linear_from_baseline_to_target(mid_2020):
    # 182 of the 366 days from 1 Jan 2020 to 1 Jan 2021 have passed: 100 * 182 / 366
    assert mid_2020["at_risk"]["trajectory_today"] == pytest.approx(49.73, abs=0.01)


def test_status_thresholds(mid_2020):
    assert mid_2020["at_risk"]["progress_ratio"] == pytest.approx(40 / (100 * 182 / 366), abs=1e-4)  # 0.8043
    assert mid_2020["at_risk"]["status"] == "at risk"
    assert mid_2020["on_track"]["status"] == "on track"  # 48 / 49.73 = 0.965
    assert mid_2020["off_track"]["status"] == "off track"  # 20 / 49.73 = 0.402
    assert mid_2020["met"]["status"] == "met"
    assert mid_2020["untracked"]["status"] == "not measured"
    assert mid_2020["returns"]["status"] == "awaiting returns"


def test_forecast_at_current_rate(mid_2020):
    # 40 gained in the 181 days to 30 June: 60 more takes ceil(60 / (40 / 181)) = 272 days
    row = mid_2020["at_risk"]
    assert row["forecast_basis"] == "at current rate"
    assert row["forecast_date"].date() == D(2020, 6, 30) + dt.timedelta(days=272) == D(2021, 3, 29)


def test_forecast_when_met_is_the_date_reached(mid_2020):
    assert mid_2020["met"]["forecast_date"].date() == D(2020, 6, 1)
    assert mid_2020["met"]["forecast_basis"] == "reached"


def test_no_forecast_when_flat(mid_2020):
    # within the 365-day window only the two 50s remain: the rate is zero
    row = mid_2020["flat"]
    assert row["rate_per_day"] == 0
    assert row["forecast_basis"] == "not at current rate"
    assert pd.isna(row["forecast_date"])


def test_target_as_increase_on_measured_baseline(mid_2020):
    row = mid_2020["increase"]
    assert row["baseline"] == 10 and row["target"] == 60
    # trajectory: 10 + 50 * (92 / 276) days from 31 Mar 2020 to 1 Jan 2021
    assert row["trajectory_today"] == pytest.approx(10 + 50 * 92 / 276, abs=0.01)


def test_missed_after_deadline(tmp_path):
    later = progress(D(2021, 6, 1), tmp_path)
    assert later["at_risk"]["status"] == "missed"
    assert later["at_risk"]["trajectory_today"] == 100
    assert later["met"]["status"] == "met"


def test_one_figure_has_no_rate_and_no_forecast(mid_2020):
    # a least-squares slope over one date is NaN, which once stopped the whole mart (issue 12)
    row = mid_2020["one_figure"]
    assert pd.isna(row["rate_per_day"]) and pd.isna(row["forecast_date"])
    assert row["forecast_basis"] == "too few figures for a rate"
    assert row["status"] == "at risk"  # 40 against a trajectory of 49.73: judged all the same
