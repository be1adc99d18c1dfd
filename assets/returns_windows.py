"""Closing a quarter's returns window: what was on time, late or missing when the deadline had passed.

The day after a quarter's deadline (or within a week of it, if the tracker did not run that day) the window is
closed once: ``audit.returns_window_closures`` keeps one row for the quarter (how many were expected, on time,
late and missing, and which were missing) and ``audit.returns_window_late`` one row per organisation late or
missing, with how many days. Closing again records nothing: the first closure stands, as a record of the day.
The figures come from ``marts.returns_status`` rebuilt in the same run (the close_returns_window job takes the
inbox and rebuilds the returns marts first), then the snapshot is published with the closure in it.
"""

# No `from __future__ import annotations` here: Dagster must see ReturnsWindowConfig as a class, not a string.
import datetime as dt
import json

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from assets.raw import OWNERS
from tracker.resources import TrackerConfig
from tracker.warehouse import connect, ensure_schemas, insert_rows, table_metadata, transaction

CLOSURES_TABLE = "audit.returns_window_closures"
LATE_TABLE = "audit.returns_window_late"
CLOSE_CATCH_UP_DAYS = 7  # a window not closed the day after its deadline (the machine was off) is closed later
ON_TIME, LATE = "received", "received late"
DDL = [
    f"""CREATE TABLE IF NOT EXISTS {CLOSURES_TABLE} (
        reporting_quarter VARCHAR PRIMARY KEY, deadline DATE NOT NULL, closed_at TIMESTAMP NOT NULL,
        expected INTEGER NOT NULL, received_on_time INTEGER NOT NULL, received_late INTEGER NOT NULL,
        missing INTEGER NOT NULL, missing_organisations JSON NOT NULL)""",
    f"""CREATE TABLE IF NOT EXISTS {LATE_TABLE} (
        reporting_quarter VARCHAR NOT NULL, organisation_code VARCHAR NOT NULL, status VARCHAR NOT NULL,
        days_late INTEGER NOT NULL, PRIMARY KEY (reporting_quarter, organisation_code))""",
]
TABLES = {
    CLOSURES_TABLE: "Each quarter's returns window, closed once after its deadline: how many returns were expected, "
                    "received on time, received late and missing, and which organisations were missing.",
    LATE_TABLE: "Each organisation late or missing when its quarter's returns window closed, with the days late.",
}
KEYS = [dg.AssetKey(table.split(".")) for table in TABLES]


class ReturnsWindowConfig(dg.Config):
    """Which quarter to close: empty means the one whose deadline has just passed (within a week)."""

    quarter: str = ""


def window_to_close(con, as_of: dt.date, quarter: str = "") -> tuple[str, dt.date] | None:
    """(quarter, deadline) of the window to close on ``as_of``, or None when no deadline has just passed."""
    if quarter:
        found = con.execute("SELECT reporting_quarter, max(deadline) FROM marts.returns_status "
                            "WHERE reporting_quarter = ? GROUP BY ALL", [quarter]).fetchone()
        if found is None:
            raise dg.Failure(description=f"There is no {quarter} in marts.returns_status: no window to close.")
        if found[1] >= as_of:
            raise dg.Failure(description=f"The {quarter} deadline ({found[1]:%d %B %Y}) has not passed on "
                             f"{as_of:%d %B %Y}: its window stays open.")
        return found[0], found[1]
    found = con.execute("SELECT reporting_quarter, deadline FROM marts.returns_status WHERE deadline < ? "
                        "ORDER BY deadline DESC LIMIT 1", [as_of]).fetchone()
    if found is None or (as_of - found[1]).days > CLOSE_CATCH_UP_DAYS:
        return None
    return found[0], found[1]


def close_window(con, quarter: str, deadline: dt.date, as_of: dt.date) -> bool:
    """Record the closure of one quarter's window; False (nothing written) when it was closed already."""
    if con.execute(f"SELECT 1 FROM {CLOSURES_TABLE} WHERE reporting_quarter = ?", [quarter]).fetchone():
        return False
    rows = con.execute("SELECT organisation_code, status, days_late FROM marts.returns_status "
                       "WHERE expected AND reporting_quarter = ? ORDER BY organisation_code", [quarter]).fetchall()
    days_after = (as_of - deadline).days
    on_time = [code for code, status, _ in rows if status == ON_TIME]
    late = [(code, LATE, int(days or 0)) for code, status, days in rows if status == LATE]
    # no accepted return: missing, or rejected when everything sent was rejected
    missing = [(code, "rejected, overdue" if status.startswith("rejected") else "missing", days_after)
               for code, status, _ in rows if status not in (ON_TIME, LATE)]
    closure = pd.DataFrame([{
        "reporting_quarter": quarter, "deadline": deadline, "closed_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
        "expected": len(rows), "received_on_time": len(on_time), "received_late": len(late),
        "missing": len(missing), "missing_organisations": json.dumps([code for code, _, _ in missing]),
    }])
    chased = pd.DataFrame([{"reporting_quarter": quarter, "organisation_code": code, "status": status,
                            "days_late": days} for code, status, days in late + missing],
                          columns=["reporting_quarter", "organisation_code", "status", "days_late"])
    with transaction(con):
        insert_rows(con, CLOSURES_TABLE, closure)
        if len(chased):
            insert_rows(con, LATE_TABLE, chased)
    return True


@dg.multi_asset(
    specs=[dg.AssetSpec(key, description=TABLES["/".join(key.path).replace("/", ".")], group_name="returns",
                        kinds={"duckdb"}, owners=OWNERS, deps=[["marts", "returns_status"]]) for key in KEYS],
    can_subset=False,
)
def returns_window_closures(context: dg.AssetExecutionContext, config: ReturnsWindowConfig, settings: TrackerConfig,
                            warehouse: DuckDBResource):
    as_of = settings.as_of_date()
    with connect(warehouse) as con:
        ensure_schemas(con)
        for statement in DDL:
            con.execute(statement)
        window = window_to_close(con, as_of, config.quarter)
        if window is None:
            context.log.info(f"No returns deadline passed in the {CLOSE_CATCH_UP_DAYS} days before "
                             f"{as_of:%d %B %Y}: no window to close.")
            closed = "none due"
        else:
            quarter, deadline = window
            done = close_window(con, quarter, deadline, as_of)
            closed = f"{quarter} closed" if done else f"{quarter} was closed already"
            context.log.info(f"The {quarter} returns window (deadline {deadline:%d %B %Y}): "
                             + ("closed." if done else "already closed; nothing recorded again."))
        metadata = {table: table_metadata(con, table) for table in TABLES}
    for table, meta in metadata.items():
        yield dg.MaterializeResult(asset_key=table.split("."), metadata=meta | {"this run": closed})
