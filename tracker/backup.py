"""Backups of a tracker home that restore: one file, taken while no run writes, checked before anything is restored.

What a backup holds is what cannot be made again from the shipped data: the
warehouse (with the returns history) and the raw store beside it (the bytes of
every platform and reference file ever read),
the published snapshot, every return as sent (inbox and archive), the live feed
documents as fetched, the receipts, reminders and alerts ledgers, the access
file, and Dagster's run history when it is kept in SQLite files under the home
(copied with SQLite's online backup, so a daemon may keep running). Left out:
the run lock, dbt's compiled files and Dagster's instance file (each rebuilt by
the next command), and the temporary files of a write in progress. Dagster's
history in PostgreSQL is backed up with ``pg_dump`` (README, "Production").

The backup is taken holding the run lock (tracker/run_lock.py), so no run is
half-way through the warehouse; a return arriving meanwhile is either wholly in
it or not (the inbox's files are renamed into place). A manifest of every
member's size and SHA-256 goes in first and is checked in full before a restore
writes a byte; a restore goes into a new, empty home, via a temporary folder
renamed into place, so a failed restore leaves nothing half-made.

Backups hold personal data (returns, submitters' email addresses): keep them
where the warehouse itself may be kept.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tracker import settings
from tracker.run_lock import run_lock

MANIFEST = "backup-manifest.json"
FORMAT = 1
# Under the home: rebuilt by the next command, or a write in progress.
LEFT_OUT_NAMES = {"run.lock", "dagster.yaml", ".lock"}
LEFT_OUT_FOLDERS = {"dbt"}
# A hidden file with one of these in its name is a write in progress, or one a killed write left (and its .wal).
LEFT_OUT_MARKS = (".tmp", ".partial")


class BackupError(RuntimeError):
    """A backup that cannot be taken or restored, said in a sentence a person can act on."""


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    files: int
    bytes: int


def _members(home: Path) -> list[Path]:
    kept = []
    for path in sorted(home.rglob("*")):
        relative = path.relative_to(home)
        if not path.is_file() or path.is_symlink() or relative.parts[0] in LEFT_OUT_FOLDERS:
            continue
        in_progress = path.name.startswith(".") and any(mark in path.name for mark in LEFT_OUT_MARKS)
        if path.name in LEFT_OUT_NAMES or in_progress:
            continue
        kept.append(relative)
    return kept


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(16) == b"SQLite format 3\x00"


def _copy_consistent(source: Path, target: Path) -> None:
    """SQLite files through SQLite's online backup (a daemon may be writing them); any other file as bytes."""
    if source.suffix == ".db" and _is_sqlite(source):
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as live, sqlite3.connect(target) as copy:
            live.backup(copy)
        return
    shutil.copy2(source, target)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def backup(destination: Path, home: Path | None = None) -> BackupSummary:
    """Write ``tracker-backup-<UTC time>.tar.gz`` into ``destination``; waits for a running run to finish."""
    home = settings.tracker_home() if home is None else Path(home)
    if not settings.warehouse_path(home).exists():
        raise BackupError(f"There is no warehouse in {home} to back up. Check TRACKER_HOME.")
    destination = Path(destination).resolve()
    if destination == home or home in destination.parents:
        raise BackupError(f"Write the backup outside the home it backs up ({home}), so that a restore does not "
                          "include earlier backups and a lost disk does not take both.")
    destination.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    target = destination / f"tracker-backup-{stamp}.tar.gz"
    with run_lock(home), tempfile.TemporaryDirectory(prefix="tracker-backup-") as staging:
        staged = Path(staging)
        files = {}
        for relative in _members(home):
            copy = staged / relative
            copy.parent.mkdir(parents=True, exist_ok=True)
            try:
                _copy_consistent(home / relative, copy)
            except FileNotFoundError:  # a return archived or a receipt sent while we looked: not in this backup
                continue
            files[relative.as_posix()] = {"bytes": copy.stat().st_size, "sha256": _sha256(copy)}
        manifest = {"format": FORMAT, "taken_at": stamp, "home": str(home), "files": files}
        partial = target.with_name(target.name + ".partial")
        with tarfile.open(partial, "w:gz") as archive:
            body = json.dumps(manifest, indent=1, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime = len(body), int(dt.datetime.now(dt.UTC).timestamp())
            archive.addfile(info, io.BytesIO(body))
            for name in files:
                archive.add(staged / name, arcname=name, recursive=False)
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, target)
    return BackupSummary(target, len(files), sum(entry["bytes"] for entry in files.values()))


def restore(backup_file: Path, home: Path) -> BackupSummary:
    """Restore into ``home``, which must not exist or be empty; every member is checked before it is kept."""
    backup_file, home = Path(backup_file), Path(home).resolve()
    if not backup_file.is_file():
        raise BackupError(f"{backup_file} is not a file. Give the path of a tracker-backup-*.tar.gz file.")
    if home.exists() and any(home.iterdir()):
        raise BackupError(f"{home} is not empty. Restore into a new folder (TRACKER_HOME), then point the services "
                          "at it; nothing was changed.")
    home.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{home.name}-restoring-", dir=home.parent))
    try:
        try:
            with tarfile.open(backup_file, "r:gz") as archive:
                manifest_member = archive.getmember(MANIFEST)
                manifest = json.load(archive.extractfile(manifest_member))
                expected = manifest["files"]
                names = {member.name for member in archive.getmembers()} - {MANIFEST}
                if names != set(expected):
                    raise BackupError(f"{backup_file.name} does not hold the files its manifest lists; it is not a "
                                      "complete backup. Use another backup; nothing was restored.")
                archive.extractall(work, filter="data")  # no absolute paths, links out or devices
        except (tarfile.TarError, KeyError, ValueError, OSError, EOFError) as err:
            raise BackupError(f"{backup_file.name} cannot be read as a tracker backup ({type(err).__name__}); it may "
                              "be cut short or damaged. Use another backup; nothing was restored.") from None
        for name, entry in expected.items():
            path = work / name
            if not path.is_file() or path.stat().st_size != entry["bytes"] or _sha256(path) != entry["sha256"]:
                raise BackupError(f"{name} in {backup_file.name} is not the file that was backed up (its checksum "
                                  "differs); the backup is damaged. Use another backup; nothing was restored.")
        (work / MANIFEST).unlink(missing_ok=True)
        if home.exists():
            home.rmdir()
        os.replace(work, home)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return BackupSummary(home, len(expected), sum(entry["bytes"] for entry in expected.values()))
