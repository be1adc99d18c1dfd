"""A run whose process was killed is marked failed, and only such a run: never a live one, never another host's."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid

import dagster as dg
import pytest

from pipelines.run_health import fail_killed_runs
from tracker.dead_runs import PROCESS_TAG, fail_runs_whose_process_died, process_gone, process_identity


@pytest.fixture()
def instance(tmp_path):
    with dg.instance_for_test(temp_dir=str(tmp_path)) as test_instance:
        yield test_instance


def dead_process_identity() -> str:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    identity = process_identity(child.pid)
    child.kill()
    child.wait()
    return identity


def add_run(instance, status: dg.DagsterRunStatus, identity: str | None) -> str:
    run = dg.DagsterRun(job_name="refresh_all", run_id=str(uuid.uuid4()), status=status,
                        tags={PROCESS_TAG: identity} if identity else {})
    instance.add_run(run)
    return run.run_id


def test_a_process_is_gone_only_when_certainly_gone():
    assert not process_gone(process_identity())  # this one
    assert process_gone(dead_process_identity())
    host, pid, ticks = process_identity().split(":")
    assert process_gone(f"{host}:{pid}:{int(ticks) + 1}")  # same pid, another start time: the pid was reused
    assert not process_gone(f"another-{host}:{pid}:1")  # another machine: not ours to judge
    assert not process_gone(f"{socket.gethostname()}:not-a-pid:")


def test_only_runs_whose_process_died_are_marked_failed_with_a_plain_reason(instance):
    dead = dead_process_identity()
    killed = add_run(instance, dg.DagsterRunStatus.STARTED, dead)
    killed_starting = add_run(instance, dg.DagsterRunStatus.STARTING, dead)
    alive = add_run(instance, dg.DagsterRunStatus.STARTED, process_identity())
    elsewhere = add_run(instance, dg.DagsterRunStatus.STARTED, "another-host:123:456")
    untagged = add_run(instance, dg.DagsterRunStatus.STARTED, None)
    finished = add_run(instance, dg.DagsterRunStatus.SUCCESS, dead)
    this_run = add_run(instance, dg.DagsterRunStatus.STARTED, dead)

    assert sorted(fail_runs_whose_process_died(instance, except_run=this_run)) == sorted([killed, killed_starting])
    status = {run_id: instance.get_run_by_id(run_id).status
              for run_id in (killed, killed_starting, alive, elsewhere, untagged, finished, this_run)}
    assert status == {killed: dg.DagsterRunStatus.FAILURE, killed_starting: dg.DagsterRunStatus.FAILURE,
                      alive: dg.DagsterRunStatus.STARTED, elsewhere: dg.DagsterRunStatus.STARTED,
                      untagged: dg.DagsterRunStatus.STARTED, finished: dg.DagsterRunStatus.SUCCESS,
                      this_run: dg.DagsterRunStatus.STARTED}
    failure = instance.get_records_for_run(killed, of_type=dg.DagsterEventType.RUN_FAILURE).records
    message = failure[0].event_log_entry.dagster_event.message
    assert f"pid {dead.split(':')[1]}" in message and "still in the inbox" in message and "Traceback" not in message
    assert fail_runs_whose_process_died(instance) == [this_run]  # once found, never again


def test_the_daemon_sensor_finds_killed_runs_and_says_so(instance):
    killed = add_run(instance, dg.DagsterRunStatus.STARTED, dead_process_identity())
    result = fail_killed_runs(dg.build_sensor_context(instance=instance))
    assert killed[:8] in result.skip_message
    assert instance.get_run_by_id(killed).status == dg.DagsterRunStatus.FAILURE
    assert "No run" in fail_killed_runs(dg.build_sensor_context(instance=instance)).skip_message


def test_a_run_through_the_warehouse_resource_records_its_process_and_fails_the_dead(instance, tmp_path):
    """Every run that takes the warehouse names its process first, then clears the dead ones."""
    from assets.declarations import declarations
    from tests.conftest import make_resources
    from tracker.resources import TrackerWarehouse

    killed = add_run(instance, dg.DagsterRunStatus.STARTED, dead_process_identity())
    home = tmp_path / "home"
    resources = make_resources(home) | {
        "warehouse": TrackerWarehouse(database=str(home / "warehouse.duckdb"), lock_home=str(home))}
    result = dg.materialize([declarations], resources=resources, instance=instance)
    assert result.success
    assert instance.get_run_by_id(result.run_id).tags[PROCESS_TAG] == process_identity(os.getpid())
    assert instance.get_run_by_id(killed).status == dg.DagsterRunStatus.FAILURE
