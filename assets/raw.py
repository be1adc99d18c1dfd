"""Raw layer: every input file kept byte for byte with its sha256, before anything parses it."""

from __future__ import annotations

import dagster as dg
from dagster_duckdb import DuckDBResource

from tracker.resources import TrackerConfig
from tracker.warehouse import SourceFile, connect, ensure_schemas, raw_files_table, read_source_files, store_raw_files

OWNERS = ["team:cddo-adoption-tracker"]


def raw_files_asset(
    source: str, folder: str, pattern: str, description: str, group: str | None = None, also: str | None = None
) -> dg.AssetsDefinition:
    """One raw asset per source: copies the archive's files into ``raw.<source>_files``.

    ``also`` is a pattern under the data folder for more files of the source, kept when present
    (the list of when each version was published, a reference list).
    """

    @dg.asset(
        key=["raw", f"{source}_files"],
        group_name=group or source,
        kinds={"duckdb", "file"},
        owners=OWNERS,
        description=f"{description} Stored byte for byte in raw.{source}_files with sha256 "
        "and arrival time; nothing here is ever deleted.",
    )
    def _raw(settings: TrackerConfig, warehouse: DuckDBResource) -> dg.MaterializeResult:
        files = read_source_files(settings.data / folder, pattern)
        newest = files[-1].name
        if also:
            files = [*files, *(SourceFile(p, p.read_bytes()) for p in sorted(settings.data.glob(also)))]
        with connect(warehouse) as con:
            ensure_schemas(con)
            new = store_raw_files(con, source, files, origin=f"data/{folder}/{pattern}")
            kept = con.execute(
                f"SELECT count(*), sum(size_bytes) FROM {raw_files_table(source)}"
            ).fetchone()
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": dg.MetadataValue.int(len(files)),
                "files listed now": len(files),
                "new files stored": new,
                "files kept in all": int(kept[0]),
                "bytes kept": int(kept[1] or 0),
                "newest file": newest,
            }
        )

    return _raw
