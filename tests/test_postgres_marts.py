"""The same dbt project builds the same marts on PostgreSQL (issue 16, part 5: a warehouse that can move).

The session's DuckDB build (the ``built`` fixture: every asset on the shipped data) is the reference. Its staging
inputs, every table the dbt project reads as a ``source()``, are copied into a fresh database on a real PostgreSQL
server (``tracker/warehouse_move.py``); ``dbt build`` runs there on the ``postgres`` target of assets/dbt/profiles.yml,
chosen by TRACKER_DBT_TARGET, with every data test; and every mart is compared with DuckDB's, row for row on its
declared key (tests/warehouse_compare.py). Numbers are equal within a relative 1e-9 (plus an absolute 1e-9: the two
engines may add the same doubles in another order); everything else exactly. Column types must be of the same
family on both engines (a date a date, a number a number).
"""

from __future__ import annotations

import json
import os
import subprocess
from contextlib import closing

import psycopg2
import pytest

from assets.marts import DBT_EXECUTABLE, DBT_PROJECT_DIR
from bench.postgres_server import postgres_target
from tests.warehouse_compare import (
    ABSOLUTE_TOLERANCE,
    RELATIVE_TOLERANCE,
    compare_warehouses,
    copy_from_postgres,
    mart_models,
    type_family,
)
from tracker.warehouse_move import move_tables, source_tables


@pytest.fixture(scope="module")
def on_postgres(built, postgres, tmp_path_factory) -> dict:
    """The staging inputs copied into PostgreSQL, the marts built there by dbt, and copied back into a DuckDB file."""
    folder = tmp_path_factory.mktemp("marts_on_postgres")
    warehouse = built["home"] / "warehouse.duckdb"  # read only: other tests read it
    url = postgres.create_database("marts_on_postgres")
    copied = move_tables(warehouse, url)
    env = {**os.environ, **postgres_target(url), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    env.pop("TRACKER_WAREHOUSE", None)  # the postgres output needs no DuckDB file
    build = subprocess.run(
        [DBT_EXECUTABLE, "build", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
         "--target-path", str(folder / "dbt"), "--log-path", str(folder / "dbt"), "--no-partial-parse"],
        capture_output=True, text=True, env=env)
    exported = folder / "postgres_marts.duckdb"
    with closing(psycopg2.connect(url)) as pg:
        export_problems = copy_from_postgres(pg, mart_models(), exported, types_from=warehouse)
    return {"url": url, "copied": copied, "build": build, "folder": folder, "warehouse": warehouse,
            "exported": exported, "export_problems": export_problems}


def test_every_source_is_copied_whole(on_postgres):
    import duckdb

    assert set(on_postgres["copied"]) == set(source_tables())
    con = duckdb.connect(str(on_postgres["warehouse"]), read_only=True)
    try:
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in on_postgres["copied"]}
    finally:
        con.close()
    assert on_postgres["copied"] == counts


def test_dbt_builds_every_model_and_passes_every_test_on_postgres(on_postgres):
    build = on_postgres["build"]
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-2000:]
    results = json.loads((on_postgres["folder"] / "dbt" / "run_results.json").read_text(encoding="utf-8"))["results"]
    failed = [f"{r['unique_id']}: {r['status']} {r.get('message')}" for r in results
              if r["status"] not in ("success", "pass")]
    assert not failed
    built_models = {r["unique_id"].split(".")[-1] for r in results if r["unique_id"].startswith("model.")}
    assert {m.split(".")[1] for m in mart_models()} <= built_models
    assert any(r["unique_id"].startswith("test.") for r in results)


def test_every_mart_on_postgres_equals_duckdb(on_postgres):
    assert not on_postgres["export_problems"]
    result = compare_warehouses(on_postgres["warehouse"], on_postgres["exported"], schemas=("marts",))
    assert result.equal, result.report()
    assert set(result.compared) == set(mart_models()), "every mart is compared"
    assert sum(result.rows_compared.values()) > 1000


def test_types_are_the_same_kind_on_both_engines(on_postgres):
    import duckdb

    con = duckdb.connect(str(on_postgres["warehouse"]), read_only=True)
    try:
        duck = {(t, c): type_family(d) for t, c, d in con.execute(
            "SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE schema_name = 'marts' "
            "AND database_name = current_database()").fetchall()}
    finally:
        con.close()
    with closing(psycopg2.connect(on_postgres["url"])) as pg, pg.cursor() as cur:
        cur.execute("SELECT table_name, column_name, CASE WHEN data_type = 'ARRAY' THEN udt_name ELSE data_type END "
                    "FROM information_schema.columns WHERE table_schema = 'marts'")
        pg_types = {(t, c): type_family(d) for t, c, d in cur.fetchall()}
    assert set(pg_types) == set(duck)
    differ = {k: (duck[k], pg_types[k]) for k in duck if duck[k] != pg_types[k]}
    assert not differ
    assert {"number", "text", "date", "boolean"} <= set(duck.values())


def test_the_comparison_catches_a_changed_value_on_postgres(on_postgres, tmp_path):
    """A value out by more than the tolerance is found, naming table, key and column; one within it is not."""
    table, column = "marts.target_progress", "latest_value"
    with closing(psycopg2.connect(on_postgres["url"])) as pg:
        try:
            with pg.cursor() as cur:
                cur.execute(f"SELECT target_id, {column} FROM {table} WHERE {column} > 1 ORDER BY target_id LIMIT 2")
                (changed, value), (nudged, nudged_value) = cur.fetchall()
                cur.execute(f"UPDATE {table} SET {column} = %s WHERE target_id = %s", (value * (1 + 1e-6), changed))
                cur.execute(f"UPDATE {table} SET {column} = %s WHERE target_id = %s",
                            (nudged_value * (1 + RELATIVE_TOLERANCE / 10) + ABSOLUTE_TOLERANCE / 10, nudged))
            copy_from_postgres(pg, mart_models(), tmp_path / "changed.duckdb", types_from=on_postgres["warehouse"])
        finally:
            pg.rollback()  # the module's build stays as dbt made it
    result = compare_warehouses(on_postgres["warehouse"], tmp_path / "changed.duckdb", schemas=("marts",))
    assert not result.equal
    assert len(result.differences) == 1, result.report()  # the nudge within the tolerance is not a difference
    difference = result.differences[0]
    assert difference.startswith(f"{table}: key ") and changed in difference and f"column {column}:" in difference
