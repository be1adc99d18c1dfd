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
    then stops with a plain sentence. Holding it, a run marks failed any run whose
    process was killed (tracker/dead_runs.py), so none shows as running for ever.
    """

    lock_home: str

    def setup_for_execution(self, context) -> None:
        from tracker.run_lock import RunLocked, acquire

        instance, run_id = context.instance, context.run_id
        if instance is not None and run_id:  # named before waiting: a run killed while it waits is found too
            from tracker.dead_runs import PROCESS_TAG, process_identity

            instance.add_run_tags(run_id, {PROCESS_TAG: process_identity()})
        try:
            acquire(Path(self.lock_home), on_wait=lambda who: context.log.info(
                f"Waiting for another run to finish writing the warehouse ({who or 'holder unknown'})."))
        except RunLocked as locked:
            raise dg.Failure(description=str(locked)) from None
        if instance is not None:
            from tracker.dead_runs import fail_runs_whose_process_died

            for dead in fail_runs_whose_process_died(instance, except_run=run_id):
                context.log.warning(f"Run {dead[:8]} had stopped without finishing (its process was killed); "
                                    "marked failed. This run takes up its unfinished work.")

    def teardown_after_execution(self, context) -> None:
        from tracker.run_lock import release

        release(Path(self.lock_home))
