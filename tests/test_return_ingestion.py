"""Ingestion exactly once: the sensor's batches, corrections, duplicates, a file arriving mid-run, and a failed
write."""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import duckdb

from pipelines.sensors import batch_run_key, ingest_returns_job, return_inbox_sensor
from tests.conftest import AS_OF, DATA, everything, ingest, make_resources, query
from tests.returns_helpers import VALID, csv_bytes, row
from tracker.resources import TrackerConfig
from tracker.return_inbox import archive_dir, deliver, inbox_dir

FIRST = csv_bytes(row(pay_services_live="1"))
CORRECTED = csv_bytes(VALID)


def tick(home, cursor=None):
    context = dg.build_sensor_context(cursor=cursor, resources={
        "settings": TrackerConfig(data_dir=str(DATA), home_dir=str(home), as_of=AS_OF)})
    result = return_inbox_sensor(context)
    if isinstance(result, dg.SkipReason):
        return [], context.cursor
    return ([result] if isinstance(result, dg.RunRequest) else list(result)), context.cursor


def files_of(request: dg.RunRequest) -> list[str]:
    return request.run_config["ops"]["department_returns"]["config"]["files"]


def run_requested(home, request: dg.RunRequest):
    """Execute the run the sensor asked for, with its own run config."""
    return ingest(home, files_of(request))


def at(minutes: int) -> dt.datetime:
    return dt.datetime(2026, 1, 20, 9, 0, tzinfo=dt.UTC) + dt.timedelta(minutes=minutes)


def test_one_arrival_seen_on_two_ticks_starts_one_run(returns_home):
    sent = deliver(returns_home, CORRECTED, "q3.csv", "D10", "test", now=at(0))
    runs, cursor = tick(returns_home)
    assert len(runs) == 1 and files_of(runs[0]) == [str(sent.path)] and runs[0].tags["files"] == "1"
    again, cursor = tick(returns_home, cursor)
    assert again == []  # the same arrival: no second run
    assert runs[0].run_key == batch_run_key(json.loads(cursor)["requested"])


def test_the_arrivals_of_one_tick_are_one_run_that_records_each_file_and_publishes_once(returns_home):
    codes = ["D1", "D2", "D1382", "D1383", "D6", "D1380", "D7", "D1381", "D9", "D10"]
    sent = [deliver(returns_home, csv_bytes(row(organisation_code=code)), f"{code}.csv", code, "test", now=at(i))
            for i, code in enumerate(codes)]
    (request,), cursor = tick(returns_home)
    assert files_of(request) == [str(s.path) for s in sent]  # every new file of the tick, oldest first
    assert request.tags["files"] == "10" and request.tags["organisations"] == ",".join(sorted(codes))
    # The tick evaluated again from the same cursor (its update lost) asks for the same run: Dagster starts one.
    (same,), _ = tick(returns_home, None)
    assert same.run_key == request.run_key and files_of(same) == files_of(request)
    assert tick(returns_home, cursor)[0] == []  # and from the new cursor, nothing new

    # a file that lands while the batch runs is not in it
    late = deliver(returns_home, csv_bytes(row(organisation_code="EA73")), "hmcts.csv", "EA73", "test", now=at(30))
    result = dg.materialize(everything(), selection=ingest_returns_job.selection,
                            resources=make_resources(returns_home), run_config=request.run_config)
    assert result.success
    assert query(returns_home, "SELECT count(*), count(DISTINCT submission_ref), count(archived_as) FROM "
                 "audit.return_submissions") == [(10, 10, 10)]
    assert sorted(c for (c,) in query(returns_home, "SELECT organisation_code FROM staging.department_returns")) \
        == sorted(codes)
    assert all(not s.path.exists() and (archive_dir(returns_home) / s.organisation_code / s.path.name).exists()
               for s in sent)
    built = [e.asset_key.to_user_string() for e in result.get_asset_materialization_events()]
    assert built.count("published_snapshot") == 1 and built.count("marts/returns_status") == 1
    assert built.count("audit/return_submissions") == 1  # one materialisation for the batch, ten rows in it

    assert late.path.exists()
    (following,), cursor = tick(returns_home, cursor)
    assert files_of(following) == [str(late.path)] and following.tags["organisations"] == "EA73"
    assert following.run_key != request.run_key


