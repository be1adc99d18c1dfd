"""The command-line front door, run as a user runs it: a real process and a real Dagster instance."""

from __future__ import annotations

import datetime as dt
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


def test_one_unreadable_file_degrades_its_source_only(tmp_path, data_copy):
    """A truly unreadable Forms file: every other source publishes, the file is quarantined and named in the
    published snapshot, Forms keeps its earlier figures, and `tracker run` exits non-zero naming the source.
    The same run shows the ordinary path too (one `tracker run` is half a minute of CI): it summarises, publishes,
    records itself in the home's Dagster instance, and `tracker status` names the published version."""
    import duckdb

    (data_copy / "forms" / "snapshots" / "2026-01-05_0badf11e.yml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    home = tmp_path / "home"
    result = run(["run", "--as-of", "2026-01-31"], home, TRACKER_DATA_DIR=str(data_copy))
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "GOV.UK Pay: 1,603 live services (2025-12-22)" in result.stdout  # the other sources published
    assert "GOV.UK Forms: 344 live forms (2025-12-29)" in result.stdout  # Forms keeps its earlier figures
    assert "could not be read in full" in result.stdout
    assert "GOV.UK Forms performance metrics: 2026-01-05_0badf11e.yml" in result.stdout
    con = duckdb.connect(str(home / "published" / "tracker.duckdb"), read_only=True)
    try:
        (source, file_name, problem), = con.execute(
            "SELECT source, file_name, problem FROM marts.feed_problems").fetchall()
        status = dict(con.execute("SELECT source, feed_status FROM marts.sources").fetchall())
        check = con.execute("SELECT outcome FROM meta.check_results "
                            "WHERE check_name = 'forms_feed_readable'").fetchall()
    finally:
        con.close()
    assert (source, file_name) == ("forms", "2026-01-05_0badf11e.yml") and "not valid YAML" in problem
    assert status["forms"] == "files left out" and status["pay"] == "read in full"
    assert check == [("failed",)]
    # the run published and is recorded in the persistent Dagster instance under TRACKER_HOME
    assert "done    published_snapshot" in result.stdout and "Published snapshot" in result.stdout
    manifest = json.loads((home / "published" / "manifest.json").read_text())
    assert manifest["as_of"] == "2026-01-31"
    assert (home / "dagster" / "history" / "runs.db").exists()
    shown = run(["status"], home)
    assert shown.returncode == 0 and manifest["version"] in shown.stdout


def test_bad_as_of_date_is_a_clear_error(tmp_path):
    result = run(["run", "--as-of", "31/01/2026"], tmp_path / "home")
    assert result.returncode == 2
    assert "tracker:" in result.stderr and "Traceback" not in result.stderr
    # a day to come: nothing is published for it yet, and forecasts judged then would be for days already past
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    for said, result in ((f"--as-of {tomorrow} is after today", run(["run", "--as-of", tomorrow], tmp_path / "home")),
                         (f"TRACKER_AS_OF is {tomorrow}, which is after today",
                          run(["run"], tmp_path / "home", TRACKER_AS_OF=tomorrow))):
        assert result.returncode == 2 and said in result.stderr, result.stderr
        assert "choose today or earlier" in result.stderr and not (tmp_path / "home").exists()


def test_bad_settings_in_the_environment_are_named_in_words(tmp_path):
    """A setting that cannot be used is refused before anything starts, naming the variable, by every command that
    reads it: validate used to blame the file, and run failed asset by asset."""
    sample = str(PROJECT / "data" / "returns" / "samples" / "ILLUSTRATIVE_EA74_2025-26_Q3.csv")
    for args in (["validate", sample], ["run"], ["status"]):
        result = run(args, tmp_path / "home", TRACKER_AS_OF="31/01/2026")
        assert result.returncode == 2, (args, result.stdout + result.stderr)
        assert "TRACKER_AS_OF is '31/01/2026', which is not a date" in result.stderr, args
        assert "Traceback" not in result.stdout + result.stderr and "could not check this file" not in result.stdout
    for wait in ("abc", "-5", "nan"):
        result = run(["run", "--as-of", "2026-01-31"], tmp_path / "home", TRACKER_RUN_WAIT_SECONDS=wait)
        assert result.returncode == 2 and f"TRACKER_RUN_WAIT_SECONDS is '{wait}'" in result.stderr, wait
        assert "Traceback" not in result.stdout + result.stderr


def test_paths_and_ports_that_cannot_be_used_are_said_in_words(tmp_path):
    """What the operating system refuses (a file where a folder is wanted, a folder that cannot be made, a home
    that cannot be reached) and a port no server can have: one plain line each, never a traceback."""
    taken = tmp_path / "taken.csv"
    taken.write_text("x")
    cases = [
        (["template", "--out", str(taken)], {}, 1, f"cannot use {taken}: File exists. Name a folder."),
        (["template", "--out", "/proc/no-such-folder"], {}, 1, "cannot use /proc/no-such-folder"),
        (["status"], {"TRACKER_HOME": "/proc/no-such-home"}, 1, "cannot use /proc/no-such-home"),
        (["dashboard", "--port", "99999"], {}, 2, "'99999' is not a port"),
        (["demo", "--port", "http"], {}, 2, "'http' is not a port"),
    ]
    for args, env, code, said in cases:
        result = run(args, tmp_path / "home", **env)
        assert result.returncode == code, (args, result.stdout + result.stderr)
        assert said in result.stderr and "Traceback" not in result.stdout + result.stderr, (args, result.stderr)


def test_the_dashboard_says_its_port_is_taken_before_announcing_itself(tmp_path):
    import socket

    snapshot = tmp_path / "home" / "published" / "tracker.duckdb"  # only its presence is looked at before serving
    snapshot.parent.mkdir(parents=True)
    snapshot.write_bytes(b"")
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = run(["dashboard", "--port", str(port)], tmp_path / "home")
    assert result.returncode == 1 and f"port {port} on 127.0.0.1 is in use" in result.stderr
    assert "The dashboard is at" not in result.stdout


def test_dagster_validates_the_workspace(tmp_path):
    result = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "TRACKER_HOME": str(tmp_path / "home"), "DAGSTER_HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "All code locations passed validation" in result.stderr + result.stdout


def test_the_demo_reports_a_month_after_the_quarter_its_data_ends(tmp_path):
    import datetime as dt

    from pipelines.cli import demo_as_of
    from tests.conftest import DATA

    assert demo_as_of(DATA) == dt.date(2026, 1, 31)  # the shipped archives end in December 2025
    for last, expected in [("2026-02-15", "2026-04-30"), ("2026-03-31", "2026-04-30"), ("2026-10-01", "2027-01-31")]:
        folder = tmp_path / last / "pay" / "snapshots"
        folder.mkdir(parents=True)
        (folder / f"{last}_abcdef12.json").write_text("{}")
        assert demo_as_of(tmp_path / last) == dt.date.fromisoformat(expected)


def test_ctrl_c_during_a_run_says_what_happened_and_prints_no_traceback(tmp_path):
    """Ctrl-C reaches every process of the terminal's group. Dagster's capture of a run's standard output used to
    start a Python helper there that died of it with a traceback; the instance now captures nothing (a run's
    messages are in its event log), so the person sees only the run's own summary."""
    from tests.conftest import interrupted_run

    output, returncode, took = interrupted_run(  # interrupted once the steps are under way
        {**os.environ, "TRACKER_HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1"},
        lambda seen: seen[-1].startswith("  done"))
    assert took < 60
    assert "Traceback" not in output, output
    assert returncode in (1, 130), output
    assert "The run did not complete" in output or "tracker: stopped." in output, output
    instance_file = (tmp_path / "home" / "dagster" / "dagster.yaml").read_text(encoding="utf-8")
    assert "NoOpComputeLogManager" in instance_file
