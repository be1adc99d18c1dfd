"""The returns intake started ahead of its step (assets/returns_ahead.py) comes to what the step alone would.

A run of the refresh job starts the intake in a thread once the organisation register is in, and the intake step
only takes its result. The homes of ``test_return_chunks`` (an earlier run's return in force, then corrections,
re-sent files, duplicates, rejections and a changed file, in small chunks so that several are taken) are taken in
once by a job with the hook and once by the same job without it: every returns table and the archive must be
equal. A run that cannot use an intake started ahead (no intake step, files named) never starts one, and a run
ending before its intake step stops the intake between two chunks, leaving the rest in the inbox.
"""

from __future__ import annotations

import json
import time

import dagster as dg
import pytest

import assets.returns as returns
from assets import returns_ahead
from assets.organisations import organisations, organisations_files
from tests.conftest import make_resources, query
from tests.test_return_chunks import _archive, _take
from tests.test_return_chunks import two_homes as two_homes  # the fixture
from tests.warehouse_compare import compare_warehouses
from tracker.resources import TrackerWarehouse
from tracker.return_inbox import pending
from tracker.run_lock import acquire, holder, lock_path

AHEAD_SAID = "taken in beside the steps before this one"
SCHEMAS = ("raw", "audit", "quarantine", "staging")


def _run(home, hooked: bool, files: list[str] | None = None, with_intake: bool = True) -> tuple:
    """The register and the intake, as the refresh job runs them: with the hook, or without it (the step alone)."""
    resources = make_resources(home) | {"warehouse": TrackerWarehouse(database=str(home / "warehouse.duckdb"),
                                                                      lock_home=str(home))}
    assets = [organisations_files, organisations, *([returns.department_returns] if with_intake else [])]
    job = dg.define_asset_job("intake", hooks={returns_ahead.start_intake_ahead} if hooked else set())
    defs = dg.Definitions(assets=assets, jobs=[job], resources=resources, executor=dg.in_process_executor)
    config = {"ops": {"department_returns": {"config": {"files": files}}}} if files else None
    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def("intake").execute_in_process(run_config=config, instance=instance)
    said = "\n".join(entry.user_message for entry in instance.all_logs(result.run_id)
                     if entry.step_key == "department_returns")
    return result, said


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setenv("TRACKER_RETURNS_CHUNK", "3")  # several chunks, the next checked in the checking process


def test_an_intake_started_ahead_records_what_its_step_alone_records(two_homes):
    alone, ahead = two_homes
    waiting = len(pending(ahead))
    (by_step, step_said), (by_hook, hook_said) = _run(alone, hooked=False), _run(ahead, hooked=True)
    assert by_step.success and by_hook.success
    assert AHEAD_SAID in hook_said and AHEAD_SAID not in step_said
    assert "Return files 1 to 3 of" in hook_said  # the intake's own lines, kept for the step
    comparison = compare_warehouses(alone / "warehouse.duckdb", ahead / "warehouse.duckdb", schemas=SCHEMAS)
    assert comparison.equal, comparison.report()
    assert _archive(alone) == _archive(ahead) and pending(ahead) == [] == pending(alone)
    statuses = {status for (status,) in query(ahead, "SELECT DISTINCT status FROM audit.return_submissions")}
    assert {"accepted", "accepted with warnings", "rejected", "duplicate"} <= statuses
    # the step reports the intake as its own: the same counts on its tables
    counts = [m.metadata["files taken from the inbox"].value for m in by_hook.asset_materializations_for_node(
        "department_returns")]
    assert counts and set(counts) == {waiting}
    assert returns_ahead.taken(by_hook.run_id) is None  # handed over once


def test_a_run_without_the_intake_step_leaves_the_inbox_alone(two_homes):
    _, home = two_homes
    waiting = pending(home)
    result, _ = _run(home, hooked=True, with_intake=False)
    assert result.success
    assert returns_ahead.taken(result.run_id) is None
    assert pending(home) == waiting and len(waiting) > 3
    assert query(home, "SELECT count(*) FROM audit.return_submissions WHERE file_name = 'd10-q2.csv'") == [(0,)]


def test_a_run_naming_files_takes_them_in_its_step(two_homes):
    """The sensor's run names the files: its step takes those (and copies of files already received) itself."""
    _, home = two_homes
    first = pending(home)[0]
    result, said = _run(home, hooked=True, files=[str(first.path)])
    assert result.success and AHEAD_SAID not in said
    assert query(home, "SELECT count(*) FROM audit.return_submissions WHERE submission_ref = ?",
                 [first.reference]) == [(1,)]
    assert len(pending(home)) > 3  # the others were not named: they wait


