"""One writer always: runs take TRACKER_HOME/run.lock, which the operating system releases when its holder dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import dagster as dg
import pytest

from tests.conftest import PROJECT, make_resources
from tracker.resources import TrackerWarehouse
from tracker.run_lock import RunLocked, acquire, lock_path, release, run_lock

HOLD = "import sys, time; from pathlib import Path; from tracker.run_lock import acquire; " \
       "acquire(Path(sys.argv[1])); print('held', flush=True); time.sleep(120)"


@pytest.fixture()
def holder(tmp_path):
    """Another process holding the lock on tmp_path/home until killed."""
    home = tmp_path / "home"
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(home)], cwd=PROJECT, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    yield home, process
    process.kill()
    process.wait()


def test_a_second_writer_stops_with_a_plain_sentence_naming_the_holder(holder):
    home, process = holder
    started = time.monotonic()
    with pytest.raises(RunLocked) as stopped:
        acquire(home, wait=1.0)
    assert time.monotonic() - started >= 1.0
    assert f"pid {process.pid}" in str(stopped.value) and "Run it again" in str(stopped.value)


def test_a_killed_holder_leaves_nothing_locked(holder):
    home, process = holder
    process.send_signal(signal.SIGKILL)
    process.wait()
    with run_lock(home, wait=2.0):
        assert f"pid {os.getpid()}" in lock_path(home).read_text()
    assert lock_path(home).read_text() == ""  # released, and says no one holds it


def test_the_lock_is_re_entrant_within_a_process(tmp_path):
    acquire(tmp_path, wait=0)
    acquire(tmp_path, wait=0)  # tracker run takes it, then the run's warehouse resource takes it again
    release(tmp_path)
    probe = subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; from tracker.run_lock "
                            "import acquire; acquire(Path(sys.argv[1]), wait=0)", str(tmp_path)], cwd=PROJECT,
                           capture_output=True, text=True)
    assert probe.returncode != 0 and "Another run is writing the warehouse" in probe.stderr  # still held once
    release(tmp_path)
    probe = subprocess.run(probe.args, cwd=PROJECT, capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr


def test_a_run_whose_warehouse_is_locked_fails_plainly_and_writes_nothing(holder, monkeypatch):
    """A run launched by the daemon takes the lock through its warehouse resource."""
    from assets.declarations import declarations

    home, process = holder
    monkeypatch.setenv("TRACKER_RUN_WAIT_SECONDS", "0")
    resources = make_resources(home) | {
        "warehouse": TrackerWarehouse(database=str(home / "warehouse.duckdb"), lock_home=str(home))}
    result = dg.materialize([declarations], resources=resources, raise_on_error=False)
    assert not result.success
    messages = " ".join(repr(e.event_specific_data) for e in result.all_events if e.is_failure)
    assert "Another run is writing the warehouse" in messages and f"pid {process.pid}" in messages
    assert not (home / "warehouse.duckdb").exists()


def test_tracker_run_facing_a_held_lock_stops_with_a_plain_sentence(holder):
    """The command a person types: no traceback, exit 1, who holds it. (Waiting instead, for a run the daemon
    launched, is tests/test_instance_postgres.py.)"""
    home, process = holder
    env = {**os.environ, "TRACKER_HOME": str(home), "TRACKER_RUN_WAIT_SECONDS": "0"}
    impatient = subprocess.run([sys.executable, "-m", "pipelines.cli", "run", "--as-of", "2026-01-31"], cwd=PROJECT,
                               env=env, capture_output=True, text=True, timeout=300)
    assert impatient.returncode == 1
    assert f"Another run is writing the warehouse (pid {process.pid} since" in impatient.stdout
    assert "this run stopped without changing anything" in impatient.stdout
    assert "Traceback" not in impatient.stdout + impatient.stderr
    assert not (home / "warehouse.duckdb").exists()


OPENS = "import sys, duckdb; duckdb.connect(sys.argv[1]).close()"


def _another_process_opens(path) -> bool:
    return subprocess.run([sys.executable, "-c", OPENS, str(path)], capture_output=True).returncode == 0


def test_a_run_holds_the_warehouse_open_and_lets_go_for_dbt_and_at_its_end(tmp_path):
    """Issue 17: one connection held for the run (its steps' connections share the open file); a step that starts
    another process on the file (dbt) lets go for it; the run's end lets go, even when a step fails."""
    home = tmp_path / "home"
    warehouse = TrackerWarehouse(database=str(home / "warehouse.duckdb"), lock_home=str(home))
    seen = {}

    @dg.asset
    def writes(warehouse: TrackerWarehouse) -> None:
        with warehouse.get_connection() as con:
            con.execute("CREATE TABLE t AS SELECT 1 AS a")
        seen["held in the step"] = not _another_process_opens(home / "warehouse.duckdb")
        with warehouse.released():
            seen["released for another process"] = _another_process_opens(home / "warehouse.duckdb")
        seen["held again after"] = not _another_process_opens(home / "warehouse.duckdb")
        with warehouse.get_connection() as con:  # shares the held database: sees the write, can write
            seen["rows"] = con.execute("SELECT count(*) FROM t").fetchall()[0][0]

    @dg.asset(deps=[writes])
    def fails() -> None:
        raise RuntimeError("a step failing")

    result = dg.materialize([writes, fails], resources={"warehouse": warehouse}, raise_on_error=False)
    assert not result.success
    assert seen == {"held in the step": True, "released for another process": True, "held again after": True,
                    "rows": 1}
    assert _another_process_opens(home / "warehouse.duckdb")  # let go when the run ended, though it failed
    assert not lock_path(home).exists() or _lock_free(home)


def _lock_free(home) -> bool:
    try:
        acquire(home)
    except RunLocked:
        return False
    release(home)
    return True


def test_a_warehouse_that_cannot_be_held_open_leaves_each_step_to_open_it(tmp_path, monkeypatch):
    """Holding the file is a saving, not a condition: if it cannot be held, the run goes on as before, each step
    opening the file itself (and saying what is wrong with it)."""
    home = tmp_path / "home"
    warehouse = TrackerWarehouse(database=str(home / "warehouse.duckdb"), lock_home=str(home))

    def refused(self):
        raise OSError("refused")

    monkeypatch.setattr(TrackerWarehouse, "keep_open", refused)

    @dg.asset
    def writes(warehouse: TrackerWarehouse) -> None:
        with warehouse.get_connection() as con:
            con.execute("CREATE TABLE t AS SELECT 1 AS a")

    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([writes], resources={"warehouse": warehouse}, instance=instance)
        assert result.success
        said = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert any("could not be held open for the run (OSError: refused); each step opens it itself" in line
               for line in said)
    assert _another_process_opens(home / "warehouse.duckdb") and _lock_free(home)


def test_holding_the_warehouse_again_after_dbt_never_fails_the_step_nor_hides_its_error(tmp_path, monkeypatch):
    home = tmp_path / "home"
    warehouse = TrackerWarehouse(database=str(home / "warehouse.duckdb"), lock_home=str(home))
    home.mkdir()
    warehouse.keep_open()
    real = TrackerWarehouse.keep_open

    def refused(self):
        raise OSError("still locked")

    monkeypatch.setattr(TrackerWarehouse, "keep_open", refused)
    with warehouse.released():  # held again is only tried, and it fails quietly
        assert _another_process_opens(home / "warehouse.duckdb")
    assert _another_process_opens(home / "warehouse.duckdb")  # not held: each step opens it itself
    monkeypatch.setattr(TrackerWarehouse, "keep_open", real)
    warehouse.keep_open()
    monkeypatch.setattr(TrackerWarehouse, "keep_open", refused)
    with pytest.raises(RuntimeError, match="dbt stopped"), warehouse.released():
        raise RuntimeError("dbt stopped")
    warehouse.let_go()
