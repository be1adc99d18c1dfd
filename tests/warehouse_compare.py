"""Compare two warehouse files table by table, on each table's declared key, leaving out load-time columns.

Used by the backfill test (a full rebuild in one run equals the incremental build) and by any test that must show
two builds agree (a crash test comparing marts after a SIGKILL). The comparison is done in DuckDB: both files are
ATTACHed read-only to one in-memory connection and each table is compared with anti-joins and one join on its key,
never by looping over rows in Python.

Where a table's key comes from, in this order:

1. the first of ``keys`` in the dbt model's ``rules`` data test (``assets/dbt/models/**/_*.yml``), the key every
   mart declares;
2. else the first column the rules hold ``unique`` (not one restricted by ``where``);
3. else, for a table Python writes, its PRIMARY KEY or UNIQUE constraint in the warehouse (``duckdb_constraints()``).

A table of a REQUIRED schema (``marts``) with none of these is reported as having no declared key and makes the
comparison unequal: it is never skipped silently. A table of another compared schema (``staging``) with none of them
is compared whole: as a multiset of its rows (every column but the load-time ones), so a difference still shows,
as a row only on one side.

A PostgreSQL build of the marts is compared the same way: ``copy_from_postgres`` copies its tables into a DuckDB
file, each column given the type the DuckDB warehouse has for it (PostgreSQL's own types are checked separately, by
family: ``type_family``), and the two DuckDB files are compared. Numbers (DOUBLE on both sides) are equal within
``RELATIVE_TOLERANCE`` and ``ABSOLUTE_TOLERANCE``; everything else exactly.

Load-time columns (``LOAD_TIME_COLUMNS``) record when or by which run the tracker wrote something, so they differ
between any two builds of the same data; they are left out. A date the SOURCE gave (a version's ``published_at``,
when a department sent a return: ``received_at`` of a return, when Notify's live document was fetched:
``fetched_at``) is data and is compared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import yaml

from tracker.sources import SOURCES

PROJECT = Path(__file__).resolve().parent.parent
DBT_MODELS = PROJECT / "assets" / "dbt" / "models"

# When or by which run the tracker wrote a row: never the same in two builds of the same data. A bare name is left
# out of every table; "schema.table.column" only of that table (the same name is data elsewhere).
LOAD_TIME_COLUMNS: tuple[str, ...] = (
    "built_at",        # meta.<source>_build: when the tracker last wrote the source's tables
    "built_by_run",    # meta.<source>_build: the Dagster run that wrote them
    "tried_at",        # meta.<source>_build: when the tracker last tried to
    "inputs_sha256",   # meta.<source>_build: a hash of what the tables were built from, raw arrival times included
    "last_built_at",   # marts.sources: built_at above, per source
    "last_tried_at",   # marts.sources: tried_at above, per source
    "last_stored_at",  # marts.sources: when the tracker stored the source's newest raw file
    "found_at",        # quarantine.*, marts.feed_problems: when the run found the problem
    "processed_at",    # audit.return_submissions, marts.return_submissions, staging.submissions_as_of
    "closed_at",       # audit.returns_window_closures: when the tracker closed the window
    "run_id",          # any run id
    # raw.*: when the tracker stored the file (a return's received_at, by contrast, is when it was sent: data)
    # every platform and reference source (tracker/sources.py) and Notify's live documents; the returns' own raw
    # table is raw.return_files, whose received_at is when the department sent the file: data, compared
    *(f"raw.{source}_files.received_at" for source in (*SOURCES, "notify_live")),
    # where under TRACKER_HOME the tracker archived a return: a path on this machine, not data
    "audit.return_submissions.archived_as",
    "staging.submissions_as_of.archived_as",
    # the record of the Great Expectations run that checked a return when it arrived: its suite is named by that
    # run's reporting date (its outcome, the same rules passed and failed, is compared by tests/test_backfill.py)
    "audit.return_submissions.gx_result",
    "staging.submissions_as_of.gx_result",
    # what the raw store holds: every file ever received, kept forever, so also each superseded versions.csv a
    # scheduled run stored; a rebuild from today's folder has only today's (tests/test_backfill.py checks that
    # this is the only difference in the raw store)
    "marts.sources.files_kept",
    "marts.sources.bytes_kept",
)

DEFAULT_SCHEMAS = ("marts", "staging")
# Views are compared like tables, but not one that only sets tables compared here one under the other.
VIEWS_OF_COMPARED_TABLES = ("raw.source_files",)  # raw.<source>_files and raw.return_files
REQUIRED_SCHEMAS = ("marts",)  # every table here must declare its key
FLOAT_TYPES = ("DOUBLE", "FLOAT", "REAL")
# Floats are equal when |left - right| <= ABSOLUTE_TOLERANCE + RELATIVE_TOLERANCE * |right|: summing the same
# numbers in another order may differ in the last bits, never by more.
ABSOLUTE_TOLERANCE = 1e-9
RELATIVE_TOLERANCE = 1e-9
SHOWN_PER_TABLE = 20


@dataclass(frozen=True)
class DeclaredKey:
    table: str  # schema.table
    columns: tuple[str, ...]
    declared_by: str  # where the key was read from, for messages


@dataclass
class Comparison:
    """What differs between two warehouses; ``equal`` when nothing does."""

    left: str
    right: str
    compared: dict[str, DeclaredKey] = field(default_factory=dict)  # table -> key it was compared on
    rows_compared: dict[str, int] = field(default_factory=dict)
    no_key: list[str] = field(default_factory=list)  # tables of a required schema with no declared key
    compared_whole: list[str] = field(default_factory=list)  # other tables with no key, compared row for row
    differences: list[str] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return not self.differences and not self.no_key

    def report(self) -> str:
        lines = [f"Compared {len(self.compared)} tables of {self.left} (left) and {self.right} (right) on their "
                 f"declared keys, without the load-time columns {', '.join(LOAD_TIME_COLUMNS)}."]
        lines += [f"NO DECLARED KEY: {t} (declare one in keys of its model's rules test)"
                  for t in self.no_key]
        if self.compared_whole:
            lines.append(f"Compared as whole rows (no key declared): {', '.join(self.compared_whole)}.")
        lines += self.differences
        return "\n".join(lines)


def _rules(model: dict) -> dict:
    """The arguments of the model's ``rules`` data test (``assets/dbt/tests/generic/rules.sql``), or none."""
    for test in model.get("data_tests") or []:
        if isinstance(test, dict) and "rules" in test:
            return (test["rules"] or {}).get("arguments") or {}
    return {}


