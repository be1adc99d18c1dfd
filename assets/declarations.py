"""What the code declares, written as tables so the SQL models read it rather than having it pasted in.

The run's parameters (the reporting date, and the returns thresholds stated in
the return contract), the sources declaration, the platforms a return
reports on and the barriers it picks from. dbt reads these through ``source()``, so the lineage from each
declaration to the marts that use it shows in the asset graph, and a change of
reporting date needs no re-parse of the dbt project.
"""

from __future__ import annotations

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.raw import OWNERS
from checks.return_contract import (
    BARRIERS,
    PLATFORMS,
    PLAUSIBLE_CHANGE_MINIMUM,
    PLAUSIBLE_CHANGE_SHARE,
    RECONCILIATION_MINIMUM,
    RECONCILIATION_SHARE,
)
from tracker.resources import TrackerConfig
from tracker.sources import SOURCES
from tracker.warehouse import connect, ensure_schemas, table_metadata, transaction

TABLES = {
    "staging.run_settings": (
        "(as_of DATE NOT NULL, plausible_change_share DOUBLE NOT NULL, plausible_change_minimum INTEGER NOT NULL, "
        "reconciliation_share DOUBLE NOT NULL, reconciliation_minimum INTEGER NOT NULL)",
        "The run's reporting date and the returns thresholds from checks/return_contract.py: one row.",
    ),
    "staging.sources": (
        "(source VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, platforms VARCHAR[] NOT NULL, publisher VARCHAR NOT NULL, "
        "origin VARCHAR NOT NULL, cadence VARCHAR NOT NULL, fresh_within_days INTEGER, closed_note VARCHAR)",
        "Every source's publisher, origin, cadence and freshness window, as declared in tracker/sources.py.",
    ),
    "staging.source_definition_changes": (
        "(source VARCHAR NOT NULL, metric VARCHAR NOT NULL, valid_from DATE NOT NULL, valid_until DATE NOT NULL, "
        "note VARCHAR NOT NULL)",
        "Periods in which a source's published figure meant something else, as declared in tracker/sources.py.",
    ),
    "staging.return_platforms": (
        "(key VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, position INTEGER NOT NULL)",
        "The platforms a department return reports on (column prefix and name), from checks/return_contract.py.",
    ),
    "staging.return_barriers_list": (
        "(barrier VARCHAR PRIMARY KEY, barrier_order INTEGER NOT NULL)",
        "The barriers to adopting the common platforms a return picks from, in list order, from "
        "checks/return_contract.py.",
    ),
}


def declared_rows(as_of) -> dict[str, list[tuple]]:
    return {
        "staging.run_settings": [(as_of, PLAUSIBLE_CHANGE_SHARE, PLAUSIBLE_CHANGE_MINIMUM, RECONCILIATION_SHARE,
                                  RECONCILIATION_MINIMUM)],
        "staging.sources": [(s.key, s.name, list(s.platforms), s.publisher, s.origin, s.cadence, s.fresh_within_days,
                             s.closed_note) for s in SOURCES.values()],
        "staging.source_definition_changes": [(s.key, c.metric, c.valid_from, c.valid_until, c.note)
                                              for s in SOURCES.values() for c in s.definition_changes],
        "staging.return_platforms": [(p.key, p.name, i) for i, p in enumerate(PLATFORMS)],
        "staging.return_barriers_list": [(barrier, order) for order, barrier in enumerate(BARRIERS, start=1)],
    }


@dg.multi_asset(
    specs=[dg.AssetSpec(table.split("."), description=text, group_name="reference", kinds={"duckdb"}, owners=OWNERS)
           for table, (_, text) in TABLES.items()],
    can_subset=False,
)
def declarations(settings: TrackerConfig, warehouse: DuckDBResource):
    rows = declared_rows(settings.as_of_date())
    with connect(warehouse) as con:
        ensure_schemas(con)
        with transaction(con):
            for table, (columns, _) in TABLES.items():
                con.execute(f"CREATE OR REPLACE TABLE {table} {columns}")
                if rows[table]:
                    placeholders = ", ".join("?" * len(rows[table][0]))
                    con.executemany(f"INSERT INTO {table} VALUES ({placeholders})", [list(r) for r in rows[table]])
        metadata = {table: table_metadata(con, table) for table in TABLES}
    for table, meta in metadata.items():
        yield dg.MaterializeResult(asset_key=table.split("."), metadata=meta)


