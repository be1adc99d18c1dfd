"""Keeping every fetched feed document byte for byte, and a line for every fetch, failed ones included.

Under TRACKER_HOME/feeds/<source>/ (settings.feeds_dir):
    <YYYY-MM-DDTHHMMSSZ>_<sha256[:8]>.<ext>   each document as fetched, written atomically (a temporary
                                             file, fsync, os.replace); one identical to the last one kept
                                             adds no file (the same document again in the
                                             same second, after another one: "-2" before the ext)
    fetches.csv                               one row per fetch: fetched_at, url, sha256, size_bytes,
                                             outcome (stored, unchanged, failed), stored_as, problem

No Dagster here.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from tracker.durable import write_atomically
from tracker.settings import feeds_dir

if TYPE_CHECKING:  # the store is read (tracker/versions.py) where nothing is fetched
    from tracker.fetching import Fetched

LOG_NAME = "fetches.csv"
LOG_COLUMNS = ("fetched_at", "url", "sha256", "size_bytes", "outcome", "stored_as", "problem")
STORED, UNCHANGED, FAILED = "stored", "unchanged", "failed"
STAMP = "%Y-%m-%dT%H%M%SZ"
_SOURCE = re.compile(r"^[a-z][a-z0-9_]*$")
_DOCUMENT = re.compile(r"^(?P<stamp>\d{4}-\d{2}-\d{2}T\d{6}Z)_(?P<sha>[0-9a-f]{8})(?:-(?P<copy>[2-9]|[1-9]\d+))?"
                       r"\.(?P<ext>[a-z0-9]+)$")
_EXTENSIONS = {"json": "json", "csv": "csv", "yaml": "yml", "yml": "yml"}
_MEDIA_TYPES = {"application/json": "json", "text/csv": "csv", "application/yaml": "yml", "text/yaml": "yml",
                "application/x-yaml": "yml"}


@dataclass(frozen=True)
class StoredDocument:
    source: str
    path: Path
    fetched_at: dt.datetime  # UTC, naive, to the second (from the file's name)
    sha256: str
    size_bytes: int


def source_dir(home: Path, source: str) -> Path:
    if not _SOURCE.match(source):
        raise ValueError(f"{source!r} is not a source key (lower-case letters, digits and underscores).")
    return feeds_dir(home) / source


def extension(fetched: Fetched, fmt: str | None = None) -> str:
    """The file extension: from the format when given, else the address's, else the declared content type."""
    if fmt is not None:
        return _EXTENSIONS[fmt]
    suffix = Path(urlsplit(fetched.url).path).suffix.lstrip(".").lower()
    if suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix]
    return _MEDIA_TYPES.get(fetched.content_type.split(";")[0].strip().lower(), "bin")


def store(home: Path, source: str, fetched: Fetched, *, fmt: str | None = None) -> StoredDocument | None:
    """Keep the document (None when it is identical to the last one kept) and log the fetch either way."""
    folder = source_dir(home, source)
    folder.mkdir(parents=True, exist_ok=True)
    kept = stored_documents(home, source)
    if kept and kept[-1].sha256 == fetched.sha256:
        _log(folder, fetched.fetched_at, fetched.url, fetched.sha256, len(fetched.content), UNCHANGED,
             kept[-1].path.name, "")
        return None
    stem = f"{fetched.fetched_at.strftime(STAMP)}_{fetched.sha256[:8]}"
    ext = extension(fetched, fmt)
    path, copy = folder / f"{stem}.{ext}", 1
    while path.exists():  # the same document again within the second, after another one: a file of its own
        copy += 1
        path = folder / f"{stem}-{copy}.{ext}"
    write_atomically(path, fetched.content)
    _log(folder, fetched.fetched_at, fetched.url, fetched.sha256, len(fetched.content), STORED, path.name, "")
    return StoredDocument(source=source, path=path, fetched_at=fetched.fetched_at.replace(microsecond=0),
                          sha256=fetched.sha256, size_bytes=len(fetched.content))


def record_failure(home: Path, source: str, url: str, problem: str, *, at: dt.datetime | None = None) -> None:
    """Log a fetch that brought nothing to keep (FetchError's problem, or any other reason)."""
    folder = source_dir(home, source)
    folder.mkdir(parents=True, exist_ok=True)
    if at is None:
        at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    elif at.tzinfo is not None:
        at = at.astimezone(dt.UTC).replace(tzinfo=None)
    _log(folder, at, url, "", "", FAILED, "", problem)


def fetched_at_from_name(file_name: str) -> dt.datetime | None:
    """When a stored document was fetched (UTC, naive), from its name; None for any other name."""
    match = _DOCUMENT.match(file_name)
    return dt.datetime.strptime(match["stamp"], STAMP) if match else None


def stored_documents(home: Path, source: str) -> list[StoredDocument]:
    """What is kept for a source, oldest first: by the time in each name, then (within one second) by the order
    fetches.csv stored them in. Each one's sha256 is taken from its bytes on disk."""
    folder = source_dir(home, source)
    if not folder.is_dir():
        return []
    kept = []
    for path in folder.iterdir():
        match = _DOCUMENT.match(path.name)
        if not match or not path.is_file() or path.is_symlink():
            continue
        content = path.read_bytes()
        kept.append(StoredDocument(source=source, path=path,
                                   fetched_at=dt.datetime.strptime(match["stamp"], STAMP),
                                   sha256=hashlib.sha256(content).hexdigest(), size_bytes=len(content)))
    order = {row["stored_as"]: index for index, row in enumerate(fetch_log(home, source))
             if row.get("outcome") == STORED}
    return sorted(kept, key=lambda doc: (doc.fetched_at, order.get(doc.path.name, len(order)), doc.path.name))


def fetch_log(home: Path, source: str) -> list[dict[str, str]]:
    """The rows of a source's fetches.csv, oldest first."""
    log = source_dir(home, source) / LOG_NAME
    if not log.is_file():
        return []
    with log.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _log(folder: Path, at: dt.datetime, url: str, sha256: str, size: int | str, outcome: str, stored_as: str,
         problem: str) -> None:
    log = folder / LOG_NAME
    ending = _last_byte(log)
    with log.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        if ending is None:  # no file, or one a process killed before its header was written
            writer.writerow(LOG_COLUMNS)
        elif ending != b"\n":  # a line a killed process left half written: end it, so this row stands alone
            handle.write("\n")
        writer.writerow([at.isoformat(timespec="seconds"), url, sha256, size, outcome, stored_as,
                         " ".join(problem.split())])
        handle.flush()
        os.fsync(handle.fileno())




def _last_byte(path: Path) -> bytes | None:
    """The file's last byte; None when it does not exist or is empty."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            if handle.tell() == 0:
                return None
            handle.seek(-1, os.SEEK_END)
            return handle.read(1)
    except FileNotFoundError:
        return None