def declared_keys(models_dir: Path = DBT_MODELS) -> dict[str, DeclaredKey]:
    """Every dbt model's declared key, by ``schema.table`` (the schema as dbt_project.yml and the model set it)."""
    keys: dict[str, DeclaredKey] = {}
    for yml in sorted(models_dir.rglob("_*.yml")):
        folder_schema = yml.relative_to(models_dir).parts[0]
        for model in (yaml.safe_load(yml.read_text(encoding="utf-8")) or {}).get("models", []):
            schema = (model.get("config") or {}).get("schema", folder_schema)
            table = f"{schema}.{model['name']}"
            where = f"{yml.relative_to(PROJECT)}: {model['name']}"
            rules = _rules(model)
            unique = [rule for rule in rules.get("unique", []) if isinstance(rule, str)]  # not those with a where
            if rules.get("keys"):
                keys[table] = DeclaredKey(table, tuple(rules["keys"][0]), f"{where} rules test, its first key")
            elif unique:
                keys[table] = DeclaredKey(table, (unique[0],), f"{where} rules test, unique {unique[0]}")
    return keys


def _load_time(table: str, column: str) -> bool:
    return column in LOAD_TIME_COLUMNS or f"{table}.{column}" in LOAD_TIME_COLUMNS


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _relations(con, db: str, schemas: tuple[str, ...]) -> set[str]:
    placeholders = ", ".join("?" for _ in schemas)
    # Views too: Pay's per-organisation rows are a view over the parse cache (assets/staging.py, VersionsView),
    # whose own tables (numbered as each build numbered them) are not compared. (A view whose SQL named its own
    # database, "warehouse", could not be read from a file ATTACHed under another name: none does.)
    rows = con.execute(
        f"SELECT schema_name || '.' || table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name IN "
        f"({placeholders}) UNION ALL SELECT schema_name || '.' || view_name FROM duckdb_views() WHERE NOT internal "
        f"AND database_name = ? AND schema_name IN ({placeholders})", [db, *schemas, db, *schemas]).fetchall()
    return {r for (r,) in rows} - set(VIEWS_OF_COMPARED_TABLES)


