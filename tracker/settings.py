"""Settings from the environment, with working defaults under the project folder.

TRACKER_HOME      where everything generated lives (warehouse, snapshot, Dagster home);
                  default: <project>/.tracker (git-ignored)
TRACKER_DATA_DIR  the shipped real data; default: <project>/data
TRACKER_AS_OF     the reporting date (YYYY-MM-DD); default: today
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def tracker_home() -> Path:
    return Path(os.environ.get("TRACKER_HOME") or PROJECT_DIR / ".tracker").resolve()


def data_dir() -> Path:
    return Path(os.environ.get("TRACKER_DATA_DIR") or PROJECT_DIR / "data").resolve()


def as_of() -> str:
    return os.environ.get("TRACKER_AS_OF", "")


def warehouse_path() -> Path:
    return tracker_home() / "warehouse.duckdb"


def published_dir() -> Path:
    return tracker_home() / "published"


def snapshot_path() -> Path:
    """The read-only snapshot that assets/publish.py swaps in."""
    return published_dir() / "tracker.duckdb"


def dagster_home() -> Path:
    return tracker_home() / "dagster"
