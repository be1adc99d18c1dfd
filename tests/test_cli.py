"""The command-line front door, run as a user runs it: a real process and a real Dagster instance."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import PROJECT

TRACKER = [sys.executable, "-m", "pipelines.cli"]


def run(args, home, **env):
    return subprocess.run(
        TRACKER + args, cwd=PROJECT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "TRACKER_HOME": str(home), **env},
    )


def test_tracker_run_publishes_and_summarises(tmp_path):
    result = run(["run", "--as-of", "2026-01-31"], tmp_path / "home")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "done    published_snapshot" in result.stdout
    assert "GOV.UK Pay: 1,603 live services (2025-12-22)" in result.stdout
    assert "Published snapshot" in result.stdout
    manifest = json.loads((tmp_path / "home" / "published" / "manifest.json").read_text())
    assert manifest["as_of"] == "2026-01-31"
    # the run is recorded in the persistent Dagster instance under TRACKER_HOME
    assert (tmp_path / "home" / "dagster" / "history" / "runs.db").exists()
    status = run(["status"], tmp_path / "home")
    assert status.returncode == 0 and manifest["version"] in status.stdout


def test_tracker_run_reports_a_bad_feed_in_plain_words(tmp_path, data_copy):
    (data_copy / "pay" / "snapshots" / "2026-01-05_bad.json").write_text('{"dateUpdated": "5 January 2026"}')
    result = run(["run"], tmp_path / "home", TRACKER_DATA_DIR=str(data_copy))
    assert result.returncode == 1
    assert "2026-01-05_bad.json" in result.stdout and "has no 'numberOfPayments'" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_bad_as_of_date_is_a_clear_error(tmp_path):
    result = run(["run", "--as-of", "31/01/2026"], tmp_path / "home")
    assert result.returncode == 2
    assert "tracker:" in result.stderr and "Traceback" not in result.stderr


def test_dagster_validates_the_workspace(tmp_path):
    result = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "TRACKER_HOME": str(tmp_path / "home"), "DAGSTER_HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "All code locations passed validation" in result.stderr + result.stdout