def _constraint_keys(con, db: str) -> dict[str, DeclaredKey]:
    rows = con.execute(
        "SELECT schema_name || '.' || table_name, constraint_type, constraint_column_names FROM duckdb_constraints() "
        "WHERE database_name = ? AND constraint_type IN ('PRIMARY KEY', 'UNIQUE') ORDER BY constraint_type",
        [db]).fetchall()
    keys: dict[str, DeclaredKey] = {}
    for table, kind, columns in rows:  # PRIMARY KEY sorts before UNIQUE and wins
        keys.setdefault(table, DeclaredKey(table, tuple(columns), f"the table's {kind} constraint"))
    return keys


def _columns(con, db: str, table: str) -> dict[str, str]:
    schema, name = table.split(".", 1)
    rows = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = ? AND schema_name = ? "
        "AND table_name = ? ORDER BY column_index", [db, schema, name]).fetchall()
    return dict(rows)


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _compare_table(con, table: str, key: DeclaredKey, result: Comparison) -> None:
    left_columns, right_columns = _columns(con, "lhs", table), _columns(con, "rhs", table)
    missing_key = [c for c in key.columns if c not in left_columns or c not in right_columns]
    if missing_key:
        result.differences.append(f"{table}: the declared key ({key.declared_by}) names columns the table lacks: "
                                  f"{', '.join(missing_key)}")
        return
    if any(_load_time(table, c) for c in key.columns):
        result.differences.append(f"{table}: its key {key.columns} includes a load-time column: it cannot be "
                                  "compared between builds")
        return
    only_left = [c for c in left_columns if c not in right_columns and not _load_time(table, c)]
    only_right = [c for c in right_columns if c not in left_columns and not _load_time(table, c)]
    for side, cols in (("left", only_left), ("right", only_right)):
        if cols:
            result.differences.append(f"{table}: columns only on the {side}: {', '.join(cols)}")
    values = [c for c in left_columns if c in right_columns and c not in key.columns and not _load_time(table, c)]
    l_, r_ = f"lhs.{table}", f"rhs.{table}"
    keys = ", ".join(_quote(c) for c in key.columns)
    on = " AND ".join(f"l.{_quote(c)} IS NOT DISTINCT FROM r.{_quote(c)}" for c in key.columns)
    key_struct = "{" + ", ".join(f"'{c}': l.{_quote(c)}" for c in key.columns) + "}"  # the key, shown

    result.rows_compared[table] = con.execute(f"SELECT count(*) FROM {l_}").fetchone()[0]
    for side, rel in (("left", l_), ("right", r_)):
        duplicated = con.execute(f"SELECT {keys}, count(*) FROM {rel} GROUP BY ALL HAVING count(*) > 1 "
                                 f"LIMIT {SHOWN_PER_TABLE}").fetchall()
        for row in duplicated:
            result.differences.append(f"{table}: key {dict(zip(key.columns, row[:-1], strict=True))} is on "
                                      f"{row[-1]} rows on the {side}: the declared key is not unique")
    for side, this, other in (("left", l_, r_), ("right", r_, l_)):
        rows = con.execute(
            f"SELECT {key_struct}::VARCHAR FROM {this} l "
            f"WHERE NOT EXISTS (SELECT 1 FROM {other} r WHERE {on}) ORDER BY ALL").fetchall()
        for (shown,) in rows[:SHOWN_PER_TABLE]:
            result.differences.append(f"{table}: row {shown} only on the {side}")
        if len(rows) > SHOWN_PER_TABLE:
            result.differences.append(f"{table}: ... {len(rows) - SHOWN_PER_TABLE} more rows only on the {side}")
    if not values:
        return
    checks = []
    for column in values:
        lc, rc = f"l.{_quote(column)}", f"r.{_quote(column)}"
        float_type = left_columns[column] in FLOAT_TYPES and right_columns[column] in FLOAT_TYPES
        same = (f"({lc} IS NOT DISTINCT FROM {rc} OR (isnan({lc}) AND isnan({rc})) OR abs({lc} - {rc}) <= "
                f"{ABSOLUTE_TOLERANCE} + {RELATIVE_TOLERANCE} * abs({rc}))" if float_type
                else f"{lc} IS NOT DISTINCT FROM {rc}")
        checks.append(f"SELECT {key_struct}::VARCHAR AS key, '{column}' AS column_name, "
                      f"{lc}::VARCHAR AS left_value, {rc}::VARCHAR AS right_value FROM {l_} l JOIN {r_} r ON {on} "
                      f"WHERE NOT coalesce({same}, false)")
    rows = con.execute(f"SELECT * FROM ({' UNION ALL '.join(checks)}) ORDER BY ALL").fetchall()
    for shown, column, left, right in rows[:SHOWN_PER_TABLE]:
        result.differences.append(f"{table}: key {shown}, column {column}: left {_shown(left)} != right "
                                  f"{_shown(right)}")
    if len(rows) > SHOWN_PER_TABLE:
        result.differences.append(f"{table}: ... {len(rows) - SHOWN_PER_TABLE} more values differ")


