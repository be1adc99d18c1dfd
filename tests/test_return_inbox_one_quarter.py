"""The first return on a fresh home: no returns at all, then one organisation's one quarter, publishes.

On a fresh TRACKER_HOME the whole graph runs with an empty inbox (every returns mart with no rows), then one
valid return for a single quarter arrives and the ingest_returns job (ingestion, the dbt models after it,
publishing) runs as the sensor starts it: nothing fails, and the snapshot shows the return. Before the fix to
marts__target_progress, a least-squares slope over one point was NaN and its cast stopped the run.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import duckdb

from pipelines.sensors import ingest_returns_job
from tests.conftest import everything, make_resources
from tests.returns_helpers import VALID, csv_bytes
from tracker.return_inbox import deliver


def published(home, sql: str) -> list[tuple]:
    con = duckdb.connect(str(home / "published" / "tracker.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def failed_steps(result) -> list[str]:
    return [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]


def test_a_fresh_home_publishes_with_no_returns_and_then_with_one(tmp_path):
    home = tmp_path / "fresh"
    first = dg.materialize(everything(), resources=make_resources(home), raise_on_error=False)
    assert first.success, failed_steps(first)
    for table in ("return_adoption", "return_forms", "return_plausibility", "return_reconciliation",
                  "return_department_plans", "return_problems", "return_submissions"):
        assert published(home, f"SELECT count(*) FROM marts.{table}") == [(0,)], table
    assert published(home, "SELECT DISTINCT status FROM marts.returns_status") == [("missing",)]
    assert published(home, "SELECT count(*) FROM marts.return_submissions") == [(0,)]

    sent = deliver(home, csv_bytes(VALID), "q3.csv", "D10", "test", now=dt.datetime(2026, 1, 20, 9, 0, tzinfo=dt.UTC))
    second = dg.materialize(everything(), selection=ingest_returns_job.selection, resources=make_resources(home),
                            raise_on_error=False)
    assert second.success, failed_steps(second)
    assert published(home, "SELECT status FROM marts.returns_status WHERE organisation_code = 'D10' "
                     "AND reporting_quarter = '2025-26 Q3'") == [("received",)]
    assert published(home, "SELECT submission_ref FROM marts.return_submissions") == [(sent.reference,)]
    assert published(home, "SELECT count(*) FROM marts.return_plausibility") == [(0,)]  # one quarter: no change
    plans = published(home, "SELECT departments_returned, departments_with_plan FROM marts.return_department_plans")
    assert plans == [(1, 1)]
    status, = published(home, "SELECT status FROM marts.target_progress "
                        "WHERE target_id = 'one-login-adoption-plans-2023'")[0]
    assert status  # measured from one point, with no NaN reaching a cast
    scores = dict(published(home, "SELECT dimension, denominator FROM marts.return_data_quality "
                            "WHERE dimension IN ('validity', 'uniqueness')"))
    assert scores == {"validity": 1, "uniqueness": 1}
