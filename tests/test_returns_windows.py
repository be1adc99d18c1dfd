"""Closing a quarter's returns window after its deadline: the schedule, the closure recorded once, and publishing."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import duckdb

from assets.returns_windows import returns_window_closures
from pipelines.schedules import close_returns_window_job, returns_window_closure, window_just_closed
from tests.conftest import DATA, everything, make_resources, query
from tests.returns_helpers import VALID, csv_bytes, row
from tracker.resources import TrackerConfig
from tracker.return_inbox import deliver

DAY_AFTER = "2026-01-31"  # 2025-26 Q3 is due on 30 January 2026


def evaluate(home, as_of: str):
    context = dg.build_schedule_context(resources={
        "settings": TrackerConfig(data_dir=str(DATA), home_dir=str(home), as_of=as_of)})
    return returns_window_closure(context)


def test_the_schedule_acts_only_in_the_week_after_a_deadline():
    assert window_just_closed(dt.date(2026, 1, 30), 30) is None  # the deadline day: still open
    assert window_just_closed(dt.date(2026, 1, 31), 30) == ("2025-26 Q3", dt.date(2026, 1, 30))
    assert window_just_closed(dt.date(2026, 2, 6), 30) == ("2025-26 Q3", dt.date(2026, 1, 30))  # caught up
    assert window_just_closed(dt.date(2026, 2, 7), 30) is None
    assert window_just_closed(dt.date(2026, 5, 1), 30) == ("2025-26 Q4", dt.date(2026, 4, 30))
    assert window_just_closed(dt.date(2026, 3, 15), 30) is None


def test_closing_a_window_records_who_was_on_time_late_or_missing_once_and_publishes(returns_home):
    deliver(returns_home, csv_bytes(VALID), "d10.csv", "D10", "test",
            now=dt.datetime(2026, 1, 30, 23, 30, tzinfo=dt.UTC))  # 23:30 GMT on the deadline day: on time
    deliver(returns_home, csv_bytes(row(organisation_code="EA73")), "ea73.csv", "EA73", "test",
            now=dt.datetime(2026, 1, 31, 0, 30, tzinfo=dt.UTC))  # half an hour after: a day late
    deliver(returns_home, csv_bytes(row(organisation_code="D16", pay_services_live="99")), "d16.csv", "D16", "test",
            now=dt.datetime(2026, 1, 20, 9, 0, tzinfo=dt.UTC))  # rejected, never corrected
    assert isinstance(evaluate(returns_home, "2026-01-30"), dg.SkipReason)
    request = evaluate(returns_home, DAY_AFTER)
    assert isinstance(request, dg.RunRequest) and request.tags["reporting_quarter"] == "2025-26 Q3"

    result = dg.materialize(everything(), selection=close_returns_window_job.selection,
                            resources=make_resources(returns_home, as_of=DAY_AFTER), run_config=request.run_config)
    assert result.success
    (closure,) = query(returns_home, "SELECT reporting_quarter, deadline, expected, received_on_time, received_late, "
                       "missing, missing_organisations, closed_at FROM audit.returns_window_closures")
    quarter, deadline, expected, on_time, late, missing, missing_list, closed_at = closure
    assert (quarter, deadline, on_time, late) == ("2025-26 Q3", dt.date(2026, 1, 30), 1, 1)
    assert expected == 23 and missing == 21 and '"D16"' in missing_list and '"D10"' not in missing_list
    chased = {code: (status, days) for code, status, days in query(
        returns_home, "SELECT organisation_code, status, days_late FROM audit.returns_window_late")}
    assert len(chased) == 22 and chased["EA73"] == ("received late", 1)
    assert chased["D16"] == ("rejected, overdue", 1) and chased["D2"] == ("missing", 1) and "D10" not in chased
    built = [e.asset_key.to_user_string() for e in result.get_asset_materialization_events()]
    assert built.count("published_snapshot") == 1
    con = duckdb.connect(str(returns_home / "published" / "tracker.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT missing FROM audit.returns_window_closures").fetchall() == [(21,)]
        assert con.execute("SELECT count(*) FROM audit.returns_window_late").fetchone() == (22,)
    finally:
        con.close()
    # the published snapshot shows it closed: the schedule asks for nothing more
    assert isinstance(evaluate(returns_home, "2026-02-01"), dg.SkipReason)

    # closing again (by hand, or a retried run) records nothing again
    again = dg.materialize([returns_window_closures], resources=make_resources(returns_home, as_of="2026-02-02"),
                           run_config=request.run_config)
    assert again.success
    assert query(returns_home, "SELECT count(*), min(closed_at) FROM audit.returns_window_closures") == [
        (1, closed_at)]
    assert query(returns_home, "SELECT count(*) FROM audit.returns_window_late") == [(22,)]


def test_a_window_whose_deadline_has_not_passed_is_not_closed(returns_home):
    deliver(returns_home, csv_bytes(VALID), "d10.csv", "D10", "test",
            now=dt.datetime(2026, 1, 20, 9, 0, tzinfo=dt.UTC))
    early = dg.materialize(everything(), selection=close_returns_window_job.selection, raise_on_error=False,
                           resources=make_resources(returns_home, as_of="2026-01-30"),
                           run_config={"ops": {"returns_window_closures": {"config": {"quarter": "2025-26 Q3"}}}})
    assert not early.success
    assert query(returns_home, "SELECT count(*) FROM audit.returns_window_closures") == [(0,)]
