"""Settings from the environment, and every path under TRACKER_HOME, each written once here.

TRACKER_HOME      where everything generated lives (warehouse, snapshot, Dagster home);
                  default: <project>/.tracker (git-ignored)
TRACKER_DATA_DIR  the shipped real data; default: <project>/data
TRACKER_AS_OF     the reporting date (YYYY-MM-DD); default: today
TRACKER_AS_OF_NOTE  why that date, shown beside it on the dashboard (set by `tracker demo`)

Under TRACKER_HOME (each path function takes a ``home``; without one, TRACKER_HOME):
    warehouse.duckdb            the warehouse                    warehouse_path()
    published/                  what readers may open            published_dir()
    published/tracker.duckdb    the read-only snapshot           snapshot_path()
    published/manifest.json     its version, written after it    manifest_path()
    dagster/                    Dagster's home (runs, sensors)   dagster_home()
    returns/inbox/              returns waiting to be processed  returns_inbox_dir()
    returns/archive/            returns once processed           returns_archive_dir()

No Dagster here: the command line and the dashboard read it too.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
SNAPSHOT_NAME = "tracker.duckdb"
MANIFEST_NAME = "manifest.json"


def tracker_home() -> Path:
    return Path(os.environ.get("TRACKER_HOME") or PROJECT_DIR / ".tracker").resolve()


def data_dir() -> Path:
    return Path(os.environ.get("TRACKER_DATA_DIR") or PROJECT_DIR / "data").resolve()


def as_of() -> str:
    return os.environ.get("TRACKER_AS_OF", "")


def as_of_note() -> str:
    """Why the reporting date is what it is, when it is not today (the demo says so on screen)."""
    return os.environ.get("TRACKER_AS_OF_NOTE", "")


def _home(home: Path | None) -> Path:
    return tracker_home() if home is None else Path(home)


def warehouse_path(home: Path | None = None) -> Path:
    return _home(home) / "warehouse.duckdb"


def published_dir(home: Path | None = None) -> Path:
    return _home(home) / "published"


def snapshot_path(home: Path | None = None) -> Path:
    """The read-only snapshot that assets/publish.py swaps in."""
    return published_dir(home) / SNAPSHOT_NAME


def manifest_path(home: Path | None = None) -> Path:
    """The snapshot's version, written by assets/publish.py after swapping the snapshot in."""
    return published_dir(home) / MANIFEST_NAME


def dagster_home(home: Path | None = None) -> Path:
    return _home(home) / "dagster"


def dbt_target_dir(home: Path | None = None) -> Path:
    """Where each dbt build in this home writes its compiled SQL, results and partial parse."""
    return _home(home) / "dbt"


def returns_inbox_dir(home: Path | None = None) -> Path:
    return _home(home) / "returns" / "inbox"


def returns_archive_dir(home: Path | None = None) -> Path:
    return _home(home) / "returns" / "archive"
