"""Read-only access to the published snapshot: the only data the dashboard ever opens.

Each query opens a short-lived read-only DuckDB connection and closes it, so a
pipeline run never waits for the dashboard. Publishing swaps a new file in with
``os.replace``: a connection that is already open keeps reading the old file,
and the next one opens the new. Results are cached by the snapshot's version
(from its manifest), so a new publication is picked up on the next rerun.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import duckdb
import pandas as pd
import streamlit as st

from tracker.settings import manifest_path, snapshot_path

LOCK_RETRIES = 20
LOCK_WAIT_SECONDS = 0.1


class SnapshotMissing(Exception):
    """No snapshot has been published yet (or it cannot be opened)."""


@dataclass(frozen=True)
class SnapshotInfo:
    version: str
    published_at: str
    as_of: str


def snapshot_info() -> SnapshotInfo:
    """The published version, read from the manifest the publish step writes after swapping the file in."""
    try:
        manifest = json.loads(manifest_path().read_text(encoding="utf-8"))
        return SnapshotInfo(manifest["version"], manifest["published_at"], manifest["as_of"])
    except (OSError, ValueError, KeyError):
        raise SnapshotMissing(
            "No published figures were found. Run `tracker run` (or `tracker demo`) to build and publish them."
        ) from None


def _connect() -> duckdb.DuckDBPyConnection:
    """A read-only connection, retried briefly if the file is locked or mid-swap."""
    path = snapshot_path()
    for attempt in range(LOCK_RETRIES):
        try:
            return duckdb.connect(str(path), read_only=True)
        except duckdb.IOException:
            if attempt == LOCK_RETRIES - 1:
                break
            time.sleep(LOCK_WAIT_SECONDS)
    raise SnapshotMissing("The published figures could not be opened just now. Reload the page in a moment.")


@st.cache_data(ttl=3600, max_entries=512, show_spinner=False)
def _cached_query(version: str, sql: str, params: tuple) -> pd.DataFrame:
    con = _connect()
    try:
        return con.execute(sql, list(params)).df()
    finally:
        con.close()


def query(sql: str, *params) -> pd.DataFrame:
    """Run a read-only query on the published snapshot; cached until a new snapshot is published."""
    return _cached_query(snapshot_info().version, sql, tuple(params))  # st.cache_data returns a fresh copy
