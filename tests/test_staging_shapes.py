"""A source never read starts empty in the shape a run gives its tables (assets/staging_shapes.py), so one source
whose every file is unreadable on a fresh home does not stop its checks, the marts or the publication."""

from __future__ import annotations

import duckdb
import pytest

from assets.staging_shapes import read_shapes, shapes, source_tables
from tests.test_cli import run
from tracker.return_inbox import deliver, pending

UNREADABLE = b"\x89PNG not this source's format \xff\xfe"


def test_the_shapes_kept_are_the_shapes_a_run_writes(warehouse):
    """Regenerate with `python -m assets.staging_shapes WAREHOUSE` after changing what a source writes."""
    assert read_shapes(warehouse, source_tables(warehouse)) == shapes()
    assert {"staging.pay_organisation_services", "staging.api_catalogue_listings"} <= set(shapes())
    # every column has a type of its own, not one the data left unknown (DuckDB's "NULL": all values missing),
    # which an empty table is given and the marts' typed SQL could not read
    untyped = [(t, c) for t, shape in shapes().items() for c, kind in shape["columns"] if kind.strip('"') == "NULL"]
    assert untyped == []


@pytest.mark.parametrize("source, folder, table", [
    ("Cross-government API catalogue", "data_sharing/catalogue_versions", "staging.api_catalogue_listings"),
    ("GOV.UK Pay performance data", "pay/snapshots", "staging.pay_organisation_services"),
])
def test_a_source_never_read_on_a_fresh_home_does_not_stop_the_publication(data_copy, tmp_path, source, folder,
                                                                          table):
    for path in (data_copy / folder).iterdir():
        path.write_bytes(UNREADABLE)
    home = tmp_path / "home"
    result = run(["run", "--as-of", "2026-01-31"], home, TRACKER_DATA_DIR=str(data_copy))
    said = result.stdout + result.stderr
    assert result.returncode == 3, said  # published, a source not read in full
    assert "Published snapshot" in said and "Traceback" not in said
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
        assert read_shapes(con, [table]) == {table: shapes()[table]}
    with duckdb.connect(str(home / "published" / "tracker.duckdb"), read_only=True) as con:
        status = dict(con.execute("SELECT name, feed_status FROM marts.sources").fetchall())
    assert status[source] != "read in full", status


def test_the_register_and_the_sources_it_feeds_never_read_on_a_fresh_home_do_not_stop_the_publication(data_copy,
                                                                                                   tmp_path):
    """The organisation register, One Login and Verify unreadable, and the skills figures' department-names file
    too: the rest publishes; a target on a measure with no figures says 'no data' (not a broken rule); the skills
    figures count under the names as published; a return waiting in the inbox stays there, since no sender can be
    checked without the register, rather than being refused as unknown."""
    for folder in ("organisations", "one_login", "verify"):
        for path in (data_copy / folder).iterdir():
            path.write_bytes(UNREADABLE)
    (data_copy / "skills" / "department_names.yaml").write_text("groupings: [a list, not names]\n")
    home = tmp_path / "home"
    sample = data_copy / "returns" / "samples" / "ILLUSTRATIVE_D10_2025-26_Q2.csv"
    deliver(home, sample.read_bytes(), sample.name, "D10", "cli")
    result = run(["run", "--as-of", "2026-01-31"], home, TRACKER_DATA_DIR=str(data_copy))
    said = result.stdout + result.stderr
    assert result.returncode == 3, said  # published, sources not read in full
    assert "Published snapshot" in said and "Traceback" not in said
    assert "data/skills/department_names.yaml: groupings must be sections of name: value, not a list" in said
    with duckdb.connect(str(home / "published" / "tracker.duckdb"), read_only=True) as con:
        status = dict(con.execute("SELECT source, feed_status FROM marts.sources").fetchall())
        targets = dict(con.execute("SELECT tracked_by, status FROM marts.target_progress WHERE tracked_by IN "
                                   "('one_login_services_onboarded', 'verify_accounts_cumulative')").fetchall())
        skills = con.execute("SELECT count(*), count(department_code), count(*) FILTER (WHERE department_name = "
                             "name_as_published) FROM marts.digital_capacity").fetchone()
        named = con.execute("SELECT count(*) FROM marts.feed_problems WHERE source = 'skills' "
                            "AND problem LIKE '%department_names.yaml%'").fetchone()
    assert {status[s] for s in ("organisations", "one_login", "verify")} == {"kept at last good figures"}, status
    assert status["skills"] == "read with problems", status
    assert targets == {"one_login_services_onboarded": "no data", "verify_accounts_cumulative": "no data"}
    assert skills[0] > 0 and skills[1] == 0 and skills[2] == skills[0], skills
    assert named == (1,)
    waiting = pending(home)
    assert [(f.organisation_code, f.original_name) for f in waiting] == [("D10", sample.name)]
