"""Dagster's instance on a real PostgreSQL server, shared by the daemon and `tracker`, with one writer always.

The daemon (`dagster-daemon run`, as the production services run it) launches a
run from the queue; while that run holds the warehouse, `tracker run` starts and
must wait for it; then a return dropped in the inbox makes the inbox sensor start
a run. Every one of them is read back from PostgreSQL itself, and the runs'
own events show that the two writers never overlapped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import pytest

from pipelines.instance import POSTGRES_URL_VARIABLE, instance_yaml
from pipelines.return_commands import deliver_samples
from tests.conftest import AS_OF, DATA, PROJECT, query
from tracker.run_lock import lock_path

BIN = Path(sys.executable).parent


def wait_for(condition, what: str, timeout: float, process: subprocess.Popen, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        assert process.poll() is None, f"the daemon stopped while waiting for {what}:\n{log.read_text()[-3000:]}"
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}:\n{log.read_text()[-3000:]}")


def runs(url: str) -> list[dict]:
    """Every run as PostgreSQL holds it (Dagster's `runs` table), with its tags and step timings."""
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT run_id, pipeline_name, status FROM runs ORDER BY create_timestamp")
        found = [dict(zip(("run_id", "job", "status"), row, strict=True)) for row in cursor.fetchall()]
        for run in found:
            cursor.execute("SELECT key, value FROM run_tags WHERE run_id = %s", (run["run_id"],))
            run["tags"] = dict(cursor.fetchall())
            cursor.execute("SELECT min(timestamp) FILTER (WHERE dagster_event_type = 'STEP_START'), "
                           "max(timestamp) FILTER (WHERE dagster_event_type = 'STEP_SUCCESS') "
                           "FROM event_logs WHERE run_id = %s", (run["run_id"],))
            run["first_step"], run["last_step"] = cursor.fetchone()
    return found


def test_the_instance_file_names_the_variable_never_the_password(monkeypatch, tmp_path):
    from pipelines.instance import storage_description, write_instance_config

    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    monkeypatch.setenv(POSTGRES_URL_VARIABLE, "postgresql://dagster:s3cret-pw@db.internal:6543/runs")
    written = (write_instance_config(tmp_path) / "dagster.yaml").read_text()
    assert f"env: {POSTGRES_URL_VARIABLE}" in written and "s3cret" not in written
    assert storage_description() == "PostgreSQL database runs on db.internal:6543"
    monkeypatch.delenv(POSTGRES_URL_VARIABLE)
    assert "postgres" not in instance_yaml() and "max_concurrent_runs: 1" in instance_yaml()
    assert "run_monitoring:\n  enabled: true" in instance_yaml()


def test_daemon_and_tracker_share_postgres_and_never_write_at_once(postgres, tmp_path):
    url = postgres.create_database("dagster_instance")
    home = tmp_path / "home"
    env = {**os.environ, "TRACKER_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"), "TRACKER_AS_OF": AS_OF,
           POSTGRES_URL_VARIABLE: url, "TRACKER_RUN_WAIT_SECONDS": "900"}
    status = subprocess.run([sys.executable, "-m", "pipelines.cli", "status"], cwd=PROJECT, env=env,
                            capture_output=True, text=True, timeout=120)  # any command writes the instance file
    assert f"PostgreSQL database dagster_instance on 127.0.0.1:{postgres.port}" in status.stdout, status.stdout
    log = tmp_path / "daemon.log"
    with log.open("w") as daemon_output:
        daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"], cwd=PROJECT, env=env,
                                  stdout=daemon_output, stderr=subprocess.STDOUT)
    try:
        # A run the daemon launches: submitted to the queue, as the UI or a schedule does.
        subprocess.run([str(BIN / "dagster"), "job", "launch", "-j", "refresh_all", "-w", "workspace.yaml"],
                       cwd=PROJECT, env=env, check=True, capture_output=True, timeout=180)
        holder = wait_for(lambda: lock_path(home).exists() and lock_path(home).read_text().strip(),
                          "the daemon's run to take the warehouse", 300, daemon, log)
        tracker = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "run", "--as-of", AS_OF], cwd=PROJECT,
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        output, _ = tracker.communicate(timeout=900)
        assert tracker.returncode == 0, output
        assert f"Another run is writing the warehouse ({holder}): waiting for it to finish" in output

        # A run a sensor starts: the illustrative sample returns arrive in the inbox.
        delivered = deliver_samples(home, DATA)
        assert delivered
        wait_for(lambda: any(run["tags"].get("dagster/sensor_name") == "return_inbox_sensor"
                             and run["status"] in ("SUCCESS", "FAILURE") for run in runs(url)),
                 "the inbox sensor's run to finish", 420, daemon, log)
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)

    recorded = runs(url)
    refreshes = [run for run in recorded if run["job"] == "refresh_all"]
    from_cli = [run for run in refreshes if f":{tracker.pid}:" in run["tags"].get("tracker/process", "")]
    launched = [run for run in refreshes if run not in from_cli]
    sensed = [run for run in recorded if run["tags"].get("dagster/sensor_name") == "return_inbox_sensor"]
    assert len(launched) == 1 and len(from_cli) == 1 and len(sensed) == 1, recorded
    assert [run["status"] for run in (*launched, *from_cli, *sensed)] == ["SUCCESS"] * 3, recorded
    assert f"pid {launched[0]['tags']['tracker/process'].split(':')[1]} " in holder  # the daemon's run held the lock
    # The daemon's run had finished its last step before `tracker run` started its first: never two writers.
    assert launched[0]["last_step"] < from_cli[0]["first_step"]
    assert not (home / "dagster" / "history").exists()  # nothing fell back to SQLite files
    recorded_returns = query(home, "SELECT count(*), count(DISTINCT submission_ref) FROM audit.return_submissions")
    assert recorded_returns[0] == (len(delivered), len(delivered))  # each sample recorded once, by the sensor's run
