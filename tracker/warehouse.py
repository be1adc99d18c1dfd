"""Writing tables to the warehouse the same way everywhere.

Every staging and mart table is replaced whole inside one transaction, so a
failed run leaves the previous table in place; raw input files are appended
by content hash (their bytes in the raw store beside the warehouse), so nothing
ever received is lost.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from tracker.raw_store import RawStoreError, is_kept, keep, opened_store, read_kept

SCHEMAS = ("raw", "audit", "quarantine", "staging", "marts")

RAW_FILES_COLUMNS = """(
    source      VARCHAR NOT NULL,
    file_name   VARCHAR NOT NULL,
    sha256      VARCHAR NOT NULL,
    size_bytes  BIGINT NOT NULL,
    origin      VARCHAR NOT NULL,
    received_at TIMESTAMP NOT NULL,
    in_latest_listing BOOLEAN NOT NULL,
    PRIMARY KEY (source, file_name, sha256)
)"""


def raw_files_table(source: str) -> str:
    """Each source keeps its files in its own table, so every raw table has exactly one writer."""
    return f"raw.{source}_files"


def table_exists(con, table: str, views: bool = True) -> bool:
    """Whether ``schema.table`` is in the warehouse: a table, or a view unless not ``views`` (a staging table
    can be a view over a parse cache, ``VersionsView``)."""
    schema, name = table.split(".")
    return con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ? "
                       "AND (table_type = 'BASE TABLE' OR ?)", [schema, name, views]).fetchall()[0][0] > 0


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

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass(frozen=True)
class FileOnDisk:
    """An input file known by its path, size and sha256: its bytes are read again only when the raw store keeps
    them, one file at a time, so a run never holds a whole archive (a gigabyte of weekly snapshots) in memory."""

    path: Path
    sha256: str
    size: int
    received_at: dt.datetime | None = None
    stat: tuple[int, ...] | None = None  # the file as it was hashed (``_stat_key``); None: not to be remembered
    hashed_at_ns: int = 0

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def content(self) -> bytes:
        return self.path.read_bytes()


# Remembered hashes (cache.<source>_file_hashes): a file whose size, modification and change times and inode are
# as they were when it was hashed has the same bytes, as git's index assumes; a file modified within this long of
# being hashed is hashed again (its time may not have moved for a second write in the same tick).
RACY_NS = 2 * 10**9
Remembered = dict[str, tuple[tuple[int, ...], str, int]]  # path -> (stat key, sha256, hashed at)


def _stat_key(stat: os.stat_result) -> tuple[int, ...]:
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev)


def file_on_disk(path: Path, remembered: Remembered | None = None) -> FileOnDisk:
    """The file's sha256: as remembered if the file has not changed since, else hashed as it streams past (OSError
    if it cannot be read)."""
    before = os.stat(path)
    known = (remembered or {}).get(str(path))
    if known and known[0] == _stat_key(before) and max(before.st_mtime_ns, before.st_ctime_ns) < known[2] - RACY_NS:
        return FileOnDisk(path, known[1], before.st_size, stat=known[0], hashed_at_ns=known[2])
    hashed_at = time.time_ns()
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
            size += len(block)
    after = _stat_key(os.stat(path))
    return FileOnDisk(path, digest.hexdigest(), size, stat=after if after == _stat_key(before) else None,
                      hashed_at_ns=hashed_at)


def file_hashes_table(source: str) -> str:
    """A cache of this machine's files (paths, inodes), not data: in its own schema, left out of every comparison of
    two warehouses and never published; dropping it costs one run's hashing."""
    return f"cache.{source}_file_hashes"


def remembered_hashes(con, source: str) -> Remembered:
    """The hashes the source's raw asset remembered from its last run (empty if none)."""
    table = file_hashes_table(source)
    if not table_exists(con, table):
        return {}
    return {path: (tuple(stat), sha256, hashed_at)
            for path, stat, sha256, hashed_at in con.execute(f"SELECT path, stat, sha256, hashed_at_ns FROM {table}")
            .fetchall()}


