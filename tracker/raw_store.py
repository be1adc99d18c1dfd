"""The bytes of every platform and reference file the tracker has read, one file per content, beside the warehouse.

``raw.<source>_files`` lists each file (name, sha256, size, origin, when received, whether listed now); its bytes
are kept here as ``raw/<source>/<sha256>``, written whole (tracker/durable.py) before the row that names them is
committed, and never changed or deleted. Kept in the warehouse instead, adding one weekly snapshot made DuckDB's
checkpoint rewrite the whole table (at national size 795 MB, 3 to 5 s of every run): here a run writes only what
is new, whatever the history. Returns keep their bytes in ``raw.return_files`` and their own archive.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from tracker.durable import write_atomically
from tracker.settings import raw_store_dir


class RawStoreError(RuntimeError):
    """Bytes the raw store should hold and does not, said so a person can act on it."""


def store_of(con) -> Path:
    """The raw store of the warehouse this connection has open: ``raw/`` in the same folder as its file."""
    rows = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
    if not rows or not rows[0][0]:
        raise RawStoreError("The warehouse is not a file, so it has no raw store beside it: open the warehouse "
                            "file (TRACKER_HOME/warehouse.duckdb) rather than an in-memory database.")
    return raw_store_dir(Path(rows[0][0]).resolve().parent)


def opened_store(con) -> Path:
    """The raw store, once any bytes an older warehouse kept in its raw tables are in it (every table at once, so
    the tables keep one shape). A view on those tables (dbt's ``raw.source_files``) would stop their column being
    dropped: it is dropped first, and the run's ``dbt build`` makes it again."""
    store = store_of(con)
    legacy = [table for (table,) in con.execute(
        "SELECT table_name FROM duckdb_tables() t WHERE database_name = current_database() AND schema_name = 'raw' "
        "AND ends_with(table_name, '_files') AND table_name <> ? AND EXISTS (SELECT 1 FROM duckdb_columns() c "
        "WHERE c.database_name = t.database_name AND c.schema_name = 'raw' AND c.table_name = t.table_name "
        "AND c.column_name = 'content')", [KEPT_IN_TABLE]).fetchall()]
    if legacy:
        views = con.execute(
            "SELECT DISTINCT schema_name, view_name FROM duckdb_views() WHERE database_name = current_database() "
            "AND NOT internal AND list_has_any(?, regexp_extract_all(sql, '[A-Za-z_]+_files'))", [legacy]).fetchall()
        for schema, view in views:
            con.execute(f'DROP VIEW IF EXISTS "{schema}"."{view}"')
    for table in legacy:
        move_out_of_table(con, f"raw.{table}", table.removesuffix("_files"), store)
    return store


KEPT_IN_TABLE = "return_files"  # returns keep their bytes in raw.return_files (and their own archive)


def kept_path(store: Path, source: str, sha256: str) -> Path:
    return store / source / sha256


def is_kept(store: Path, source: str, sha256: str, size: int) -> bool:
    """Whether bytes of that size are kept under the sha256: a file is only ever renamed into place whole, and a
    read checks the bytes (setting damaged ones aside, for the next run to keep again)."""
    try:
        return kept_path(store, source, sha256).stat().st_size == size
    except OSError:
        return False


def keep(store: Path, source: str, file_name: str, sha256: str, content: bytes) -> None:
    """Keep the bytes under their sha256, unless exactly these are kept already."""
    path = kept_path(store, source, sha256)
    if is_kept(store, source, sha256, len(content)) and path.read_bytes() == content:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, content)
    except OSError as err:
        raise RawStoreError(
            f"The bytes of {source} file '{file_name}' could not be kept in {path.parent} "
            f"({err.strerror or err}). Check there is free disk space and that the tracker may write that "
            "folder, then run again: nothing was recorded for this file, and the files already kept are safe."
        ) from None


def read_kept(store: Path, source: str, file_name: str, sha256: str) -> bytes:
    """The bytes as received, checked against their sha256 (RawStoreError if they are missing or not those:
    damaged bytes are set aside, so that the next run keeps the file again from where it came from)."""
    path = kept_path(store, source, sha256)
    try:
        content = path.read_bytes()
    except OSError as err:
        raise RawStoreError(_lost(source, file_name, sha256, f"{path} cannot be read ({err.strerror or err})")) \
            from None
    if hashlib.sha256(content).hexdigest() != sha256:
        try:
            path.rename(path.with_name(f".{sha256}.damaged-{time.time_ns()}"))
        except OSError:
            pass  # left where it is: still reported, and a read never trusts it
        raise RawStoreError(_lost(source, file_name, sha256, f"{path} no longer held the bytes received"))
    return content


def _lost(source: str, file_name: str, sha256: str, what: str) -> str:
    return (f"The raw store has lost the bytes of {source} file '{file_name}' (sha256 {sha256[:12]}): {what}. "
            "Put the file back where it came from (the data folder, or TRACKER_HOME/feeds/ for a fetched "
            "document): the next run keeps it again. Otherwise copy raw/" + source + "/" + sha256 + " back from "
            "a backup of the tracker home (`tracker restore FILE --into DIR` unpacks one). The source's other "
            "files still count.")


def missing(store: Path, source: str, kept: list[tuple[str, str, int]]) -> list[str]:
    """The files (name, sha256, size) whose bytes are not in the store, by name."""
    return [name for name, sha256, size in kept if not is_kept(store, source, sha256, size)]


def move_out_of_table(con, table: str, source: str, store: Path) -> int:
    """A raw table written before the store existed keeps its bytes in a ``content`` column: write each to the
    store, then drop the column (in that order, so a run stopped half-way starts again and loses nothing).
    Returns how many files were moved; 0 for a table without the column."""
    columns = {c for (c, *_) in con.execute(f"DESCRIBE {table}").fetchall()}
    if "content" not in columns:
        return 0
    result = con.execute(f"SELECT file_name, sha256, content FROM {table}")
    moved = 0
    while rows := result.fetchmany(16):  # a few files in memory at a time: the table may hold a gigabyte
        for file_name, sha256, content in rows:
            keep(store, source, file_name, sha256, bytes(content))
            moved += 1
    con.execute(f"ALTER TABLE {table} DROP COLUMN content")
    return moved
