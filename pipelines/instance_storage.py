"""Dagster's SQLite storage for a tracker home, with each database's connection kept open while it is in use.

Dagster's own SQLite event log makes a new SQLAlchemy engine, opens the database file and closes it again for
every event it writes: a run writes about a thousand (each step's start, output, materialisation and success,
each of the 193 checks), which cost 5 of the 21 seconds of a run on the small benchmark that found nothing new
(BENCHMARKS.md). Here the engine of each of the last few databases used is kept, with its connection, so a write
is one statement and one commit. The files, their layout and their schema are Dagster's own: a home written by
either storage is read by the other.

Each write is still its own commit, in Dagster's write-ahead log mode, but with SQLite's ``synchronous=NORMAL``
(SQLite's advice for that mode) rather than a flush to disk on every commit: the ~1,050 flushes cost about
half a second a run. A process killed at any point loses nothing it committed and leaves the files whole; only
the operating system itself failing can take back the last commits (the run is then dead anyway, and
``tracker/dead_runs.py`` says so), never the files' consistency.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dagster._core.storage.event_log.sqlite.sqlite_event_log import SQLITE_BUSY_TIMEOUT_SECONDS, SqliteEventLogStorage
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage, _event_logs_directory
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine

OPEN_DATABASES = 8  # the index and the run being written, and a few a webserver is showing


def _flush_at_checkpoints(connection, _record) -> None:
    connection.execute("PRAGMA synchronous=NORMAL")  # in WAL mode: durable against a killed process


class KeptOpenSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's event log in SQLite (one database per run, and an index), its recently used databases kept open."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        super().__init__(base_dir, inst_data)
        self._engines: OrderedDict[str, Engine] = OrderedDict()  # guarded, like their use, by Dagster's _db_lock
        self._has_check_table = False

    def _engine(self, shard: str) -> Engine:
        engine = self._engines.pop(shard, None)
        if engine is None:
            engine = create_engine(self.conn_string_for_shard(shard),
                                   connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
                                                 "check_same_thread": False})  # used under Dagster's lock
            event.listen(engine, "connect", _flush_at_checkpoints)
        self._engines[shard] = engine  # the most recently used last
        while len(self._engines) > OPEN_DATABASES:
            self._engines.popitem(last=False)[1].dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:  # Dagster's: one thread at a time uses this storage's connections
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _close_all(self) -> None:
        with self._db_lock:  # never while another thread is writing through one
            while self._engines:
                self._engines.popitem()[1].dispose()

    @property
    def supports_asset_checks(self) -> bool:
        """Dagster asks the index for its checks table before storing each check's result (some 200 a run);
        once there, it stays until a wipe."""
        if not self._has_check_table:
            self._has_check_table = super().supports_asset_checks
        return self._has_check_table

    def wipe(self) -> None:
        self._close_all()  # before Dagster deletes the files they hold open
        self._has_check_table = False
        super().wipe()

    def dispose(self) -> None:
        self._close_all()
        super().dispose()


class TrackerSqliteStorage(DagsterSqliteStorage):
    """Dagster's SQLite storage (runs, schedules and sensors as Dagster keeps them), its event log kept open.

    ``base_dir`` is the Dagster home, as for Dagster's default storage, so the files are where they always were."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        super().__init__(base_dir, inst_data)
        self._event_log_storage = KeptOpenSqliteEventLogStorage(_event_logs_directory(base_dir))

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Any) -> TrackerSqliteStorage:
        return cls.from_local(inst_data=inst_data, **config_value)
