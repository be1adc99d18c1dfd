"""Copy tables from a DuckDB warehouse file into a PostgreSQL database, so the same dbt project builds there.

The marts (assets/dbt/) read only the tables their ``source()`` calls name (``models/staging/_sources.yml``):
raw files, the staging tables Python assets write, and the meta, audit and quarantine tables. This module copies
exactly those (or any tables named) into PostgreSQL, set-wise: DuckDB writes each table to a CSV file and
PostgreSQL reads it with ``COPY ... FROM STDIN``, all in one transaction, so a failed copy leaves the database as it
was. Each table is replaced whole (views built on it, the dbt staging views, are dropped with it: the next
``dbt build`` makes them again).

Types are kept (``pg_type``): VARCHAR is text, DOUBLE double precision, DECIMAL keeps its precision and scale,
HUGEINT is numeric(38), DATE, TIMESTAMP and TIMESTAMP WITH TIME ZONE stay themselves (nanoseconds become
microseconds, PostgreSQL's precision), BLOB is bytea, JSON json (its text kept as written), a list an array, and a
STRUCT or MAP json. A column DuckDB typed as NULL (every value missing) is text. PRIMARY KEY constraints are copied.

Run as ``python -m tracker.warehouse_move WAREHOUSE.duckdb postgresql://user@host:port/dbname``. The DuckDB file
is opened read-only: stop anything writing it first (DuckDB has a single writer).
"""

from __future__ import annotations

import argparse
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import yaml

SOURCES_YML = Path(__file__).resolve().parent.parent / "assets" / "dbt" / "models" / "staging" / "_sources.yml"
NULL_MARK = r"\N"  # how a missing value is written in the CSV (an empty quoted string stays a string)

_SIMPLE_TYPES = {
    "VARCHAR": "text", "BOOLEAN": "boolean", "TINYINT": "smallint", "SMALLINT": "smallint", "INTEGER": "integer",
    "BIGINT": "bigint", "HUGEINT": "numeric(38)", "UTINYINT": "smallint", "USMALLINT": "integer",
    "UINTEGER": "bigint", "UBIGINT": "numeric(20)", "UHUGEINT": "numeric(39)", "FLOAT": "real",
    "DOUBLE": "double precision", "DATE": "date", "TIME": "time", "TIMESTAMP": "timestamp",
    "TIMESTAMP_NS": "timestamp", "TIMESTAMP_MS": "timestamp", "TIMESTAMP_S": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz", "INTERVAL": "interval", "UUID": "uuid", "BLOB": "bytea",
    "JSON": "json", '"NULL"': "text", "NULL": "text",
}


@dataclass(frozen=True)
class Column:
    name: str
    duckdb_type: str

    @property
    def pg_type(self) -> str:
        return pg_type(self.duckdb_type)


def pg_type(duckdb_type: str) -> str:
    """The PostgreSQL type that holds a DuckDB column's values without changing them."""
    if duckdb_type in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[duckdb_type]
    if decimal := re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", duckdb_type):
        return f"numeric({decimal[1]},{decimal[2]})"
    if duckdb_type.endswith("[]"):
        element = pg_type(duckdb_type[:-2])
        return "json" if element == "json" else f"{element}[]"  # an array of records is json
    if duckdb_type.startswith(("STRUCT", "MAP", "UNION")) or re.search(r"\[\d+\]$", duckdb_type):
        return "json"
    raise ValueError(f"No PostgreSQL type is known for the DuckDB type {duckdb_type}")


def source_tables(sources_yml: Path = SOURCES_YML) -> list[str]:
    """Every ``schema.table`` the dbt project reads as a source: what a PostgreSQL build needs."""
    doc = yaml.safe_load(sources_yml.read_text(encoding="utf-8"))
    return [f"{s.get('schema', s['name'])}.{t['name']}" for s in doc["sources"] for t in s["tables"]]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _as_text(column: Column) -> str:
    """The DuckDB expression that writes a column as PostgreSQL reads its type from CSV."""
    name, kind = _quote(column.name), column.pg_type
    if kind == "bytea":
        return f"'\\x' || hex({name})"
    if kind == "json" and column.duckdb_type != "JSON":
        return f"to_json({name})::VARCHAR"
    if kind.endswith("[]"):  # an array literal: {"a","b",NULL}, each element quoted and escaped
        element = ("CASE WHEN x IS NULL THEN 'NULL' ELSE '\"' || replace(replace(x::VARCHAR, '\\', '\\\\'), '\"', "
                   "'\\\"') || '\"' END")
        elements = f"list_transform({name}, lambda x: {element})"
        return f"CASE WHEN {name} IS NOT NULL THEN '{{' || array_to_string({elements}, ',') || '}}' END"
    if column.duckdb_type.startswith("TIMESTAMP") and column.duckdb_type != "TIMESTAMP WITH TIME ZONE":
        return f"{name}::TIMESTAMP::VARCHAR"
    return f"{name}::VARCHAR"


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[Column]:
    schema, name = table.split(".", 1)
    rows = con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? "
                       "AND database_name = current_database() ORDER BY column_index", [schema, name]).fetchall()
    if not rows:
        raise LookupError(f"{table} is not in the DuckDB warehouse")
    return [Column(n, t) for n, t in rows]