def test_a_batch_is_capped_and_the_rest_wait_for_the_next_tick(returns_home, monkeypatch):
    import pipelines.sensors as sensors

    monkeypatch.setattr(sensors, "MAX_BATCH", 2)
    sent = [deliver(returns_home, csv_bytes(row(organisation_code=code)), f"{code}.csv", code, "test", now=at(i))
            for i, code in enumerate(["D1", "D2", "D6"])]
    (first,), cursor = tick(returns_home)
    assert files_of(first) == [str(sent[0].path), str(sent[1].path)]
    (second,), cursor = tick(returns_home, cursor)
    assert files_of(second) == [str(sent[2].path)]
    assert tick(returns_home, cursor)[0] == []


def test_each_arrival_of_the_same_bytes_is_its_own_and_the_copy_is_a_duplicate(returns_home):
    deliver(returns_home, CORRECTED, "q3.csv", "D10", "test", now=at(0))
    runs, cursor = tick(returns_home)
    deliver(returns_home, CORRECTED, "q3-again.csv", "D10", "test", now=at(5))
    other = deliver(returns_home, csv_bytes(row(organisation_code="EA73")), "ea73.csv", "EA73", "test", now=at(6))
    (more,), cursor = tick(returns_home, cursor)
    # a new arrival each, in one batch: the same bytes again, and another organisation's return
    assert len(files_of(more)) == 2 and more.tags["organisations"] == "D10,EA73"
    assert run_requested(returns_home, runs[0]).success
    # the first run already took the waiting copy: the later run finds it gone, takes the other, and succeeds
    assert run_requested(returns_home, more).success
    statuses = sorted(s for (s,) in query(returns_home, "SELECT status FROM audit.return_submissions"))
    assert statuses == ["accepted", "accepted", "duplicate"]  # the copy was recorded as the same return again
    assert sorted(query(returns_home, "SELECT organisation_code FROM staging.department_returns")) == [
        ("D10",), ("EA73",)]
    assert query(returns_home, "SELECT count(*) FROM audit.return_submissions WHERE submission_ref = ?",
                 [other.reference]) == [(1,)]


def test_a_corrected_file_supersedes_the_earlier_one(returns_home):
    deliver(returns_home, FIRST, "q3.csv", "D10", "test", now=at(0))
    runs, cursor = tick(returns_home)
    assert run_requested(returns_home, runs[0]).success
    assert query(returns_home, "SELECT pay_services_live FROM staging.department_returns") == [(1,)]
    corrected = deliver(returns_home, CORRECTED, "q3-corrected.csv", "D10", "test", now=at(60))
    runs, cursor = tick(returns_home, cursor)
    assert len(runs) == 1  # new bytes, new submission
    assert run_requested(returns_home, runs[0]).success
    assert query(returns_home, "SELECT pay_services_live, submission_ref FROM staging.department_returns") == [
        (8, corrected.reference)]
    history = query(returns_home, "SELECT status FROM audit.return_submissions ORDER BY received_at")
    assert history == [("accepted",), ("accepted",)]  # the earlier one stays in the audit history


def test_an_older_return_arriving_later_does_not_replace_a_newer_one(returns_home):
    newer = deliver(returns_home, CORRECTED, "newer.csv", "D10", "test", now=at(60))
    deliver(returns_home, FIRST, "older.csv", "D10", "test", now=at(0))
    # Processed out of order (the older file was held up): the newer figures stay.
    assert ingest(returns_home, [newer.path]).success
    assert ingest(returns_home).success
    assert query(returns_home, "SELECT submission_ref FROM staging.department_returns") == [(newer.reference,)]


def test_a_file_that_lands_during_a_run_is_not_lost(returns_home):
    deliver(returns_home, CORRECTED, "q3.csv", "D10", "test", now=at(0))
    runs, cursor = tick(returns_home)
    late = deliver(returns_home, csv_bytes(row(organisation_code="EA73")), "hmcts.csv", "EA73", "test", now=at(1))
    assert run_requested(returns_home, runs[0]).success  # the run was for the first file only
    assert late.path.exists()  # still waiting, untouched
    runs, cursor = tick(returns_home, cursor)
    assert len(runs) == 1 and runs[0].tags["organisations"] == "EA73" and files_of(runs[0]) == [str(late.path)]
    assert run_requested(returns_home, runs[0]).success
    assert sorted(query(returns_home, "SELECT organisation_code FROM staging.department_returns")) == [
        ("D10",), ("EA73",)]
    assert not any(inbox_dir(returns_home).rglob("*.csv"))


