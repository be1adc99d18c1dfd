"""Deadlines are UK dates: a return is on time when it arrives by the end of the deadline day in Europe/London.

received_at is stored in UTC. 2025-26 Q1's deadline (30 Jul 2025) falls in British Summer Time (UTC+1), 2025-26
Q3's (30 Jan 2026) in Greenwich Mean Time: each is tried a moment either side of midnight.
"""

from __future__ import annotations

import datetime as dt

from dashboard.formatting import uk_timestamp
from tests.conftest import build_models, ingest, query
from tests.returns_helpers import csv_bytes, row
from tracker.return_inbox import deliver

ARRIVALS = [  # organisation, quarter, received (UTC), status expected, days late
    ("D10", "2025-26 Q1", dt.datetime(2025, 7, 30, 22, 59), "received", 0),  # 23:59 BST on the deadline day
    ("EA74", "2025-26 Q1", dt.datetime(2025, 7, 30, 23, 0), "received late", 1),  # 00:00 BST the day after
    ("EA73", "2025-26 Q1", dt.datetime(2025, 7, 30, 23, 30), "received late", 1),  # 00:30 BST: a UTC date says 30th
    ("D10", "2025-26 Q3", dt.datetime(2026, 1, 30, 23, 30), "received", 0),  # 23:30 GMT on the deadline day
    ("EA74", "2025-26 Q3", dt.datetime(2026, 1, 30, 23, 59, 59), "received", 0),
    ("EA73", "2025-26 Q3", dt.datetime(2026, 1, 31, 0, 30), "received late", 1),  # 00:30 GMT the day after
]


def test_on_time_is_judged_on_the_uk_date_in_summer_and_in_winter(returns_home):
    for code, quarter, received, _, _ in ARRIVALS:
        deliver(returns_home, csv_bytes(row(organisation_code=code, reporting_quarter=quarter)),
                f"{code}-{quarter}.csv", code, "test", now=received.replace(tzinfo=dt.UTC))
    assert ingest(returns_home).success
    assert query(returns_home, "SELECT count(*) FROM staging.department_returns") == [(len(ARRIVALS),)]
    build_models(returns_home / "warehouse.duckdb", "returns_in_force submissions_as_of returns_in_context "
                 "returns_status return_data_quality")
    got = {(c, q): (s, d, str(r)) for c, q, s, d, r in query(
        returns_home, "SELECT organisation_code, reporting_quarter, status, days_late, deadline "
        "FROM marts.returns_status WHERE submission_ref IS NOT NULL")}
    expected = {(c, q): (s, d, "2025-07-30" if q.endswith("Q1") else "2026-01-30") for c, q, _, s, d in ARRIVALS}
    assert got == expected
    on_time, total = query(returns_home, "SELECT numerator, denominator FROM marts.return_data_quality "
                                         "WHERE dimension = 'timeliness'")[0]
    assert (on_time, total) == (3, 6)
    stored = query(returns_home, "SELECT received_at FROM audit.return_submissions ORDER BY received_at")
    assert [r for (r,) in stored] == sorted(a[2] for a in ARRIVALS)  # still kept in UTC


def test_times_are_shown_in_uk_time():
    assert uk_timestamp(dt.datetime(2025, 7, 30, 23, 30)) == "31 Jul 2025, 00:30 UK time"  # BST
    assert uk_timestamp(dt.datetime(2026, 1, 30, 23, 30)) == "30 Jan 2026, 23:30 UK time"  # GMT
    assert uk_timestamp("2025-10-26 00:30:00") == "26 Oct 2025, 01:30 UK time"  # before the clocks go back
    assert uk_timestamp("2025-10-26 01:30:00") == "26 Oct 2025, 01:30 UK time"  # after: 01:30 again, in GMT
    assert uk_timestamp(dt.datetime(2025, 7, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))) == (
        "1 Jul 2025, 11:00 UK time")
    assert uk_timestamp(None) == "–"
