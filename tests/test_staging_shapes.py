"""A source never read starts empty in the shape a run gives its tables (assets/staging_shapes.py), so one source
whose every file is unreadable on a fresh home does not stop its checks, the marts or the publication."""

from __future__ import annotations

import duckdb
import pytest

from assets.staging_shapes import read_shapes, shapes, source_tables
from tests.test_cli import run


def test_the_shapes_kept_are_the_shapes_a_run_writes(warehouse):
    """Regenerate with `python -m assets.staging_shapes WAREHOUSE` after changing what a source writes."""
    assert read_shapes(warehouse, source_tables(warehouse)) == shapes()
    assert {"staging.pay_organisation_services", "staging.api_catalogue_listings"} <= set(shapes())


@pytest.mark.parametrize("source, folder, table", [
    ("Cross-government API catalogue", "data_sharing/catalogue_versions", "staging.api_catalogue_listings"),
    ("GOV.UK Pay performance data", "pay/snapshots", "staging.pay_organisation_services"),
])
def test_a_source_never_read_on_a_fresh_home_does_not_stop_the_publication(data_copy, tmp_path, source, folder,
                                                                          table):
    for path in (data_copy / folder).iterdir():
        path.write_bytes(b"\x89PNG not this source's format \xff\xfe")
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