def test_a_rejected_return_never_touches_the_figures(returns_home):
    deliver(returns_home, CORRECTED, "q3.csv", "D10", "test", now=at(0))
    assert ingest(returns_home).success
    before = query(returns_home, "SELECT * FROM staging.department_returns")
    bad = deliver(returns_home, csv_bytes(row(pay_services_live="99")), "bad.csv", "D10", "test", now=at(30))
    assert ingest(returns_home).success
    assert query(returns_home, "SELECT * FROM staging.department_returns") == before
    assert query(returns_home, "SELECT status FROM audit.return_submissions WHERE submission_ref = ?",
                 [bad.reference]) == [("rejected",)]
    assert query(returns_home, "SELECT column_name, value, row_values->>'pay_services_live' FROM "
                 "quarantine.return_problems WHERE submission_ref = ?", [bad.reference]) == [
        ("pay_services_live", "99", "99")]


def test_a_return_for_another_organisation_is_refused(returns_home):
    sent = deliver(returns_home, CORRECTED, "q3.csv", "EA73", "test")  # EA73 sends D10's figures
    assert ingest(returns_home).success
    assert query(returns_home, "SELECT rule FROM quarantine.return_problems WHERE submission_ref = ?",
                 [sent.reference]) == [("submitter_matches",)]
    assert query(returns_home, "SELECT count(*) FROM staging.department_returns") == [(0,)]


def test_a_failed_write_of_the_figures_is_that_files_rejection_and_the_same_bytes_count_when_sent_again(
        returns_home, monkeypatch):
    import assets.returns as returns

    sent = deliver(returns_home, CORRECTED, "q3.csv", "D10", "test", now=at(0))
    other = deliver(returns_home, csv_bytes(row(organisation_code="EA73")), "hmcts.csv", "EA73", "test", now=at(1))

    real_insert = returns.insert_rows

    def broken(con, table, frame):  # writing D10's figures fails, after the earlier figures were deleted
        if table == returns.RETURNS_TABLE and "D10" in set(frame["organisation_code"]):
            raise OSError("disk full")
        real_insert(con, table, frame)

    monkeypatch.setattr(returns, "insert_rows", broken)
    assert ingest(returns_home).success  # one file's failure is that file's, not the run's
    assert query(returns_home, "SELECT organisation_code FROM staging.department_returns") == [("EA73",)]
    (status, summary), = query(returns_home, "SELECT status, summary FROM audit.return_submissions WHERE "
                                             "submission_ref = ?", [sent.reference])
    assert status == "rejected" and "could not be recorded" in summary and sent.reference in summary
    assert "disk full" not in summary and "OSError" not in summary  # plain words, no Python error
    assert query(returns_home, "SELECT rule FROM quarantine.return_problems WHERE submission_ref = ?",
                 [sent.reference]) == [("could_not_check",)]
    assert query(returns_home, "SELECT status FROM audit.return_submissions WHERE submission_ref = ?",
                 [other.reference]) == [("accepted",)]
    assert not sent.path.exists() and not other.path.exists()
    monkeypatch.undo()
    again = deliver(returns_home, CORRECTED, "q3-again.csv", "D10", "test", now=at(30))
    assert ingest(returns_home).success  # the same bytes, rejected for a reason that was not the file: taken again
    assert query(returns_home, "SELECT status FROM audit.return_submissions WHERE submission_ref = ?",
                 [again.reference]) == [("accepted",)]
    assert query(returns_home, "SELECT submission_ref FROM staging.department_returns WHERE organisation_code = "
                 "'D10'") == [(again.reference,)]


def test_a_warehouse_that_cannot_record_anything_fails_the_run_and_keeps_the_file(returns_home, monkeypatch):
    import assets.returns as returns

    sent = deliver(returns_home, CORRECTED, "q3.csv", "D10", "test")

    def broken(con, table, frame):
        raise OSError("disk full")

    monkeypatch.setattr(returns, "insert_rows", broken)
    assert not ingest(returns_home, raise_on_error=False).success
    for table in ("raw.return_files", "audit.return_submissions", "staging.department_returns"):
        assert query(returns_home, f"SELECT count(*) FROM {table}") == [(0,)], table
    assert sent.path.exists()  # still in the inbox, to be taken again
    monkeypatch.undo()
    assert ingest(returns_home).success
    assert query(returns_home, "SELECT count(*) FROM staging.department_returns") == [(1,)]
    assert not sent.path.exists()
    assert [p.name for p in (archive_dir(returns_home) / "D10").glob("*.csv")] == [sent.path.name]


