"""Publishing swaps a complete snapshot in; a reader holding the old one is never disturbed."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import duckdb
import pytest

from assets.publish import SNAPSHOT_NAME, publish_snapshot


@pytest.fixture()
def warehouse(built, tmp_path):
    """A write connection to a private copy of the built warehouse, and the folder to publish into."""
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(built["home"] / "warehouse.duckdb", copy)
    con = duckdb.connect(str(copy))
    yield con, tmp_path / "published"
    con.close()


def test_reader_keeps_old_snapshot_while_new_one_is_swapped_in(warehouse):
    con, published = warehouse
    first = publish_snapshot(con, published, dt.date(2026, 1, 31))
    reader = duckdb.connect(str(published / SNAPSHOT_NAME), read_only=True)
    assert reader.execute("SELECT version FROM meta.snapshot").fetchone()[0] == first["version"]
    second = publish_snapshot(con, published, dt.date(2026, 2, 28))
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


class Stopped(BaseException):
    """The process stopping where it stands."""


def _published(published) -> tuple[str, str]:
    con = duckdb.connect(str(published / SNAPSHOT_NAME), read_only=True)
    try:
        return con.execute("SELECT version FROM meta.snapshot").fetchone()[0], json.loads(
            (published / "manifest.json").read_text())["version"]
    finally:
        con.close()


@pytest.mark.parametrize("stop", ["building", "before the swap"])
def test_a_publication_stopped_part_way_leaves_the_last_one_whole_and_the_next_clears_its_leftovers(
        warehouse, monkeypatch, stop):
    """Killed while building the new file or just before swapping it in, a publication leaves the last complete
    snapshot and its manifest as they were; what it left beside them is removed by the next publication."""
    import assets.publish

    con, published = warehouse
    first = publish_snapshot(con, published, dt.date(2026, 1, 31))

    def halt(*args, **kwargs):
        raise Stopped(stop)

    with monkeypatch.context() as patched:
        if stop == "building":
            patched.setattr(assets.publish, "column_descriptions", halt)
        else:
            patched.setattr(assets.publish.os, "replace", halt)
        with pytest.raises(Stopped):
            publish_snapshot(con, published, dt.date(2026, 2, 28))
    assert _published(published) == (first["version"], first["version"])
    assert [p.name for p in published.iterdir() if p.name.startswith(".")], "nothing was left to clear"
    second = publish_snapshot(con, published, dt.date(2026, 2, 28))
    assert _published(published) == (second["version"], second["version"])
    assert sorted(p.name for p in published.iterdir()) == ["manifest.json", SNAPSHOT_NAME]
