"""Raw layer: every input file kept byte for byte with its sha256, before anything parses it."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from tracker.resources import TrackerConfig
from tracker.warehouse import SourceFile, connect, ensure_schemas, raw_files_table, store_raw_files

OWNERS = ["team:cddo-adoption-tracker"]


def open_files(paths: list[Path]) -> tuple[list[SourceFile], list[str]]:
    """Each regular file's bytes; a file the system will not open is named, and the others still count."""
    files, unopened = [], []
    for path in paths:
        if not path.is_file():
            continue
        try:
            files.append(SourceFile(path, path.read_bytes()))
        except OSError as err:
            unopened.append(f"{path.name}: {err.strerror or err}")
    return files, unopened


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
    def _raw(context, settings: TrackerConfig, warehouse: DuckDBResource) -> dg.MaterializeResult:
        files, unopened = open_files(sorted((settings.data / folder).glob(pattern)))
        newest = files[-1].name if files else "none"
        if not files:  # the staging asset then keeps the source's last good figures and says why
            context.log.warning(f"No input files matching '{pattern}' in {settings.data / folder}: the source "
                                "keeps its last good figures. Check TRACKER_DATA_DIR points at the data folder.")
        if also:
            more, unopened_too = open_files(sorted(settings.data.glob(also)))
            files, unopened = [*files, *more], [*unopened, *unopened_too]
        for problem in unopened:
            context.log.warning(f"Not stored: {problem}")
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
                "files that could not be opened": "; ".join(unopened) or "none",
            }
        )

    return _raw