def test_the_sensor_run_config_fits_the_job():
    """The run config the sensor builds is the one the ingestion job accepts."""
    from pipelines.definitions import defs

    job = defs.resolve_job_def(ingest_returns_job.name)
    config = {"ops": {"department_returns": {"config": {"files": ["/x.csv"]}}}}
    assert dg.validate_run_config(job, config)
    keys = {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
    assert {"staging/department_returns", "marts/returns_status", "published_snapshot"} <= keys
    assert "staging/pay_snapshots" not in keys  # the platform feeds are not re-read for a return
    # judged at the run's own reporting date: the quarters too, not the last full run's (tests/test_backfill.py)
    assert {"staging/run_settings", "staging/reporting_quarters"} <= keys


def test_the_samples_take_every_path(built, warehouse):
    outcomes = dict(warehouse.execute(
        "SELECT file_name || ' @' || strftime(received_at, '%H:%M'), status FROM audit.return_submissions").fetchall())
    assert outcomes == {
        "ILLUSTRATIVE_D10_2025-26_Q2.csv @10:15": "accepted",
        "ILLUSTRATIVE_EA73_2025-26_Q2.csv @14:02": "accepted with warnings",
        "ILLUSTRATIVE_EA199_2025-26_Q2.csv @09:30": "accepted",
        "ILLUSTRATIVE_D10_2025-26_Q3.xlsx @11:00": "accepted",
        "ILLUSTRATIVE_D10_2025-26_Q3.xlsx @11:04": "duplicate",
        "ILLUSTRATIVE_EA73_2025-26_Q3_first.csv @16:40": "accepted",
        "ILLUSTRATIVE_EA73_2025-26_Q3_corrected.csv @09:05": "accepted",
        "ILLUSTRATIVE_EA74_2025-26_Q3.csv @15:20": "accepted",
        "ILLUSTRATIVE_D16_2025-26_Q3.csv @12:00": "rejected",
        "ILLUSTRATIVE_EA199_2025-26_Q3.csv @10:00": "accepted with warnings",
    }
    assert warehouse.execute("SELECT count(*), bool_and(is_illustrative) FROM staging.department_returns"
                           ).fetchone() == (7, True)
    assert warehouse.execute("SELECT pay_services_live FROM staging.department_returns WHERE organisation_code = "
                           "'EA73' AND reporting_quarter = '2025-26 Q3'").fetchone() == (10,)  # the correction
    for path in (DATA / "returns" / "samples").glob("ILLUSTRATIVE_*"):
        content, = warehouse.execute("SELECT content FROM raw.return_files WHERE file_name = ?", [path.name]).fetchone()
        assert bytes(content) == path.read_bytes()


def test_the_sensors_run_rebuilds_the_returns_marts_through_dbt_and_publishes(returns_home):
    """The ingest_returns job as the sensor starts it: ingestion, the dbt models downstream of it (a subset
    of the dbt project), their checks, and a new published snapshot showing the return."""
    deliver(returns_home, CORRECTED, "q3.csv", "D10", "test", now=at(0))
    (request,), _ = tick(returns_home)
    result = dg.materialize(everything(), selection=ingest_returns_job.selection, resources=make_resources(
        returns_home), run_config=request.run_config)
    assert result.success
    built = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"marts/returns_status", "marts/return_adoption", "marts/department_league", "published_snapshot"} <= built
    assert "marts/pay_monthly" not in built  # not downstream of a return: dbt was asked for a subset
    assert any(e.asset_key.to_user_string() == "marts/returns_status" for e in result.get_asset_check_evaluations())
    con = duckdb.connect(str(returns_home / "published" / "tracker.duckdb"), read_only=True)
    status = con.execute("SELECT status FROM marts.returns_status WHERE organisation_code = 'D10' "
                         "AND reporting_quarter = '2025-26 Q3'").fetchall()
    con.close()
    assert status == [("received",)]


def test_values_read_leniently_are_audited_as_read_and_as_understood(returns_home):
    lenient = deliver(returns_home, csv_bytes(row(reporting_quarter="2025/26 Q3", pay_services_in_scope="1,000.00")),
                      "lenient.csv", "D10", "test", now=at(0))
    assert ingest(returns_home).success
    (status, quarter, recorded), = query(returns_home, "SELECT status, reporting_quarter, normalisations FROM "
                                         "audit.return_submissions WHERE submission_ref = ?", [lenient.reference])
    assert status.startswith("accepted") and quarter == "2025-26 Q3"
    read = {(n["column"], n["as_read"], n["as_understood"]) for n in json.loads(recorded)}
    assert ("reporting_quarter", "2025/26 Q3", "2025-26 Q3") in read
    assert ("pay_services_in_scope", "1,000.00", "1000") in read


