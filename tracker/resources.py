"""Where the tracker reads its inputs and writes its outputs.

Declared in the core (not in pipelines/) so that assets and checks depend only
on this small class; pipelines/definitions.py fills it in from tracker/settings.py
(the environment).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_duckdb import DuckDBResource
from pydantic import PrivateAttr

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
    _kept: Any = PrivateAttr(default=None)  # the context manager of the connection held open for the run
    _writers: list = PrivateAttr(default_factory=list)  # finish(): work writing beside the steps (before_letting_go)

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

        refused = self._hold()
        if refused:
            context.log.warning(f"The warehouse could not be held open for the run ({refused}); each step opens it "
                                "itself.")

    def teardown_after_execution(self, context) -> None:
        from tracker.run_lock import release

        failed = None
        for finish in self._writers:  # each, whatever the one before did
            try:
                finish()
            except Exception as err:  # noqa: BLE001  raised once the warehouse is let go
                failed = failed or err
        self._writers.clear()
        try:
            self.let_go()
        finally:
            release(Path(self.lock_home))
        if failed is not None:
            raise failed

    def before_letting_go(self, finish: Callable[[], None]) -> None:
        """``finish()`` is called when the run ends, before its connection and its lock go: for work writing the
        warehouse in a thread beside the steps (assets/returns_ahead.py), which must be over by then."""
        self._writers.append(finish)

    def keep_open(self) -> None:
        """Hold one connection for the run, so that every other connection its steps make shares the open database
        (DuckDB keeps one instance per file in a process) rather than opening the file, reading its catalogue,
        then closing and checkpointing it: some 75 to 170 times a run, 20 to 40 ms each at national size. The
        run lock is held, so no other process wants the file meanwhile; a step that starts one that does (dbt)
        lets go first (``released``). Each write still commits to the write-ahead log as it did."""
        if self._kept is None:
            kept = self.get_connection()
            kept.__enter__()
            self._kept = kept

    def _hold(self) -> str | None:
        """``keep_open``, as a saving only: why the file could not be held (None when it is). Each step then opens
        the file itself and says what is wrong with it."""
        try:
            self.keep_open()
        except Exception as err:  # noqa: BLE001  a lost saving, not a failed run
            return f"{type(err).__name__}: {err}"
        return None

    def let_go(self) -> None:
        """Close the held connection (the last one of the run: DuckDB checkpoints the file)."""
        kept, self._kept = self._kept, None
        if kept is not None:
            kept.__exit__(None, None, None)

    @contextmanager
    def released(self) -> Iterator[None]:
        """The file closed in this process for the block (another process opens it), and held again after if it
        can be: if not, each later step opens the file itself, as it would without the saving (and an error of the
        block is never hidden by one from holding the file again)."""
        held = self._kept is not None
        self.let_go()
        try:
            yield
        finally:
            if held:
                self._hold()
