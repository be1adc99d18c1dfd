"""The run's executor: steps that do not wait for each other run at once, two at most; a step that runs alone has
none beside it; a failure or an interrupt stops what it should, and the
run ends with every step it started accounted for."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.executor import STEPS_AT_ONCE, execute_here, side_by_side_executor
from tracker.step_tags import RUNS_ALONE_TAG

PROJECT = Path(__file__).resolve().parent.parent


def _run(assets: list, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    defs = dg.Definitions(assets=assets, jobs=[dg.define_asset_job("everything")], executor=side_by_side_executor)
    return execute_here(defs.resolve_job_def("everything"), instance, run_config={}, tags={})


class _Activity:
    """Which steps are running, as each step says when it starts and ends."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now: set[str] = set()
        self.beside: dict[str, set[str]] = {}  # step -> the steps seen running at the same time
        self.started: list[str] = []

    def step(self, name: str, seconds: float) -> None:
        with self.lock:
            self.started.append(name)
            self.now.add(name)
        try:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                with self.lock:
                    for other in self.now - {name}:
                        self.beside.setdefault(name, set()).add(other)
                        self.beside.setdefault(other, set()).add(name)
                time.sleep(0.01)
        finally:
            with self.lock:
                self.now.discard(name)


def _asset(name: str, activity: _Activity, seconds: float = 0.2, deps=(), tags=None, work=None):
    @dg.asset(name=name, deps=list(deps), op_tags=tags or {})
    def _made() -> None:
        activity.step(name, seconds)
        if work is not None:
            work()

    return _made


def test_steps_that_do_not_wait_for_each_other_run_at_once():
    """Each waits at a barrier the other must reach too: run one after the other, the first would time out."""
    meet = threading.Barrier(2, timeout=20)
    activity = _Activity()
    with dg.instance_for_test() as instance:
        result = _run([_asset("left", activity, work=meet.wait), _asset("right", activity, work=meet.wait)], instance)
    assert result.success
    assert activity.beside["left"] == {"right"}


def test_no_more_than_two_steps_run_at_once():
    activity = _Activity()
    with dg.instance_for_test() as instance:
        result = _run([_asset(f"step_{n}", activity, seconds=0.3) for n in range(5)], instance)
    assert result.success
    assert sorted(activity.started) == [f"step_{n}" for n in range(5)]
    assert all(len(beside) <= STEPS_AT_ONCE - 1 for beside in activity.beside.values())
    assert any(activity.beside.values())  # and some did run at once


def test_a_step_that_runs_alone_has_no_other_beside_it():
    """The marts' case: dbt, another process, opens the warehouse file, so no step of the run may hold it then."""
    activity = _Activity()
    assets = [_asset("before", activity, seconds=0.3), _asset("other", activity, seconds=0.3),
              _asset("alone", activity, seconds=0.5, tags={RUNS_ALONE_TAG: "true"}),
              _asset("late", activity, seconds=0.3), _asset("after", activity, seconds=0.3, deps=["alone"])]
    with dg.instance_for_test() as instance:
        result = _run(assets, instance)
    assert result.success
    assert len(activity.started) == 5
    assert "alone" not in activity.beside
    assert activity.beside  # the others did run beside each other


def test_a_failed_step_skips_what_waits_for_it_and_not_the_steps_beside_it():
    activity = _Activity()

    def fail() -> None:
        raise ValueError("this step's own fault")

    assets = [_asset("broken", activity, seconds=0.2, work=fail), _asset("downstream", activity, deps=["broken"]),
              _asset("beside", activity, seconds=0.4), _asset("later", activity, deps=["beside"])]
    with dg.instance_for_test() as instance:
        result = _run(assets, instance)
        assert not result.success
        assert "downstream" not in activity.started
        assert {"broken", "beside", "later"} <= set(activity.started)
        materialised = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
        assert materialised == {"beside", "later"}
        failed = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
        assert [e.step_key for e in failed] == ["broken"]
        assert "this step's own fault" in failed[0].step_failure_data.error.cause.message


INTERRUPTED_RUN = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import dagster as dg
    from pipelines.executor import execute_here, side_by_side_executor

    folder = Path(sys.argv[1])

    def slow(name):
        @dg.asset(name=name)
        def _made() -> None:
            (folder / f"{name}.started").touch()
            try:
                for _ in range(1200):  # a minute, in small steps of Python, as a real step's work is
                    time.sleep(0.05)
            finally:
                (folder / f"{name}.cleaned_up").touch()
        return _made

    @dg.asset(deps=["one"])
    def never() -> None:
        (folder / "never.started").touch()

    defs = dg.Definitions(assets=[slow("one"), slow("two"), never], jobs=[dg.define_asset_job("everything")],
                          executor=side_by_side_executor)
    with dg.DagsterInstance.from_config(str(folder / "dagster")) as instance:
        result = execute_here(defs.resolve_job_def("everything"), instance, run_config={}, tags={})
        print("run status", instance.get_run_by_id(result.run_id).status.value, flush=True)
""")


@pytest.mark.skipif(not hasattr(signal, "SIGINT"), reason="POSIX signals")
def test_an_interrupt_stops_every_running_step_and_ends_the_run(tmp_path):
    """Ctrl-C reaches the run's thread only: each running step is interrupted in its own thread, its ``finally``
    runs, nothing more starts, and the run is recorded as ended, not left running."""
    (tmp_path / "dagster").mkdir()
    (tmp_path / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    script = tmp_path / "run.py"
    script.write_text(INTERRUPTED_RUN)
    process = subprocess.Popen([sys.executable, str(script), str(tmp_path)], cwd=PROJECT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "PYTHONPATH": str(PROJECT), "DAGSTER_HOME": str(tmp_path)})
    try:
        deadline = time.monotonic() + 120
        while not ((tmp_path / "one.started").exists() and (tmp_path / "two.started").exists()):
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.1)
        interrupted = time.monotonic()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert time.monotonic() - interrupted < 30  # not the minute the steps would have taken
    assert (tmp_path / "one.cleaned_up").exists() and (tmp_path / "two.cleaned_up").exists()
    assert not (tmp_path / "never.started").exists()
    assert "run status FAILURE" in out or "run status CANCELED" in out, (out, err)


def test_every_schema_a_run_writes_in_is_made_before_its_steps_start(warehouse, tmp_path):
    """Two steps at once that each make a missing schema conflict (DuckDB: "Catalog write-write conflict"), so the
    run makes every schema first, when it holds the warehouse open; a step that writes in a new schema must add it
    to SCHEMAS."""
    from tracker.resources import TrackerWarehouse
    from tracker.warehouse import SCHEMAS

    made_by_the_build = {schema for (schema,) in warehouse.execute(
        "SELECT schema_name FROM information_schema.schemata WHERE catalog_name = current_database()").fetchall()}
    assert made_by_the_build - {"main"} <= set(SCHEMAS)

    held = TrackerWarehouse(database=str(tmp_path / "warehouse.duckdb"), lock_home=str(tmp_path))
    held.keep_open()
    held.let_go()
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        made_first = {schema for (schema,) in con.execute(
            "SELECT schema_name FROM information_schema.schemata WHERE catalog_name = current_database()").fetchall()}
    assert set(SCHEMAS) <= made_first