def test_a_problem_value_is_kept_printable_and_short_where_it_is_shown(returns_home):
    bad = deliver(returns_home, csv_bytes(row(pay_services_live="\x1b[2J" + "9" * 400)), "bad.csv", "D10", "test",
                  now=at(0))
    assert ingest(returns_home).success
    values = [v for (v,) in query(returns_home, "SELECT value FROM quarantine.return_problems WHERE "
                                  "submission_ref = ?", [bad.reference]) if v]
    assert values and all("\x1b" not in v and len(v) < 120 for v in values), values


def test_as_of_ignores_returns_received_later_and_keeps_the_one_they_replace(returns_home):
    first = deliver(returns_home, FIRST, "q3.csv", "D10", "test", now=at(0))  # 20 Jan 2026
    later = deliver(returns_home, CORRECTED, "q3-corrected.csv", "D10", "test",
                    now=dt.datetime(2026, 3, 1, 0, 30, tzinfo=dt.UTC))
    assert ingest(returns_home).success

    def published(as_of):
        result = dg.materialize(everything(), selection=ingest_returns_job.selection,
                                resources=make_resources(returns_home, as_of=as_of))
        assert result.success
        con = duckdb.connect(str(returns_home / "published" / "tracker.duckdb"), read_only=True)
        try:
            in_force = con.execute("SELECT submission_ref FROM marts.return_submissions WHERE is_current").fetchall()
            seen = {r for (r,) in con.execute("SELECT submission_ref FROM marts.return_submissions").fetchall()}
            live = con.execute("SELECT sum(live) FROM marts.return_adoption WHERE level = 'organisation' AND "
                               "organisation_code = 'D10' AND platform = 'GOV.UK Pay'").fetchone()[0]
        finally:
            con.close()
        return in_force, seen, live

    in_force, seen, live = published("2026-01-31")
    assert in_force == [(first.reference,)] and later.reference not in seen and live == 1
    in_force, seen, live = published("2026-03-31")
    assert in_force == [(later.reference,)] and {first.reference, later.reference} <= seen and live == 8


def test_tracker_submit_records_the_operating_system_user_through_to_the_published_mart(returns_home, tmp_path):
    """`tracker submit` as a department runs it, then the ingest_returns job as the sensor starts it: the audit
    record and the published marts.return_submissions row say which operating-system user sent it."""
    import getpass
    import os
    import subprocess
    import sys

    from tests.conftest import PROJECT

    today = dt.date.today().isoformat()  # submit stamps the real time: judge the return on today's date
    sent = tmp_path / "q3.csv"
    sent.write_bytes(CORRECTED)
    env = os.environ | {"TRACKER_HOME": str(returns_home), "TRACKER_AS_OF": today, "USER": "ada.analyst",
                        "LOGNAME": "ada.analyst"}
    result = subprocess.run([sys.executable, "-m", "pipelines.cli", "submit", str(sent), "--organisation", "D10"],
                            capture_output=True, text=True, cwd=PROJECT, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert getpass.getuser() and "Your reference is R-" in result.stdout
    expected = "ada.analyst (operating-system user, tracker submit)"
    (request,), _ = tick(returns_home)
    job = dg.materialize(everything(), selection=ingest_returns_job.selection, resources=make_resources(
        returns_home, as_of=today), run_config=request.run_config)
    assert job.success
    assert query(returns_home, "SELECT channel, sender, on_behalf_reason FROM audit.return_submissions") == [
        ("tracker submit", expected, None)]
    con = duckdb.connect(str(returns_home / "published" / "tracker.duckdb"), read_only=True)
    try:
        published = con.execute("SELECT channel, sender, on_behalf_reason FROM marts.return_submissions").fetchall()
    finally:
        con.close()
    assert published == [("tracker submit", expected, None)]


def test_tracker_submit_says_when_the_operating_system_user_is_unknown(monkeypatch):
    import getpass

    from pipelines import return_commands

    def no_user():
        raise OSError("No username set in the environment")

    monkeypatch.setattr(getpass, "getuser", no_user)
    assert return_commands.command_line_sender() == "unknown operating-system user (tracker submit)"
    monkeypatch.setattr(getpass, "getuser", lambda: "ada\x1b[2J")
    assert return_commands.command_line_sender() == "ada\\x1b[2J (operating-system user, tracker submit)"
