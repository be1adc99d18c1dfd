"""Raw layer: every input file kept byte for byte with its sha256, before anything parses it (its bytes in the raw
store beside the warehouse, tracker/raw_store.py)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from tracker.feed_store import stored_documents
from tracker.raw_store import missing, store_of
from tracker.resources import TrackerConfig
from tracker.warehouse import (
    FileOnDisk,
    Remembered,
    connect,
    ensure_schemas,
    file_on_disk,
    raw_files_table,
    remember_hashes,
    remembered_hashes,
    store_raw_files,
)

OWNERS = ["team:cddo-adoption-tracker"]


def open_files(paths: list[Path], remembered: Remembered | None = None) -> tuple[list[FileOnDisk], list[str]]:
    """Each regular file, hashed unless unchanged since it was (its bytes read again only if new); a file the system
    will not open is named, and the others still count."""
    files, unopened = [], []
    for path in paths:
        if not path.is_file():
            continue
        try:
            files.append(file_on_disk(path, remembered))
        except OSError as err:
            unopened.append(f"{path.name}: {err.strerror or err}")
    return files, unopened


def fetched_files(home: Path, feed: str, archived: list[FileOnDisk],
                  remembered: Remembered | None = None) -> tuple[list[FileOnDisk], list[str]]:
    """The documents the tracker fetched of a feed (TRACKER_HOME/feeds/<feed>/, not fetches.csv), oldest first,
    less any whose bytes an archived file already has: the same version counts once, dated by the archive."""
    known = {f.sha256 for f in archived}
    documents = [doc.path for doc in stored_documents(home, feed) if doc.sha256 not in known]
    files, unopened = open_files(documents, remembered)
    return [f for f in files if f.sha256 not in known], unopened


def feed_key(feed: str) -> dg.AssetKey:
    """The asset that fetches a live feed (assets/feeds.py)."""
    return dg.AssetKey(["feeds", f"{feed}_fetched"])


def raw_files_asset(
    source: str, folder: str | None, pattern: str, description: str, group: str | None = None,
    also: str | None = None, feed: str | None = None,
) -> dg.AssetsDefinition:
    """One raw asset per source: copies the archive's files into ``raw.<source>_files``.

    ``also`` is a pattern under the data folder for more files of the source, kept when present
    (the list of when each version was published, a reference list). ``feed`` (a source key of
    data/feeds.yaml) adds the documents the tracker fetched of that feed, read like any archived version
    of it (tracker/versions.py dates each from the time in its name); ``folder`` None: only those.
    """
    fetched_note = (f" With every document the tracker fetched of the live feed (TRACKER_HOME/feeds/{feed}/), "
                    "dated when it was fetched." if feed else "")

    @dg.asset(
        key=["raw", f"{source}_files"],
        group_name=group or source,
        deps=[feed_key(feed)] if feed else None,
        kinds={"duckdb", "file"},
        owners=OWNERS,
        description=f"{description}{fetched_note} Listed in raw.{source}_files with sha256 and arrival time, "
        f"the bytes kept exactly as received in the raw store (TRACKER_HOME/raw/{source}/); nothing here is "
        "ever deleted.",
    )
    def _raw(context, settings: TrackerConfig, warehouse: DuckDBResource) -> dg.MaterializeResult:
        with connect(warehouse) as con:
            remembered = remembered_hashes(con, source)
        files, unopened = (open_files(sorted((settings.data / folder).glob(pattern)), remembered) if folder
                           else ([], []))
        origins: dict[str, str] = {}
        if feed:
            fetched, unopened_fetched = fetched_files(settings.home, feed, files, remembered)
            files, unopened = [*files, *fetched], [*unopened, *unopened_fetched]
            origins = {f.name: f"TRACKER_HOME/feeds/{feed}/" for f in fetched}
        newest = files[-1].name if files else "none"
        if not files and folder:  # the staging asset then keeps the source's last good figures and says why
            context.log.warning(f"No input files matching '{pattern}' in {settings.data / folder}: the source "
                                "keeps its last good figures. Check TRACKER_DATA_DIR points at the data folder.")
        if also:
            more, unopened_too = open_files(sorted(settings.data.glob(also)), remembered)
            files, unopened = [*files, *more], [*unopened, *unopened_too]
        for problem in unopened:
            context.log.warning(f"Not stored: {problem}")
        with connect(warehouse) as con:
            ensure_schemas(con)
            origin = f"data/{folder}/{pattern}" if folder else f"TRACKER_HOME/feeds/{feed}/"
            new = store_raw_files(con, source, files, origin=origin, origins=origins)
            remember_hashes(con, source, files)
            kept = con.execute(f"SELECT file_name, sha256, size_bytes FROM {raw_files_table(source)}").fetchall()
            gone = missing(store_of(con), source, kept)
        if gone:  # a listed file's bytes were kept again above if it could be read: these need a person
            context.log.warning(f"The raw store has lost the bytes of {len(gone)} {source} file(s), first "
                                f"{', '.join(gone[:5])}: copy raw/{source}/ back from a backup of the tracker home "
                                "(`tracker restore FILE --into DIR` unpacks one), or put the files back in the "
                                "source; the source's other files still count.")
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": dg.MetadataValue.int(len(files)),
                "files listed now": len(files),
                **({"fetched documents listed": len(origins)} if feed else {}),
                "new files stored": new,
                "files kept in all": len(kept),
                "bytes kept": sum(size for _name, _sha256, size in kept),
                "files whose bytes are lost": "; ".join(gone[:20]) + (" and more" if len(gone) > 20 else "")
                or "none",
                "newest file": newest,
                "files that could not be opened": "; ".join(unopened) or "none",
            }
        )

    return _raw