def remember_hashes(con, source: str, files: Iterable[FileOnDisk]) -> None:
    """Keep the hashes of the files listed now, for the next run to trust while a file is unchanged."""
    table = file_hashes_table(source)
    frame = pd.DataFrame([(str(f.path), list(f.stat), f.sha256, f.hashed_at_ns) for f in files if f.stat],
                         columns=["path", "stat", "sha256", "hashed_at_ns"])
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {table.split('.')[0]}")
    con.register("_hashes", frame)
    con.execute(f"CREATE OR REPLACE TABLE {table} (path VARCHAR PRIMARY KEY, stat BIGINT[], sha256 VARCHAR, "
                "hashed_at_ns BIGINT)")
    if not frame.empty:
        con.execute(f"INSERT INTO {table} SELECT path, stat::BIGINT[], sha256, hashed_at_ns FROM _hashes")
    con.unregister("_hashes")


@dataclass(frozen=True)
class ListedFile:
    """A file the source lists now, as the raw store knows it, without its bytes (read only when needed)."""

    name: str
    sha256: str
    received_at: dt.datetime


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


def store_raw_files(con, source: str, files: Iterable[SourceFile | FileOnDisk], origin: str,
                    origins: Mapping[str, str] | None = None) -> int:
    """Keep each file's exact bytes once, and mark which files the source lists now.

    ``origins`` names where a file came from by its name, where that is not ``origin`` (a live fetch).

    Nothing is ever deleted: a file that disappears from the source keeps its
    bytes, only its ``in_latest_listing`` flag drops. Returns how many files
    were new. The bytes go to the raw store (tracker/raw_store.py) one file at
    a time, each whole, before the rows that list them are committed together:
    a run killed half-way stores what is left on its next run. A listed file
    whose kept bytes have gone is kept again from its source.
    """
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    unique = list({(f.name, f.sha256): f for f in files}.values())
    listed = pd.DataFrame({"file_name": [f.name for f in unique], "sha256": [f.sha256 for f in unique]},
                          dtype="string")
    table = raw_files_table(source)
    store = opened_store(con)
    with transaction(con):
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} {RAW_FILES_COLUMNS}")
        con.register("_listed_files", listed)
        # Only the flags that change are written, and only new bytes are written at all: a run costs what is new,
        # not the whole history.
        known = (f"EXISTS (SELECT 1 FROM _listed_files l WHERE l.file_name = {table}.file_name "
                 f"AND l.sha256 = {table}.sha256)")
        con.execute(f"UPDATE {table} SET in_latest_listing = false WHERE in_latest_listing AND NOT {known}")
        con.execute(f"UPDATE {table} SET in_latest_listing = true WHERE NOT in_latest_listing AND {known}")
        new_keys = set(con.execute(f"SELECT file_name, sha256 FROM _listed_files ANTI JOIN {table} "
                                   "USING (file_name, sha256)").fetchall())
        con.unregister("_listed_files")
    incoming = []
    for f in unique:
        is_new = (f.name, f.sha256) in new_keys
        if not is_new and is_kept(store, source, f.sha256, f.size):
            continue
        try:
            content = f.content
        except OSError:
            continue  # gone or unreadable since it was listed: the next run finds it again
        if isinstance(f, FileOnDisk) and hashlib.sha256(content).hexdigest() != f.sha256:
            continue  # changed since it was hashed: kept by the next run, under its new sha256
        keep(store, source, f.name, f.sha256, content)
        if is_new:
            incoming.append((f, len(content)))
    if incoming:
        frame = pd.DataFrame([{"source": source, "file_name": f.name, "sha256": f.sha256, "size_bytes": size,
                               "origin": (origins or {}).get(f.name, origin), "received_at": now,
                               "in_latest_listing": True} for f, size in incoming])
        with transaction(con):
            con.register("_incoming_files", frame)
            con.execute(f"INSERT INTO {table} SELECT * FROM _incoming_files")
            con.unregister("_incoming_files")
    return len(incoming)