def _primary_key(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    schema, name = table.split(".", 1)
    row = con.execute("SELECT constraint_column_names FROM duckdb_constraints() WHERE schema_name = ? AND table_name "
                      "= ? AND constraint_type = 'PRIMARY KEY' AND database_name = current_database()",
                      [schema, name]).fetchone()
    return list(row[0]) if row else []


def move_tables(warehouse: Path | str, postgres_url: str, tables: Iterable[str] | None = None) -> dict[str, int]:
    """Copy ``tables`` (default: every dbt source) from the DuckDB file into PostgreSQL; rows copied per table.

    One transaction: every table is replaced, or none is."""
    import psycopg2  # the PostgreSQL driver is needed only here

    tables = list(tables) if tables is not None else source_tables()
    copied: dict[str, int] = {}
    con = duckdb.connect(str(warehouse), read_only=True)
    pg = psycopg2.connect(postgres_url)
    try:
        with tempfile.TemporaryDirectory(prefix="warehouse-move-") as folder, pg, pg.cursor() as cur:
            for table in tables:
                copied[table] = _copy_table(con, cur, table, Path(folder) / f"{table}.csv")
    finally:
        pg.close()
        con.close()
    return copied


def _copy_table(con: duckdb.DuckDBPyConnection, cur, table: str, csv: Path) -> int:  # noqa: ANN001 - a psycopg2 cursor
    """Replace one PostgreSQL table by the DuckDB table of the same name; its row count."""
    columns = table_columns(con, table)
    schema, name = table.split(".", 1)
    target = f"{_quote(schema)}.{_quote(name)}"
    definition = ", ".join(f"{_quote(c.name)} {c.pg_type}" for c in columns)
    if key := _primary_key(con, table):
        definition += f", PRIMARY KEY ({', '.join(_quote(c) for c in key)})"
    cur.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(schema)}")
    cur.execute(f"DROP TABLE IF EXISTS {target} CASCADE")
    cur.execute(f"CREATE TABLE {target} ({definition})")
    # text is always quoted, so an empty string stays a string and only the unquoted mark is a missing value
    texts = [_quote(c.name) for c in columns if c.pg_type in ("text", "json") or c.pg_type.endswith("[]")]
    force_quote = f", FORCE_QUOTE ({', '.join(texts)})" if texts else ""
    select = ", ".join(f"{_as_text(c)} AS {_quote(c.name)}" for c in columns)
    con.execute(f"COPY (SELECT {select} FROM {target}) TO '{csv}' "
                f"(FORMAT csv, HEADER false, NULLSTR '{NULL_MARK}'{force_quote})")
    with open(csv, encoding="utf-8") as rows:
        cur.copy_expert(f"COPY {target} ({', '.join(_quote(c.name) for c in columns)}) FROM STDIN WITH (FORMAT csv, "
                        f"NULL '{NULL_MARK}')", rows)
    return cur.rowcount


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Copy the tables the marts read from a DuckDB warehouse into "
                                                 "PostgreSQL, so `dbt build` can run there.")
    parser.add_argument("warehouse", help="the DuckDB warehouse file (opened read-only)")
    parser.add_argument("postgres_url", help="e.g. postgresql://tracker@127.0.0.1:5432/tracker")
    parser.add_argument("--table", action="append", help="schema.table to copy (repeatable; default: every dbt "
                                                         "source)")
    args = parser.parse_args(argv)
    copied = move_tables(args.warehouse, args.postgres_url, args.table)
    print(f"Copied {len(copied)} tables, {sum(copied.values())} rows, into {args.postgres_url.split('@')[-1]}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
