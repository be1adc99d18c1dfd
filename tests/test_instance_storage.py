"""The home's Dagster storage keeps its SQLite event log open and stays Dagster's own files."""

from __future__ import annotations

import dagster as dg
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from pipelines.instance import write_instance_config
from pipelines.instance_storage import OPEN_DATABASES, KeptOpenSqliteEventLogStorage


@dg.asset
def counted() -> int:
    return 1


@dg.asset_check(asset=counted)
def counted_is_one() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


JOB = dg.Definitions(assets=[counted], asset_checks=[counted_is_one],
                     jobs=[dg.define_asset_job("count", selection="*")]).resolve_job_def("count")


def test_a_home_records_runs_through_the_kept_open_event_log_in_dagsters_own_files(tmp_path, monkeypatch):
    monkeypatch.delenv("TRACKER_DAGSTER_POSTGRES_URL", raising=False)
    folder = write_instance_config(tmp_path)
    with dg.DagsterInstance.from_config(str(folder)) as instance:
        assert isinstance(instance.event_log_storage, KeptOpenSqliteEventLogStorage)
        runs = [JOB.execute_in_process(instance=instance).run_id for _ in range(OPEN_DATABASES + 3)]
        kept = instance.event_log_storage
        assert 0 < len(kept._engines) <= OPEN_DATABASES  # the oldest runs' databases were closed
        written = {run: len(instance.all_logs(run)) for run in runs}  # closed ones open again to be read
        latest = instance.get_latest_materialization_event(dg.AssetKey("counted"))
        assert latest is not None and latest.run_id == runs[-1]
    assert not kept._engines  # the instance closed them all

    # Dagster's own storage reads what was written: the files are where and what they always were.
    plain = SqliteEventLogStorage(str(folder / "history" / "runs"))
    assert {run: len(plain.get_logs_for_run(run)) for run in runs} == written
    assert all(count > 5 for count in written.values())
    assert (folder / "history" / "runs.db").exists() and (folder / "schedules").is_dir()


def test_the_event_log_flushes_at_checkpoints_and_asks_for_its_check_table_once(tmp_path, monkeypatch):
    """WAL with synchronous NORMAL (1), not FULL (2); a check's result recorded without asking SQLite each time
    whether the checks table exists, and recorded where Dagster reads it."""
    monkeypatch.delenv("TRACKER_DAGSTER_POSTGRES_URL", raising=False)
    folder = write_instance_config(tmp_path)
    with dg.DagsterInstance.from_config(str(folder)) as instance:
        storage = instance.event_log_storage
        asked = []
        has_table = storage.has_table
        monkeypatch.setattr(storage, "has_table", lambda name: asked.append(name) or has_table(name))
        runs = [JOB.execute_in_process(instance=instance).run_id for _ in range(3)]
        assert asked.count("asset_check_executions") <= 1
        for shard in ["index", runs[-1]]:
            with storage._connect(shard) as conn:
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1
        check = dg.AssetCheckKey(dg.AssetKey("counted"), "counted_is_one")
        executions = storage.get_asset_check_execution_history(check, limit=10)
        assert {execution.run_id for execution in executions} == set(runs)
        storage.wipe()
        assert storage._has_check_table is False  # asked again after a wipe
        again = JOB.execute_in_process(instance=instance).run_id
        assert [e.run_id for e in storage.get_asset_check_execution_history(check, limit=10)] == [again]


def test_wiping_the_event_log_closes_the_files_it_deletes(tmp_path, monkeypatch):
    monkeypatch.delenv("TRACKER_DAGSTER_POSTGRES_URL", raising=False)
    folder = write_instance_config(tmp_path)
    with dg.DagsterInstance.from_config(str(folder)) as instance:
        run = JOB.execute_in_process(instance=instance).run_id
        assert (folder / "history" / "runs" / f"{run}.db").exists()
        instance.event_log_storage.wipe()
        assert not (folder / "history" / "runs" / f"{run}.db").exists()
        assert instance.all_logs(run) == []
        assert JOB.execute_in_process(instance=instance).success  # and it writes again afterwards


def test_the_instance_file_names_where_the_home_now_is(tmp_path, monkeypatch):
    monkeypatch.delenv("TRACKER_DAGSTER_POSTGRES_URL", raising=False)
    write_instance_config(tmp_path / "before")
    moved = tmp_path / "after"
    (tmp_path / "before").rename(moved)
    again = write_instance_config(moved) / "dagster.yaml"
    assert str(tmp_path / "before") not in again.read_text() and str(moved / "dagster") in again.read_text()
