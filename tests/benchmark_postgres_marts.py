"""Benchmark: the same dbt build of the marts on DuckDB and on PostgreSQL, on the same inputs.

Not a test (timings live here and in the README, not in assertions). Run on a warehouse a `tracker run` has filled,
with Debian's PostgreSQL installed (`sh .ci/install-postgresql`); a private server is started and stopped:

    python3 -m uv run python tests/benchmark_postgres_marts.py [WAREHOUSE.duckdb] [--rounds 3] [--scale 1 10 100]

For each scale (1: the inputs as they are; N: the organisation-level staging tables multiplied N times by synthetic
organisations, see ``scale_inputs``) and each round, interleaved: the time to copy the inputs into PostgreSQL
(tracker/warehouse_move.py), and the wall-clock time of `dbt build` (every model and data test, one dbt process,
partial parse warm) on each engine, with the part of it dbt spent running SQL (sum of node times in
run_results.json); PostgreSQL as installed, and with its JIT compilation off (``PGOPTIONS=-c jit=off``). Prints the
medians.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from assets.marts import DBT_EXECUTABLE, DBT_PROJECT_DIR  # noqa: E402
from tests.postgres_server import start  # noqa: E402
from tests.test_postgres_marts import postgres_target  # noqa: E402
from tracker.warehouse_move import move_tables  # noqa: E402

# table -> {column: SQL giving the synthetic copy's value, with {i} the copy's number}: every organisation is copied,
# with its names and keys suffixed, so each copy is a new organisation that adopts as the original did
SCALED = {
    "staging.organisations": {
        "organisation_slug": "organisation_slug || '-synthetic-{i}'",
        "organisation_code": "organisation_code || '-S{i}'",
        "name": "name || ' (synthetic {i})'",
        "is_department": "false",
    },
    "staging.organisation_matches": {
        "platform_name": "platform_name || ' (synthetic {i})'",
        "organisation_slug": "organisation_slug || '-synthetic-{i}'",
    },
    "staging.pay_organisation_services": {"organisation_name": "organisation_name || ' (synthetic {i})'"},
    "staging.api_catalogue_listings": {"provider": "provider || ' (synthetic {i})'"},
    "staging.api_catalogue": {"provider": "provider || ' (synthetic {i})'"},
    "staging.notify_organisations": {"organisation_name": "organisation_name || ' (synthetic {i})'"},
    "staging.one_login_services": {"client_key": "client_key || '-s{i}'",
                                   "organisation_slug": "organisation_slug || '-synthetic-{i}'"},
    "staging.one_login_periods": {"client_key": "client_key || '-s{i}'"},
}


def scale_inputs(warehouse: Path, scale: int) -> dict[str, int]:
    """Multiply the organisation-level staging tables ``scale`` times in place; rows per table after."""
    con = duckdb.connect(str(warehouse))
    try:
        for table, changes in SCALED.items():
            columns = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
            con.execute(f"CREATE TEMP TABLE original AS SELECT * FROM {table}")
            for i in range(1, scale):
                select = ", ".join(changes[c].format(i=i) if c in changes else f'"{c}"' for c in columns)
                con.execute(f"INSERT INTO {table} SELECT {select} FROM original")
            con.execute("DROP TABLE original")
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in SCALED}
    finally:
        con.close()


def dbt_build(env: dict[str, str], target: Path) -> tuple[float, float]:
    """Wall-clock seconds of one `dbt build`, and the seconds its nodes ran."""
    started = time.perf_counter()
    done = subprocess.run([DBT_EXECUTABLE, "build", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
                           str(DBT_PROJECT_DIR), "--target-path", str(target), "--log-path", str(target)],
                          capture_output=True, text=True, env={**os.environ, **env,
                                                               "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stdout[-3000:])
    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))["results"]
    return wall, sum(r["execution_time"] for r in results)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("warehouse", nargs="?", default=str(Path(".tracker") / "warehouse.duckdb"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scale", type=int, nargs="+", default=[1])
    args = parser.parse_args()
    server = start()
    try:
        with tempfile.TemporaryDirectory(prefix="marts-benchmark-") as folder:
            for scale in args.scale:
                inputs = Path(folder) / f"inputs_x{scale}.duckdb"
                shutil.copy(args.warehouse, inputs)
                rows = scale_inputs(inputs, scale) if scale > 1 else {}
                url = server.create_database(f"marts_x{scale}")
                env_pg = postgres_target(url)
                timings: dict[str, list[float]] = {
                    k: [] for k in ("copy", "duckdb", "duckdb_sql", "pg", "pg_sql", "pg_nojit", "pg_nojit_sql")}
                for round_ in range(args.rounds + 1):  # round 0 warms the partial parse of each target, not counted
                    copy = Path(folder) / "duckdb_copy.duckdb"
                    shutil.copy(inputs, copy)
                    duck = dbt_build({"TRACKER_WAREHOUSE": str(copy), "TRACKER_DBT_TARGET": "warehouse"},
                                     Path(folder) / f"dbt_duckdb_x{scale}")
                    started = time.perf_counter()
                    move_tables(inputs, url)
                    copied = time.perf_counter() - started
                    pg = dbt_build(env_pg, Path(folder) / f"dbt_postgres_x{scale}")
                    nojit = dbt_build({**env_pg, "PGOPTIONS": "-c jit=off"}, Path(folder) / f"dbt_postgres_x{scale}")
                    if round_:
                        for key, value in zip(timings, (copied, *duck, *pg, *nojit), strict=True):
                            timings[key].append(value)
                median = {k: statistics.median(v) for k, v in timings.items()}
                largest = max(rows.items(), key=lambda kv: kv[1]) if rows else ("", 0)
                print(f"x{scale}{f' (largest input {largest[0]}: {largest[1]} rows)' if rows else ''}: "
                      f"copy into PostgreSQL {median['copy']:.1f} s; dbt build DuckDB {median['duckdb']:.1f} s "
                      f"(SQL {median['duckdb_sql']:.1f} s), PostgreSQL {median['pg']:.1f} s "
                      f"(SQL {median['pg_sql']:.1f} s), PostgreSQL without JIT {median['pg_nojit']:.1f} s "
                      f"(SQL {median['pg_nojit_sql']:.1f} s); rounds {timings}", flush=True)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
