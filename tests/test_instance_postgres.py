"""Dagster's instance on a real PostgreSQL server, shared by the daemon and `tracker`, with one writer always.

The daemon (`dagster-daemon run`, as the production services run it) launches the
run the inbox sensor asks for when returns arrive; while that run holds the
warehouse, `tracker run` starts and must wait for it. Both runs are read back from
PostgreSQL's own tables, and their events show that the two writers never overlapped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import pytest

from pipelines.instance import POSTGRES_URL_VARIABLE, instance_yaml
from tests.conftest import AS_OF, PROJECT, query
from tests.returns_helpers import csv_bytes, row
from tracker.return_inbox import deliver
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


def test_daemon_and_tracker_share_postgres_and_never_write_at_once(postgres, built, tmp_path):
    url = postgres.create_database("dagster_instance")
    home = tmp_path / "home"  # the demo's warehouse and snapshot: the daemon's run has returns to add to them
    home.mkdir()
    shutil.copy(built["home"] / "warehouse.duckdb", home / "warehouse.duckdb")
    shutil.copytree(built["home"] / "published", home / "published")
    env = {**os.environ, "TRACKER_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"), "TRACKER_AS_OF": AS_OF,
           POSTGRES_URL_VARIABLE: url, "TRACKER_RUN_WAIT_SECONDS": "900"}
    status = subprocess.run([sys.executable, "-m", "pipelines.cli", "status"], cwd=PROJECT, env=env,
                            capture_output=True, text=True, timeout=120)  # any command writes the instance file
    assert f"PostgreSQL database dagster_instance on 127.0.0.1:{postgres.port}" in status.stdout, status.stdout
    # Returns waiting in the inbox: the inbox sensor's first tick starts a run for them, which the daemon launches.
    delivered = [deliver(home, csv_bytes(row(organisation_code=code, reporting_quarter=quarter,
                                             one_login_transactions=str(2_600_000 + n))),
                         f"{code}-{quarter}.csv", code, "test").reference
                 for n, (code, quarter) in enumerate((code, quarter) for code in ("D10", "D16")
                                                     for quarter in ("2025-26 Q1", "2025-26 Q2", "2025-26 Q3"))]
    log = tmp_path / "daemon.log"
    with log.open("w") as daemon_output:
        daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"], cwd=PROJECT, env=env,
                                  stdout=daemon_output, stderr=subprocess.STDOUT)
    try:
        holder = wait_for(lambda: lock_path(home).exists() and lock_path(home).read_text().strip(),
                          "the sensor's run to take the warehouse", 300, daemon, log)
        tracker = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "run", "--as-of", AS_OF], cwd=PROJECT,
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        output, _ = tracker.communicate(timeout=900)
        assert tracker.returncode == 0, output
        assert f"Another run is writing the warehouse ({holder}): waiting for it to finish" in output
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)

    recorded = runs(url)  # read back from PostgreSQL's own tables
    sensed = [run for run in recorded if run["tags"].get("dagster/sensor_name") == "return_inbox_sensor"]
    from_cli = [run for run in recorded if f":{tracker.pid}:" in run["tags"].get("tracker/process", "")]
    assert len(sensed) == 1 and len(from_cli) == 1 and len(recorded) == 2, recorded
    assert [sensed[0]["job"], from_cli[0]["job"]] == ["ingest_returns", "refresh_all"]
    assert [sensed[0]["status"], from_cli[0]["status"]] == ["SUCCESS", "SUCCESS"], recorded
    assert f"pid {sensed[0]['tags']['tracker/process'].split(':')[1]} " in holder  # the daemon's run held the lock
    # The daemon's run had finished its last step before `tracker run` started its first: never two writers.
    assert sensed[0]["last_step"] < from_cli[0]["first_step"]
    assert not (home / "dagster" / "history").exists()  # nothing fell back to SQLite files
    references = ", ".join(f"'{reference}'" for reference in delivered)
    found = query(home, f"SELECT count(*) FROM audit.return_submissions WHERE submission_ref IN ({references})")
    assert found[0][0] == len(delivered)  # each return recorded once