def test_an_intake_stopped_between_chunks_leaves_the_rest_waiting_and_whole(two_homes):
    """Stopped after its first chunk (the run ended before the intake step), the intake leaves every file it did not
    take in the inbox, unrecorded; the next run takes them, and the end is what one intake of them all comes to."""
    alone, stopped = two_homes
    resources = make_resources(stopped)
    asked = []

    def stop() -> bool:
        asked.append(1)
        return len(asked) > 1  # true from the second chunk on

    log = returns_ahead._KeptLog()  # noqa: SLF001
    intake = returns.take_inbox(resources["warehouse"], resources["settings"], [], log, stop)
    waiting = pending(stopped)
    assert intake.summary["files taken from the inbox"] == 3 and len(waiting) > 3
    assert any("wait in the inbox for the next run" in message for level, message in log.lines if level == "warning")
    recorded = {ref for (ref,) in query(stopped, "SELECT submission_ref FROM audit.return_submissions")}
    assert not recorded & {file.reference for file in waiting}
    returns.take_inbox(resources["warehouse"], resources["settings"], [], returns_ahead._KeptLog())  # noqa: SLF001
    _take(alone, 3)
    comparison = compare_warehouses(alone / "warehouse.duckdb", stopped / "warehouse.duckdb", schemas=SCHEMAS)
    assert comparison.equal, comparison.report()
    assert pending(stopped) == []


def test_the_intake_s_error_and_log_are_the_step_s():
    def intake(log, stop):
        log.warning("a file could not be moved")
        raise dg.Failure(description="The inbox could not be read: say what to do.")

    ahead = returns_ahead.IntakeAhead(intake)
    seen = returns_ahead._KeptLog()  # noqa: SLF001
    with pytest.raises(dg.Failure) as raised:
        ahead.result(seen)
    assert raised.value.description == "The inbox could not be read: say what to do."
    assert ("warning", "a file could not be moved") in seen.lines
    assert any(AHEAD_SAID in message for _, message in seen.lines)


def test_the_run_lets_go_of_the_warehouse_only_after_the_work_beside_its_steps(tmp_path):
    """The work writing beside the steps is asked to stop and waited for before the run's connection and lock go;
    each is finished even if one fails, and the lock goes all the same."""
    warehouse = TrackerWarehouse(database=str(tmp_path / "warehouse.duckdb"), lock_home=str(tmp_path))
    acquire(tmp_path)
    held_while_finishing = []

    def failing() -> None:
        held_while_finishing.append(holder(lock_path(tmp_path)) != "")
        raise RuntimeError("the work failed")

    def intake(log, stop) -> str:
        while not stop():
            time.sleep(0.01)
        held_while_finishing.append(holder(lock_path(tmp_path)) != "")
        return "stopped"

    ahead = returns_ahead.IntakeAhead(intake)
    warehouse.before_letting_go(failing)
    warehouse.before_letting_go(ahead.stop)
    with pytest.raises(RuntimeError, match="the work failed"):
        warehouse.teardown_after_execution(None)
    assert held_while_finishing == [True, True]
    assert ahead.result(returns_ahead._KeptLog()) == "stopped"  # noqa: SLF001
    assert holder(lock_path(tmp_path)) == ""


def test_ctrl_c_while_the_intake_runs_ahead_stops_it_between_chunks_and_loses_nothing(tmp_path):
    """Ctrl-C reaches the run while its intake is under way beside the other steps: the run ends within a chunk,
    with no traceback, and every return is either recorded and archived, or still waiting in the inbox, never both
    and never neither."""
    import os
    import shutil

    from bench.generate import generate
    from tests.conftest import interrupted_run

    data = tmp_path / "data"
    manifest = generate(data, "small", 20261203)
    home = tmp_path / "home"
    shutil.copytree(data / "inbox", home / "returns" / "inbox")
    sent = len(pending(home))
    env = {**os.environ, "TRACKER_HOME": str(home), "TRACKER_DATA_DIR": str(data), "PYTHONUNBUFFERED": "1",
           "TRACKER_AS_OF": manifest.environment["TRACKER_AS_OF"], "TRACKER_RETURNS_CHUNK": "1"}

    def register_then_two_more(seen: list[str]) -> bool:  # the intake starts once the register is in
        at = next((i for i, line in enumerate(seen) if "done    organisations" in line), len(seen))
        return len([line for line in seen[at:] if line.startswith("  done")]) >= 3

    output, returncode, took = interrupted_run(env, register_then_two_more)
    assert took < 60
    assert "Traceback" not in output, output
    assert returncode in (1, 130), output
    waiting = {file.reference for file in pending(home)}
    recorded = {ref for (ref,) in query(home, "SELECT submission_ref FROM audit.return_submissions")}
    assert len(waiting) + len(recorded) == sent and not waiting & recorded
    assert recorded and waiting  # stopped part-way: some taken, the rest left for the next run
    archived = {json.loads(p.read_text())["reference"] for p in (home / "returns" / "archive").rglob("*.json")}
    assert archived == recorded