def _compare_whole(con, table: str, result: Comparison) -> None:
    """A table with no key: its rows (less load-time columns, floats rounded to the tolerance) as two multisets."""
    left_columns, right_columns = _columns(con, "lhs", table), _columns(con, "rhs", table)
    columns = [c for c in left_columns if c in right_columns and not _load_time(table, c)]
    for side, cols in (("left", left_columns), ("right", right_columns)):
        only = [c for c in cols if c not in columns and not _load_time(table, c)]
        if only:
            result.differences.append(f"{table}: columns only on the {side}: {', '.join(only)}")
    selected = ", ".join(f"round({_quote(c)}, 9) AS {_quote(c)}" if left_columns[c] in FLOAT_TYPES else _quote(c)
                         for c in columns)
    result.rows_compared[table] = con.execute(f"SELECT count(*) FROM lhs.{table}").fetchone()[0]
    for side, this, other in (("left", "lhs", "rhs"), ("right", "rhs", "lhs")):
        rows = con.execute(f"SELECT * FROM (SELECT {selected} FROM {this}.{table} EXCEPT ALL "
                           f"SELECT {selected} FROM {other}.{table}) ORDER BY ALL").fetchall()
        for row in rows[:SHOWN_PER_TABLE]:
            shown = ", ".join(f"{c}={_shown(v)}" for c, v in zip(columns, row, strict=True))
            result.differences.append(f"{table} (no key; whole rows): row only on the {side}: {_shown(shown)}")
        if len(rows) > SHOWN_PER_TABLE:
            result.differences.append(f"{table}: ... {len(rows) - SHOWN_PER_TABLE} more rows only on the {side}")


def compare_warehouses(left: Path | str, right: Path | str, schemas: tuple[str, ...] = DEFAULT_SCHEMAS,
                       models_dir: Path = DBT_MODELS, keys: dict[str, DeclaredKey] | None = None,
                       required: tuple[str, ...] = REQUIRED_SCHEMAS) -> Comparison:
    """Compare every table of ``schemas`` in two warehouse files (both opened read-only).

    ``keys`` adds or overrides keys (``schema.table`` -> DeclaredKey), for a caller that knows one the project
    does not declare.
    """
    result = Comparison(str(left), str(right))
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{Path(left)}' AS lhs (READ_ONLY)")
        con.execute(f"ATTACH '{Path(right)}' AS rhs (READ_ONLY)")
        declared = {**_constraint_keys(con, "lhs"), **declared_keys(models_dir), **(keys or {})}
        left_tables, right_tables = _relations(con, "lhs", schemas), _relations(con, "rhs", schemas)
        for table in sorted(left_tables - right_tables):
            result.differences.append(f"{table}: only in the left warehouse")
        for table in sorted(right_tables - left_tables):
            result.differences.append(f"{table}: only in the right warehouse")
        for table in sorted(left_tables & right_tables):
            key = declared.get(table)
            if key is None and table.split(".")[0] in required:
                result.no_key.append(table)
                continue
            if key is None:
                result.compared_whole.append(table)
                _compare_whole(con, table, result)
                continue
            result.compared[table] = key
            _compare_table(con, table, key, result)
    finally:
        con.close()
    return result


