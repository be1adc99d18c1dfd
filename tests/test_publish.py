"""Publishing swaps a complete snapshot in; a reader holding the old one is never disturbed."""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb

from assets.publish import SNAPSHOT_NAME, publish_snapshot


def test_reader_keeps_old_snapshot_while_new_one_is_swapped_in(built, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(built["home"] / "warehouse.duckdb", warehouse)
    published = tmp_path / "published"
    con = duckdb.connect(str(warehouse))
    try:
        first = publish_snapshot(con, published, dt.date(2026, 1, 31))
        reader = duckdb.connect(str(published / SNAPSHOT_NAME), read_only=True)
        assert reader.execute("SELECT version FROM meta.snapshot").fetchone()[0] == first["version"]
        second = publish_snapshot(con, published, dt.date(2026, 2, 28))
    finally:
        con.close()
    assert second["version"] != first["version"]
    # the open reader still sees the complete old snapshot
    assert reader.execute("SELECT version FROM meta.snapshot").fetchone()[0] == first["version"]
    assert reader.execute("SELECT count(*) FROM marts.target_progress").fetchone()[0] > 0
    reader.close()
    fresh = duckdb.connect(str(published / SNAPSHOT_NAME), read_only=True)
    assert fresh.execute("SELECT version, as_of FROM meta.snapshot").fetchone() == (
        second["version"], dt.date(2026, 2, 28))
    fresh.close()
    assert sorted(p.name for p in published.iterdir()) == ["manifest.json", SNAPSHOT_NAME]
