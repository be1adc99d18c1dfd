"""Target arithmetic on hand-worked cases: trajectory, status, forecast date; closed platforms, targets judged
per department and targets judged on illustrative figures."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest

from tests.conftest import build_models

D = dt.date
START, DEADLINE = D(2020, 1, 1), D(2021, 1, 1)


def target(target_id, metric, baseline=(START, 0.0), target_value=100.0, deadline=DEADLINE,
           tracked_by="same", from_data=False, increase=None, platform="Test", closed=False, judged_in=None,
           note=None, beside_series=None):
    return {
        "target_id": target_id, "strategy": "test", "platform": platform, "metric": metric, "title": target_id,
        "unit": "services", "tracked_by": metric if tracked_by == "same" else tracked_by, "population": None,
        "judged_in": judged_in, "note": note, "platform_closed": closed,
        "baseline_date": baseline[0] if baseline else None,
        "baseline_value": None if (from_data or not baseline) else baseline[1],
        "baseline_from_data": from_data, "baseline_note": None,
        "target_value": None if increase else target_value, "target_increase": increase,
        "deadline": deadline, "scope": None, "source_note": None, "source_url": "https://example.org",
        "source_ids": None, "measure": "people in roles" if beside_series else None,
        "measure_counts": "people in roles, as the target counts them" if beside_series else None,
        "beside_measure": "profession" if beside_series else None,
        "beside_measure_name": "the profession" if beside_series else None,
        "beside_counts": "people in the profession" if beside_series else None, "beside_series": beside_series,
    }


SERIES = {
    "at_risk": [(D(2020, 1, 1), 0), (D(2020, 6, 30), 40)],
    "on_track": [(D(2020, 1, 1), 0), (D(2020, 6, 30), 48)],
    "off_track": [(D(2020, 1, 1), 0), (D(2020, 6, 30), 20)],
    "met": [(D(2020, 1, 1), 0), (D(2020, 6, 1), 100), (D(2020, 6, 30), 104)],
    "flat": [(D(2019, 1, 1), 0), (D(2020, 3, 1), 50), (D(2020, 6, 30), 50)],  # no change in the last year
    "increase": [(D(2020, 1, 1), 0), (D(2020, 3, 31), 10), (D(2020, 6, 30), 20)],
    "one_figure": [(D(2020, 6, 30), 40)],  # e.g. a department's first return: one quarter, no rate yet
    # a figure after the deadline, short of the target: missed (the at_risk series stops before the deadline)
    "late_figure": [(D(2020, 1, 1), 0), (D(2020, 6, 30), 40), (D(2021, 3, 1), 60)],
    "closed": [(D(2020, 1, 1), 0), (D(2020, 6, 30), 40)],  # the at_risk series, on a platform that has closed
    # reached on an illustrative quarter, the latest quarter real: judged on illustrative figures all the same
    "illustrative": [(D(2020, 1, 1), 0), (D(2020, 3, 31), 100, True), (D(2020, 6, 30), 104)],
}
CLOSED_NOTE = "Test closed; Other replaces it."


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
        target("closed", "closed", platform="Closed", closed=True),
        target("closed_untracked", "closed_x", tracked_by=None, baseline=None, platform="Closed", closed=True),
        target("per_department", "y", tracked_by=None, baseline=None, judged_in="department_league.y",
               note="Judged in the league table."),
        target("illustrative", "illustrative"),
        target("late_figure", "late_figure"),
        target("beside", "people", tracked_by=None, baseline=None, beside_series="at_risk"),
    ])
    series = pd.DataFrame([
        {"platform": "Test", "metric": m, "measure": m, "date": p[0], "value": float(p[1]),
         "is_illustrative": len(p) > 2 and p[2]}
        for m, points in SERIES.items() for p in points
    ])
    sources = pd.DataFrame([
        {"source": "test", "platforms": ["Test"], "fresh_within_days": 14, "closed_note": ""},
        {"source": "closed", "platforms": ["Closed"], "fresh_within_days": None, "closed_note": CLOSED_NOTE},
    ])
    rules = pd.DataFrame([{"on_track": 0.95, "at_risk": 0.80, "forecast_window_days": 365}])
    con.register("t", targets)
    con.register("s", series)
    con.register("r", rules)
    con.register("sources", sources)
    con.execute("CREATE TABLE staging.sources AS SELECT * FROM sources")
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


def test_missed_after_deadline_only_with_a_figure_after_it(tmp_path):
    later = progress(D(2021, 6, 1), tmp_path)
    assert later["late_figure"]["status"] == "missed"  # 60 on 1 Mar 2021, after the deadline, short of 100
    assert later["late_figure"]["trajectory_today"] == 100
    assert later["met"]["status"] == "met"
    # the series stops on 30 Jun 2020, before the 1 Jan 2021 deadline: whether it was met is not known
    stopped = later["at_risk"]
    assert stopped["status"] == "no figure since deadline"
    assert "The latest figure is from 30 June 2020, before the deadline" in stopped["status_note"]
    assert later["one_figure"]["status"] == "no figure since deadline"


def test_a_measure_of_another_definition_is_shown_beside_never_judged(mid_2020):
    row = mid_2020["beside"]
    assert row["status"] == "not measured" and pd.isna(row["latest_value"])
    assert (row["beside_latest_value"], row["beside_latest_date"]) == (40, pd.Timestamp(2020, 6, 30))
    assert "Definitions differ: the target counts people in roles, as the target counts them; the figure shown " \
           "beside it counts people in the profession." in row["status_note"]
    assert pd.isna(mid_2020["at_risk"]["beside_latest_value"])


def test_one_figure_has_no_rate_and_no_forecast(mid_2020):
    # a least-squares slope over one date is NaN, which once stopped the whole mart (issue 12)
    row = mid_2020["one_figure"]
    assert pd.isna(row["rate_per_day"]) and pd.isna(row["forecast_date"])
    assert row["forecast_basis"] == "too few figures for a rate"
    assert row["status"] == "at risk"  # 40 against a trajectory of 49.73: judged all the same


def test_a_closed_platform_says_so_and_has_no_forecast(mid_2020):
    # the same series as at_risk, which is forecast to reach 100 on 29 March 2021: on a closed platform, no forecast
    row = mid_2020["closed"]
    assert row["status"] == "at risk" and row["service_closed"]
    assert pd.isna(row["forecast_date"]) and row["forecast_basis"] == "service closed"
    assert row["status_note"] == CLOSED_NOTE + " No forecast is made for a closed service."
    untracked = mid_2020["closed_untracked"]
    assert untracked["status"] == "not measured" and untracked["forecast_basis"] == "service closed"
    assert untracked["status_note"].startswith(CLOSED_NOTE)
    assert not mid_2020["at_risk"]["service_closed"] and pd.isna(mid_2020["at_risk"]["status_note"])


def test_a_target_judged_per_department_says_where(mid_2020):
    # no series measures it as one figure, so "not measured", but it says where it is judged instead
    row = mid_2020["per_department"]
    assert row["status"] == "not measured"
    assert row["judged_in"] == "department_league.y" and row["status_note"] == "Judged in the league table."
    assert mid_2020["untracked"]["status"] == "not measured" and pd.isna(mid_2020["untracked"]["judged_in"])


def test_targets_judged_on_illustrative_figures_are_counted_apart(mid_2020):
    # met on 31 March on an illustrative figure: the latest figure (30 June) is real, but the status rests on both
    row = mid_2020["illustrative"]
    assert row["status"] == "met" and row["reached_on"].date() == D(2020, 3, 31)
    assert row["uses_illustrative_data"] and not row["counts_in_headline"]
    assert row["status_note"] == "Judged on ILLUSTRATIVE sample returns, so counted apart from the headline."
    others = [r for key, r in mid_2020.items() if key != "illustrative"]
    assert all(r["counts_in_headline"] and not r["uses_illustrative_data"] for r in others)
