"""Writing tables to the warehouse the same way everywhere.

Every staging and mart table is replaced whole inside one transaction, so a
failed run leaves the previous table in place; raw input files are appended
by content hash, so nothing ever received is lost.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

SCHEMAS = ("raw", "audit", "quarantine", "staging", "marts")

RAW_FILES_COLUMNS = """(
    source      VARCHAR NOT NULL,
    file_name   VARCHAR NOT NULL,
    sha256      VARCHAR NOT NULL,
    size_bytes  BIGINT NOT NULL,
    content     BLOB NOT NULL,
    origin      VARCHAR NOT NULL,
    received_at TIMESTAMP NOT NULL,
    in_latest_listing BOOLEAN NOT NULL,
    PRIMARY KEY (source, file_name, sha256)
)"""


def raw_files_table(source: str) -> str:
    """Each source keeps its files in its own table, so every raw table has exactly one writer."""
    return f"raw.{source}_files"


def ensure_schemas(con) -> None:
    for schema in SCHEMAS:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")


@dataclass(frozen=True)
class SourceFile:
    """One input file, read once, byte for byte."""

    path: Path
    content: bytes
    received_at: dt.datetime | None = None  # when the raw store first kept these bytes (UTC)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def read_source_files(folder: Path, pattern: str) -> list[SourceFile]:
    """Read every file matching ``pattern`` in name order; fail clearly if there are none."""
    paths = sorted(folder.glob(pattern))
    if not paths:
        import dagster as dg  # here, not at the top: the returns commands read files without loading Dagster

        raise dg.Failure(
            description=f"No input files matching '{pattern}' in {folder}. "
            "Check TRACKER_DATA_DIR points at the shipped data folder."
        )
    return [SourceFile(p, p.read_bytes()) for p in paths]


def store_raw_files(con, source: str, files: Iterable[SourceFile], origin: str,
                    origins: Mapping[str, str] | None = None) -> int:
    """Keep each file's exact bytes once, and mark which files the source lists now.

    ``origins`` names where a file came from by its name, where that is not ``origin`` (a live fetch).

    Nothing is ever deleted: a file that disappears from the source keeps its
    bytes here, only its ``in_latest_listing`` flag drops. Returns how many
    files were new.
    """
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    frame = pd.DataFrame(
        [
            {
                "source": source,
                "file_name": f.name,
                "sha256": f.sha256,
                "size_bytes": len(f.content),
                "content": f.content,
                "origin": (origins or {}).get(f.name, origin),
                "received_at": now,
                "in_latest_listing": True,
            }
            for f in files
        ]
    )
    table = raw_files_table(source)
    with transaction(con):
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} {RAW_FILES_COLUMNS}")
        before = _count(con, table)
        con.execute(f"UPDATE {table} SET in_latest_listing = false")
        if frame.empty:
            return 0
        con.register("_incoming_files", frame)
        con.execute(
            f"INSERT INTO {table} SELECT * FROM _incoming_files "
            "ON CONFLICT (source, file_name, sha256) DO UPDATE SET in_latest_listing = true"
        )
        con.unregister("_incoming_files")
        return _count(con, table) - before


def _count(con, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def load_listed_files(con, source: str) -> list[SourceFile]:
    """The files the source lists now, read back from the raw store in name order."""
    rows = con.execute(
        f"SELECT file_name, content, received_at FROM {raw_files_table(source)} WHERE in_latest_listing "
        "ORDER BY file_name"
    ).fetchall()
    return [SourceFile(Path(name), bytes(content), received_at) for name, content, received_at in rows]


@contextmanager
def transaction(con) -> Iterator[None]:
    """All the block's writes land together, or none does."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def insert_rows(con, table: str, frame: pd.DataFrame) -> None:
    """Append a frame's rows to an existing table, matching its columns by name."""
    columns = [c for (c, *_) in con.execute(f"DESCRIBE {table}").fetchall()]
    con.register("_rows", frame[columns])
    con.execute(f"INSERT INTO {table} SELECT * FROM _rows")
    con.unregister("_rows")


def replace_tables(con, tables: Mapping[str, pd.DataFrame]) -> None:
    """Replace several tables from frames in one transaction."""
    with transaction(con):
        for name, frame in tables.items():
            view = "_frame_" + name.replace(".", "_")
            con.register(view, frame)
            con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {view}")
            con.unregister(view)


def replace_tables_sql(con, statements: Mapping[str, str], params: Mapping | None = None) -> None:
    """Replace tables from SQL queries in one transaction; ``params`` bind to queries that use them."""
    with transaction(con):
        for name, query in statements.items():
            bound = {k: v for k, v in (params or {}).items() if f"${k}" in query} or None
            con.execute(f"CREATE OR REPLACE TABLE {name} AS {query}", bound)


def table_metadata(con, table: str, preview_rows: int = 10) -> dict[str, Any]:
    """Row count, column schema and a preview: what Dagster shows for every materialisation."""
    import dagster as dg  # only a Dagster run asks for metadata

    row_count = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    columns = con.execute(f"DESCRIBE {table}").fetchall()
    preview = con.execute(f"SELECT * FROM {table} LIMIT {preview_rows}").df()
    for column in preview.columns:
        if preview[column].dtype == object:
            preview[column] = preview[column].map(
                lambda v: (str(v)[:60] + "…") if isinstance(v, str | bytes) and len(str(v)) > 60 else v
            )
    return {
        "dagster/row_count": dg.MetadataValue.int(int(row_count)),
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name=c[0], type=str(c[1])) for c in columns]
        ),
        "table": dg.MetadataValue.text(table),
        "preview": dg.MetadataValue.md(preview.to_markdown(index=False) if len(preview) else "_empty_"),
    }


def tables_metadata(con, tables: Iterable[str]) -> dict[str, Any]:
    """Metadata for an asset that writes several tables: the first one's schema, every count."""
    import dagster as dg

    tables = list(tables)
    meta = table_metadata(con, tables[0])
    for table in tables[1:]:
        count = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        meta[f"rows in {table}"] = dg.MetadataValue.int(int(count))
    return meta


def organisation_codes(con) -> set[str]:
    """Every GOV.UK organisation code the tracker knows: what a return's organisation_code must be."""
    return {c for (c,) in con.execute("SELECT organisation_code FROM staging.organisations "
                                      "WHERE organisation_code IS NOT NULL").fetchall()}


@contextmanager
def connect(warehouse) -> Iterator:
    """A warehouse connection that is closed however the block ends.

    ``DuckDBResource.get_connection`` (dagster-duckdb 0.29) leaves the connection
    open when the block raises, which keeps the file locked after a failed asset.
    """
    manager = warehouse.get_connection()
    con = manager.__enter__()
    try:
        yield con
    finally:
        manager.__exit__(None, None, None)  # resumes the resource's own close()