def mart_models(models_dir: Path = DBT_MODELS) -> list[str]:
    """Every dbt model in the marts schema (``marts.<name>``), from the model files themselves, so a mart whose yml
    forgot it is still counted."""
    return sorted(f"marts.{sql.stem}" for sql in (models_dir / "marts").rglob("*.sql"))


# The kind of value a column holds, whatever the engine calls its type: a date must stay a date and a number a number
# when the marts are built on PostgreSQL. A DuckDB list of structs is a json array of objects there
# (assets/dbt/macros/portable.sql: record_list).
_FAMILIES = (
    ("number", r"(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|U\w*INT|FLOAT|REAL|DOUBLE|DECIMAL.*|"
               r"smallint|integer|bigint|numeric|real|double precision)"),
    ("text", r"(VARCHAR|text|character varying)"),
    ("date", r"(DATE|date)"),
    ("timestamp", r"(TIMESTAMP(_NS|_MS|_S)?|timestamp without time zone)"),
    ("timestamp with time zone", r"(TIMESTAMP WITH TIME ZONE|timestamp with time zone)"),
    ("boolean", r"(BOOLEAN|boolean)"),
    ("json", r"(JSON|json|jsonb|STRUCT\(.*\)\[\])"),
    ("list", r"(\w+\[\]|ARRAY)"),
)


def type_family(type_name: str) -> str:
    """"number", "text", "date", ... for a DuckDB type or a PostgreSQL information_schema data_type."""
    for family, pattern in _FAMILIES:
        if re.fullmatch(pattern, type_name):
            return family
    return f"other ({type_name})"


def copy_from_postgres(pg, tables: list[str], target: Path, types_from: Path) -> dict[str, str]:
    """Copy PostgreSQL tables (``schema.table``, through the psycopg2 connection ``pg``, so a caller's uncommitted
    change is seen) into a new DuckDB file, each column cast to the type ``types_from`` (a DuckDB warehouse, opened
    read-only) has for the same column; a column it lacks stays text. Returns what could not be copied, by table.

    Set-wise: PostgreSQL writes CSV (``COPY ... TO STDOUT``, every value quoted, NULL as an unquoted \\N) and DuckDB
    reads it with ``read_csv``."""
    import tempfile

    problems: dict[str, str] = {}
    con = duckdb.connect(str(target))
    try:
        con.execute(f"ATTACH '{Path(types_from)}' AS types_from (READ_ONLY)")
        with tempfile.TemporaryDirectory(prefix="pg-export-") as folder, pg.cursor() as cur:
            for table in tables:
                schema, name = table.split(".", 1)
                csv = Path(folder) / f"{table}.csv"
                with open(csv, "w", encoding="utf-8") as out:
                    cur.copy_expert(f"COPY (SELECT * FROM {_quote(schema)}.{_quote(name)}) TO STDOUT WITH (FORMAT csv,"
                                    " HEADER true, NULL '\\N', FORCE_QUOTE *)", out)
                types = _columns(con, "types_from", table)
                read = (f"read_csv('{csv}', all_varchar = true, header = true, delim = ',', quote = '\"', "
                        "escape = '\"', nullstr = '\\N', allow_quoted_nulls = false)")
                header = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {read}").fetchall()]
                select = ", ".join(
                    f"CAST(CAST({_quote(c)} AS JSON) AS {types[c]}) AS {_quote(c)}" if types.get(c, "").endswith("[]")
                    else f"CAST({_quote(c)} AS {types[c]}) AS {_quote(c)}" if c in types else _quote(c)
                    for c in header)
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(schema)}")
                try:
                    con.execute(f"CREATE TABLE {_quote(schema)}.{_quote(name)} AS SELECT {select} FROM {read}")
                except duckdb.Error as err:
                    problems[table] = str(err)
    finally:
        con.close()
    return problems