def listed_files(con, source: str) -> list[ListedFile]:
    """The files the source lists now, in name order, without reading their bytes."""
    rows = con.execute(f"SELECT file_name, sha256, received_at FROM {raw_files_table(source)} "
                       "WHERE in_latest_listing ORDER BY file_name").fetchall()
    return [ListedFile(*row) for row in rows]


def load_files(con, source: str, wanted: Iterable[ListedFile],
               lost: list[tuple[ListedFile, str]] | None = None) -> list[SourceFile]:
    """The bytes of the files named, read back from the raw store in name order, each checked against its sha256.

    A file whose bytes the store has lost raises RawStoreError, unless ``lost`` is given: then the file and the
    problem, said for a person, are added to it, and the other files still come back."""
    store = opened_store(con)
    files = []
    for f in sorted(wanted, key=lambda f: f.name):
        try:
            files.append(SourceFile(Path(f.name), read_kept(store, source, f.name, f.sha256), f.received_at))
        except RawStoreError as err:
            if lost is None:
                raise
            lost.append((f, str(err)))
    return files


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


def insert_values(con, table: str, rows, chunk: int = 500) -> None:
    """Rows (tuples in the table's column order) into ``table`` as a few statements of many rows each, every value
    bound as a parameter: a statement a row (``executemany``) took 0.3 s for 515 rows."""
    rows = [list(r) for r in rows]
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        row = "(" + ", ".join("?" * len(part[0])) + ")"
        con.execute(f"INSERT INTO {table} VALUES " + ", ".join([row] * len(part)), [v for r in part for v in r])


def table_columns(con, table: str) -> set[str]:
    """The columns of ``schema.table`` (none if there is no such table)."""
    schema, name = table.split(".")
    return {c for (c,) in con.execute("SELECT column_name FROM duckdb_columns() WHERE schema_name = ? AND "
                                      "table_name = ?", [schema, name]).fetchall()}


def insert_rows(con, table: str, frame: pd.DataFrame) -> None:
    """Append a frame's rows to an existing table, matching its columns by name."""
    _append(con, table, frame[_ordered_columns(con, table)])


def _ordered_columns(con, table: str) -> list[str]:
    """The table's columns in its own order: what ``_append`` inserts by position."""
    return [c for (c, *_) in con.execute(f"DESCRIBE {table}").fetchall()]


def _append(con, table: str, rows) -> None:
    """Insert rows (a frame or an Arrow table) whose columns are the table's, in its order."""
    con.register("_rows", rows)
    con.execute(f"INSERT INTO {table} SELECT * FROM _rows")
    con.unregister("_rows")


def insert_records(con, table: str, records: list[dict]) -> None:
    """Append records (dicts holding at least the table's columns) to ``table``, matching its columns by name.

    As an Arrow table, which DuckDB reads without Python's lock; a frame of Python objects it reads holding it,
    while a run's other steps wait (a national intake's submission and problem rows). A column Arrow cannot type
    (values of more than one kind) goes in as a frame of objects, as before."""
    import pyarrow as pa

    columns = _ordered_columns(con, table)
    try:
        rows = pa.Table.from_pylist(records).select(columns)
    except (pa.ArrowException, KeyError, UnicodeError):
        rows = pd.DataFrame(records, dtype=object)[columns]
    _append(con, table, rows)


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
            preview[column] = preview[column].map(_previewed)
    return {
        "dagster/row_count": dg.MetadataValue.int(int(row_count)),
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name=c[0], type=str(c[1])) for c in columns]
        ),
        "table": dg.MetadataValue.text(table),
        "preview": dg.MetadataValue.md(preview.to_markdown(index=False) if len(preview) else "_empty_"),
    }


def _previewed(value: Any) -> Any:
    """A cell as a preview shows it: text cut at 60 characters, and binary as its size. DuckDB gives a BLOB as a
    ``bytearray``, which the preview once printed whole, escaped: ten rows of ``raw.return_files`` made a 1.5 MB
    event, written to Dagster's storage each run (0.5 s to make at national size)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return f"({len(value):,} byte{'' if len(value) == 1 else 's'})"
    if isinstance(value, str) and len(value) > 60:
        return value[:60] + "…"
    return value


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
