"""The tracker's marts built on PostgreSQL through the same dbt project, beside the same build on DuckDB.

Part of ``tracker bench`` at every size (issue 17), so that the README's advice on which engine to use at what size
rests on a measurement; it also runs on any warehouse a ``tracker run`` has filled:

    python3 -m uv run python -m bench.postgres_marts WAREHOUSE.duckdb [--rounds 3] [--work DIR]

A private PostgreSQL server is started and stopped (bench/postgres_server.py; Debian's package, ``sh
.ci/install-postgresql``). The warehouse is only read: it is copied first, and dbt builds in a copy of the copy. Each
round, interleaved so that the machine's load falls on both engines alike: ``dbt build`` (every model and data test,
one dbt process, one thread) on DuckDB; the dbt sources copied into PostgreSQL (tracker/warehouse_move.py); the same
``dbt build`` there. A ``dbt parse`` of each target first warms dbt's partial parse, as a run's build has it. Each
figure is the median of the rounds, with the part of it dbt's nodes spent running SQL (run_results.json): the rest
is dbt's own cost per node. Before a time is reported every mart must hold as many rows on PostgreSQL as on DuckDB
(that they are equal row for row is tests/test_postgres_marts.py's, on the shipped data).
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
from contextlib import closing
from pathlib import Path

from bench.postgres_server import NOT_INSTALLED, bin_dir, installed, postgres_target, start

# the figures this adds to a size's result; each None when PostgreSQL is not installed
FIGURES = ("dbt_build_duckdb_s", "dbt_build_duckdb_sql_s", "copy_to_postgres_s", "dbt_build_postgres_s",
           "dbt_build_postgres_sql_s", "postgres_over_duckdb")


def _dbt(command: str, env: dict[str, str], target: Path) -> tuple[float, subprocess.CompletedProcess]:
    from assets.marts import DBT_EXECUTABLE, DBT_PROJECT_DIR

    full_env = {**os.environ, **env, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    if env.get("TRACKER_DBT_TARGET") == "postgres":
        full_env.pop("TRACKER_WAREHOUSE", None)  # the postgres output needs no DuckDB file
    started = time.perf_counter()
    done = subprocess.run([DBT_EXECUTABLE, command, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
                           str(DBT_PROJECT_DIR), "--target-path", str(target), "--log-path", str(target)],
                          capture_output=True, text=True, env=full_env)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"dbt {command} failed on {env.get('TRACKER_DBT_TARGET')} (logs in {target}):\n"
                           f"{done.stdout[-3000:]}{done.stderr[-2000:]}")
    return seconds, done


def dbt_build(env: dict[str, str], target: Path) -> tuple[float, float]:
    """Wall-clock seconds of one ``dbt build``, and the seconds its nodes spent running SQL."""
    seconds, _done = _dbt("build", env, target)
    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))["results"]
    return seconds, sum(r["execution_time"] for r in results)


def mart_names() -> list[str]:
    """Every dbt model of the marts schema, from the model files."""
    from assets.marts import DBT_PROJECT_DIR

    return sorted(sql.stem for sql in (DBT_PROJECT_DIR / "models" / "marts").rglob("*.sql"))


def mart_rows(duckdb_file: Path, postgres_url: str) -> tuple[dict[str, int], dict[str, int]]:
    """Rows in every mart on each engine."""
    import duckdb
    import psycopg2

    names = mart_names()
    with duckdb.connect(str(duckdb_file), read_only=True) as con:
        duck = {n: con.execute(f'SELECT count(*) FROM marts."{n}"').fetchone()[0] for n in names}
    with closing(psycopg2.connect(postgres_url)) as pg, pg.cursor() as cur:
        pg_rows = {}
        for n in names:
            cur.execute(f'SELECT count(*) FROM marts."{n}"')
            pg_rows[n] = cur.fetchone()[0]
    return duck, pg_rows


def _copy_warehouse(source: Path, target: Path) -> None:
    """A DuckDB file and its write-ahead log, if it has one."""
    shutil.copy(source, target)
    wal = Path(f"{source}.wal")
    Path(f"{target}.wal").unlink(missing_ok=True)
    if wal.exists():
        shutil.copy(wal, f"{target}.wal")


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def measure(warehouse: Path, rounds: int, work: Path) -> dict:
    """``dbt build`` of the marts on DuckDB and on PostgreSQL from the same inputs, ``rounds`` interleaved rounds.

    The figures (``FIGURES``) are medians; ``postgres_installed`` False and every figure None without PostgreSQL."""
    from tracker.warehouse_move import move_tables

    if not installed():
        print(f"{NOT_INSTALLED}; the marts on PostgreSQL are not measured.", flush=True)
        return dict.fromkeys(FIGURES) | {"postgres_installed": False}
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    inputs, copy = work / "inputs.duckdb", work / "duckdb_build.duckdb"
    _copy_warehouse(warehouse, inputs)
    timings: dict[str, list[float]] = {k: [] for k in ("duckdb", "duckdb_sql", "copy", "postgres", "postgres_sql")}
    server = start()
    try:
        url = server.create_database("marts")
        duck_env = {"TRACKER_WAREHOUSE": str(copy), "TRACKER_DBT_TARGET": "warehouse"}
        pg_env = postgres_target(url)
        _dbt("parse", duck_env, work / "dbt-duckdb")
        _dbt("parse", pg_env, work / "dbt-postgres")
        for _ in range(rounds):
            _copy_warehouse(inputs, copy)  # each round's DuckDB build starts from the inputs, as PostgreSQL's does
            duck = dbt_build(duck_env, work / "dbt-duckdb")
            started = time.perf_counter()
            move_tables(inputs, url)
            copied = time.perf_counter() - started
            pg = dbt_build(pg_env, work / "dbt-postgres")
            for key, value in zip(timings, (*duck, copied, *pg), strict=True):
                timings[key].append(value)
        duck_rows, pg_rows = mart_rows(copy, url)
    finally:
        server.stop()
        for leftover in (inputs, copy):
            Path(f"{leftover}.wal").unlink(missing_ok=True)
            leftover.unlink(missing_ok=True)
    if duck_rows != pg_rows:
        differ = {n: (duck_rows[n], pg_rows[n]) for n in duck_rows if duck_rows[n] != pg_rows[n]}
        raise RuntimeError(f"the marts differ between DuckDB and PostgreSQL (rows: DuckDB, PostgreSQL): {differ}")
    median = {k: _median(v) for k, v in timings.items()}
    return {
        "dbt_build_duckdb_s": median["duckdb"], "dbt_build_duckdb_sql_s": median["duckdb_sql"],
        "copy_to_postgres_s": median["copy"],
        "dbt_build_postgres_s": median["postgres"], "dbt_build_postgres_sql_s": median["postgres_sql"],
        "postgres_over_duckdb": round(statistics.median(timings["postgres"]) / statistics.median(timings["duckdb"]),
                                      2),
        "postgres_installed": True, "postgresql": bin_dir().parts[-2],
        "each_dbt_build_s": {"duckdb": [round(t, 2) for t in timings["duckdb"]],
                             "postgres": [round(t, 2) for t in timings["postgres"]]},
        "marts_rows": {"marts": len(duck_rows), "rows": sum(duck_rows.values())},  # the same on both engines
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.postgres_marts", description=__doc__.split("\n\n")[0])
    parser.add_argument("warehouse", type=Path, help="a warehouse.duckdb a `tracker run` has filled (only read)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", type=Path, help="where the copies and dbt's logs go (default: a temporary folder)")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="marts-benchmark-"))
    print(json.dumps(measure(args.warehouse, args.rounds, work), indent=2), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
