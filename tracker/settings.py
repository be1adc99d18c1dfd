"""Settings from the environment, and every path under TRACKER_HOME, each written once here.

TRACKER_HOME      where everything generated lives (warehouse, snapshot, Dagster home);
                  default: <project>/.tracker (git-ignored)
TRACKER_DATA_DIR  the shipped real data; default: <project>/data
TRACKER_AS_OF     the reporting date (YYYY-MM-DD); default: today
TRACKER_AS_OF_NOTE  why that date, shown beside it on the dashboard (set by `tracker demo`)
TRACKER_ACCESS_FILE  who may sign in, their role and organisations; default: TRACKER_HOME/access.yaml
TRACKER_SECRETS_FILE the sign-in provider and GOV.UK Notify keys (never committed);
                  default: <project>/.streamlit/secrets.toml
TRACKER_ALERT_WEBHOOK where alerts are posted (tracker/alerts.py); default: the secrets file's
                  [alerts] webhook_url, else none (alerts are only recorded)
TRACKER_DEMO_SIGN_IN "on" lets the submission pages run without a sign-in provider, as the
                  illustrative identities of data/returns/access.example.yaml (`tracker demo` sets it)

Under TRACKER_HOME (each path function takes a ``home``; without one, TRACKER_HOME):
    warehouse.duckdb            the warehouse                    warehouse_path()
    raw/<source>/<sha256>       the bytes of every platform and  raw_store_dir()
                                reference file read (beside the
                                warehouse file: tracker/raw_store.py)
    published/                  what readers may open            published_dir()
    published/tracker.duckdb    the read-only snapshot           snapshot_path()
    published/manifest.json     its version, written after it    manifest_path()
    dagster/                    Dagster's home (runs, sensors)   dagster_home()
    dbt/                        dbt's compiled SQL and parse   dbt_target_dir()
    dbt/project/                the dbt project, as links        dbt_run_dir()
    returns/inbox/              returns waiting to be processed  returns_inbox_dir()
    returns/archive/            returns once processed           returns_archive_dir()
    receipts/                   email receipts to send and sent  receipts_dir()
    reminders/                  deadline reminders' ledger       reminders_dir()
    alerts/                     failed runs and stale sources    alerts_dir()
                                alerted (alerts.jsonl)
    access.yaml                 who may sign in (by default)     access_file()
    feeds/<source>/             live feed documents as fetched,  feeds_dir()
                                and fetches.csv (every fetch)

No Dagster here: the command line and the dashboard read it too.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from tracker.dates import long_date

PROJECT_DIR = Path(__file__).resolve().parent.parent
SNAPSHOT_NAME = "tracker.duckdb"
MANIFEST_NAME = "manifest.json"


def tracker_home() -> Path:
    return Path(os.environ.get("TRACKER_HOME") or PROJECT_DIR / ".tracker").resolve()


def data_dir() -> Path:
    return Path(os.environ.get("TRACKER_DATA_DIR") or PROJECT_DIR / "data").resolve()


DEMO_ACCESS_FILE = "returns/access.example.yaml"  # under the data folder: illustrative identities only


def as_of() -> str:
    """The reporting date as set (TRACKER_AS_OF, YYYY-MM-DD), or "" for today; anything else is refused in words."""
    text = os.environ.get("TRACKER_AS_OF", "").strip()
    if text:
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"TRACKER_AS_OF is {text!r}, which is not a date in the form YYYY-MM-DD: set it to "
                             "one, or leave it unset to report as of today.") from None
        too_late = later_than_today(day)
        if too_late:
            raise ValueError(f"TRACKER_AS_OF is {text}, which is {too_late}") from None
    return text


def later_than_today(day: dt.date) -> str:
    """Why a reporting date after today cannot be used ("" for one that can): no figure is published yet for a day
    to come, and forecasts judged then would be for dates already past."""
    today = dt.date.today()
    if day <= today:
        return ""
    return (f"after today ({long_date(today)}): the tracker reports what had been published by a day, so "
            "choose today or earlier.")


def as_of_date() -> dt.date:
    """The reporting date as set (TRACKER_AS_OF), or today."""
    text = as_of()
    return dt.date.fromisoformat(text) if text else dt.date.today()


RETURNS_CHUNK = 2000  # return files checked against the contract as one batch and recorded in one transaction


def returns_chunk() -> int:
    """How many return files a run checks and records together (``TRACKER_RETURNS_CHUNK``; a value that is not a
    whole number of at least 1 is ignored): more holds more in memory at once, fewer costs more statements."""
    text = os.environ.get("TRACKER_RETURNS_CHUNK", "").strip()
    return int(text) if text.isdigit() and int(text) >= 1 else RETURNS_CHUNK


def as_of_note() -> str:
    """Why the reporting date is what it is, when it is not today (the demo says so on screen)."""
    return os.environ.get("TRACKER_AS_OF_NOTE", "")


def _home(home: Path | None) -> Path:
    return tracker_home() if home is None else Path(home)


def warehouse_path(home: Path | None = None) -> Path:
    return _home(home) / "warehouse.duckdb"


def raw_store_dir(home: Path | None = None) -> Path:
    """Where the bytes of every platform and reference file are kept; its ``home`` is the warehouse file's folder."""
    return _home(home) / "raw"


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
    """Where each dbt build in this home writes its compiled SQL and partial parse (its results go to the run's log)."""
    return _home(home) / "dbt"


def dbt_run_dir(home: Path | None = None) -> Path:
    """Where dbt runs for this home: the dbt project as a folder of links (assets/marts.py says why)."""
    return dbt_target_dir(home) / "project"


def returns_inbox_dir(home: Path | None = None) -> Path:
    return _home(home) / "returns" / "inbox"


def returns_archive_dir(home: Path | None = None) -> Path:
    return _home(home) / "returns" / "archive"


def receipts_dir(home: Path | None = None) -> Path:
    return _home(home) / "receipts"


def feeds_dir(home: Path | None = None) -> Path:
    """The platforms' live feeds as fetched, one folder per source (tracker/feed_store.py)."""
    return _home(home) / "feeds"


def reminders_dir(home: Path | None = None) -> Path:
    """The ledger of deadline reminders claimed, sent, not sent, and organisations with no one to remind."""
    return _home(home) / "reminders"


def alerts_dir(home: Path | None = None) -> Path:
    """Every alert recorded (alerts.jsonl) and the freshness breaches already alerted (tracker/alerts.py)."""
    return _home(home) / "alerts"


def demo_sign_in() -> bool:
    """The explicit switch for running the submission pages without a sign-in provider (demo only)."""
    return os.environ.get("TRACKER_DEMO_SIGN_IN", "").strip().lower() == "on"


def access_file() -> Path:
    """The access file: the demo's illustrative one in demo mode unless TRACKER_ACCESS_FILE names another."""
    named = os.environ.get("TRACKER_ACCESS_FILE")
    if named:
        return Path(named).resolve()
    return data_dir() / DEMO_ACCESS_FILE if demo_sign_in() else tracker_home() / "access.yaml"


def secrets_file() -> Path:
    return Path(os.environ.get("TRACKER_SECRETS_FILE") or PROJECT_DIR / ".streamlit" / "secrets.toml").resolve()
