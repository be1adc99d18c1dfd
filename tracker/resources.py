"""Where the tracker reads its inputs and writes its outputs.

Declared in the core (not in pipelines/) so that assets and checks depend only
on this small class; pipelines/definitions.py fills it in from tracker/settings.py
(the environment).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from tracker import settings


class TrackerConfig(dg.ConfigurableResource):
    """Paths and the reporting date for one run."""

    data_dir: str
    home_dir: str
    as_of: str = ""  # ISO date; empty means "today"

    @property
    def data(self) -> Path:
        return Path(self.data_dir)

    @property
    def home(self) -> Path:
        return Path(self.home_dir)

    @property
    def published_dir(self) -> Path:
        return settings.published_dir(self.home)

    def as_of_date(self) -> dt.date:
        return dt.date.fromisoformat(self.as_of) if self.as_of else dt.date.today()


class TrackerWarehouse(DuckDBResource):
    """The warehouse, held by one run at a time (tracker/run_lock.py) from the run's start to its end.

    Every run that touches the warehouse needs this resource, so a run launched by
    the daemon and a ``tracker run`` can never write at once: the second waits,
    then stops with a plain sentence.
    """

    lock_home: str

    def setup_for_execution(self, context) -> None:
        from tracker.run_lock import RunLocked, acquire

        try:
            acquire(Path(self.lock_home), on_wait=lambda who: context.log.info(
                f"Waiting for another run to finish writing the warehouse ({who or 'holder unknown'})."))
        except RunLocked as locked:
            raise dg.Failure(description=str(locked)) from None

    def teardown_after_execution(self, context) -> None:
        from tracker.run_lock import release

        release(Path(self.lock_home))
