"""The shape of every table a source writes into staging (its columns and their types, and whether it is a view),
as a run on the shipped data gives it: what a source that has never been read starts as, empty, so that its
checks, the marts and the publication go on without it (assets/staging.py). Generated, never written by hand:

    python -m assets.staging_shapes WAREHOUSE      # a warehouse.duckdb a `tracker run` on the shipped data filled

and kept in step with the code by tests/test_staging_shapes.py.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

SHAPES_FILE = Path(__file__).with_name("staging_shapes.json")
MODELS_DIR = Path(__file__).parent / "dbt" / "models" / "staging"


@functools.cache
def shapes() -> dict[str, dict]:
    """schema.table -> {"kind": "table" or "view", "columns": [[name, DuckDB type], ...]}."""
    return json.loads(SHAPES_FILE.read_text(encoding="utf-8"))


def read_shapes(con, tables: list[str]) -> dict[str, dict]:
    """The shapes of ``tables`` as they are in the warehouse ``con`` is open on (those it has)."""
    found = {}
    for table in sorted(tables):
        schema, name = table.split(".")
        kind = con.execute("SELECT CASE WHEN table_type = 'VIEW' THEN 'view' ELSE 'table' END FROM "
                           "information_schema.tables WHERE table_schema = ? AND table_name = ?",
                           [schema, name]).fetchone()
        if kind is None:
            continue
        columns = con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = ? AND "
                              "table_name = ? ORDER BY column_index", [schema, name]).fetchall()
        found[table] = {"kind": kind[0], "columns": [list(c) for c in columns]}
    return found


def empty(con, table: str) -> bool:
    """Make ``table`` empty in its shape, if the shapes know it; whether it did."""
    shape = shapes().get(table)
    if shape is None:
        return False
    columns = ", ".join(f'CAST(NULL AS {kind}) AS "{name}"' for name, kind in shape["columns"])
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {table.split('.')[0]}")
    con.execute(f"CREATE OR REPLACE {'VIEW' if shape['kind'] == 'view' else 'TABLE'} {table} AS SELECT {columns} "
                "WHERE false")
    return True


def as_declared(con, relation: str, table: str) -> str:
    """A SELECT of ``relation`` to be written as ``table``, each column whose type the data leave unknown (empty, or
    every value missing: DuckDB's "NULL" type) given the type the shapes declare, so that the marts' typed SQL reads
    an empty table as it reads a full one."""
    declared = {name: kind for name, kind in (shapes().get(table) or {}).get("columns", [])}
    unknown = [name for name, kind, *_ in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
               if kind.strip('"') == "NULL" and declared.get(name, "NULL").strip('"') != "NULL"]
    if not unknown:
        return f"SELECT * FROM {relation}"
    cast = ", ".join(f'CAST("{name}" AS {declared[name]}) AS "{name}"' for name in unknown)
    return f"SELECT * REPLACE ({cast}) FROM {relation}"


def source_tables(con) -> list[str]:
    """Every table in the warehouse's staging schema that a Python asset wrote: all but the dbt project's staging
    models (one file each)."""
    models = {path.stem for path in MODELS_DIR.glob("*.sql")}
    names = con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'staging'").fetchall()
    return sorted(f"staging.{name}" for (name,) in names if name not in models)


def main(argv: list[str]) -> int:
    import duckdb

    with duckdb.connect(argv[0], read_only=True) as con:
        found = read_shapes(con, source_tables(con))
    SHAPES_FILE.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"Wrote the shapes of {len(found)} tables to {SHAPES_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
