"""A run costs what is new: the raw store takes only new bytes, and Pay parses each snapshot once (issue 17).

The cache must never change a figure: the tables built from kept parses equal those built by parsing every
file again, and equal what the parser says of each current version.
"""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import pytest

import assets.pay as pay
from assets.pay import PARSED_VERSIONS, PayParseCache, build_pay_tables
from assets.staging import FeedReader, _parse_listed, _write_and_gate
from tracker.pay_snapshots import parse_pay_file, parse_pay_snapshot
from tracker.raw_store import RawStoreError
from tracker.resources import TrackerConfig
from tracker.versions import VERSIONS_FILE
from tracker.warehouse import (
    SourceFile,
    ensure_schemas,
    listed_files,
    load_files,
    raw_files_table,
    store_raw_files,
    table_columns,
)

DATA = Path(__file__).resolve().parent.parent / "data"
SNAPSHOTS = sorted((DATA / "pay" / "snapshots").glob("*.json"))
VERSIONS = DATA / "pay" / VERSIONS_FILE
SETTINGS = TrackerConfig(data_dir=str(DATA), home_dir="unused", as_of="2026-03-31")
LOG = logging.getLogger("test")


def _files(paths: list[Path]) -> list[SourceFile]:
    return [SourceFile(p, p.read_bytes()) for p in paths]


class CountingReader:
    """Pay's reader, counting the files it is asked to parse."""

    def __init__(self, cache=None) -> None:
        self.parsed: list[str] = []

        def parse(file):
            self.parsed.append(file.name)
            return parse_pay_file(file)

        self.reader = FeedReader(parse=parse, assemble=build_pay_tables, cache=cache)


def _stage(con, counting: CountingReader, as_of: str = SETTINGS.as_of) -> tuple[dict, list]:
    settings = SETTINGS.model_copy(update={"as_of": as_of})
    parsed, problems, _surprised = _parse_listed(con, "pay", counting.reader, LOG, listed_files(con, "pay"))
    _write_and_gate(con, counting.reader.assemble(parsed, settings), [], settings.as_of_date(), parsed)
    return parsed, problems


def _table(con, name: str) -> list[tuple]:
    return sorted(con.execute(f"SELECT * FROM {name}").fetchall(), key=repr)


# --- the raw store ---------------------------------------------------------------------------------------------


def test_the_raw_store_takes_only_new_bytes_and_keeps_every_file(con):
    first = _files(SNAPSHOTS[:10])
    assert store_raw_files(con, "pay", first, origin="data/pay") == 10
    assert store_raw_files(con, "pay", first, origin="data/pay") == 0  # nothing new: nothing written
    changed = SourceFile(SNAPSHOTS[0], SNAPSHOTS[0].read_bytes() + b" ")
    later = [changed, *first[1:5], *_files(SNAPSHOTS[10:12])]  # one changed, five gone, two new
    assert store_raw_files(con, "pay", later, origin="data/pay") == 3
    rows = con.execute(f"SELECT file_name, sha256, in_latest_listing FROM {raw_files_table('pay')}").fetchall()
    assert len(rows) == 13  # nothing is ever deleted: the first bytes of the changed file are kept too
    listed = {(f.name, f.sha256) for f in listed_files(con, "pay")}
    assert listed == {(f.name, f.sha256) for f in later}
    assert {(n, s) for n, s, flag in rows if flag} == listed
    assert store_raw_files(con, "pay", first, origin="data/pay") == 0  # the old listing back: flags only
    assert {(f.name, f.sha256) for f in listed_files(con, "pay")} == {(f.name, f.sha256) for f in first}


def test_the_same_file_listed_twice_is_stored_once(con):
    files = _files(SNAPSHOTS[:2])
    assert store_raw_files(con, "pay", [*files, *files], origin="data/pay") == 2


def test_an_empty_listing_keeps_the_files_and_lists_none(con):
    store_raw_files(con, "pay", _files(SNAPSHOTS[:3]), origin="data/pay")
    assert store_raw_files(con, "pay", [], origin="data/pay") == 0
    assert listed_files(con, "pay") == []
    assert con.execute(f"SELECT count(*) FROM {raw_files_table('pay')}").fetchone()[0] == 3


# --- Pay's parse cache -----------------------------------------------------------------------------------------


def test_each_snapshot_is_parsed_once_and_a_new_one_alone(con):
    store_raw_files(con, "pay", _files([*SNAPSHOTS[:-1], VERSIONS]), origin="data/pay")
    cache = PayParseCache()
    cold = CountingReader(cache)
    _stage(con, cold)
    assert len(cold.parsed) == len(SNAPSHOTS)  # every snapshot and the list of versions
    warm = CountingReader(cache)
    _stage(con, warm)
    assert warm.parsed == [VERSIONS_FILE]  # read whole every time: it changes with every new version
    store_raw_files(con, "pay", _files([*SNAPSHOTS, VERSIONS]), origin="data/pay")
    one_more = CountingReader(cache)
    _stage(con, one_more)
    assert sorted(one_more.parsed) == sorted([SNAPSHOTS[-1].name, VERSIONS_FILE])


def test_tables_from_kept_parses_equal_a_parse_of_everything(con, tmp_path):
    store_raw_files(con, "pay", _files([*SNAPSHOTS, VERSIONS]), origin="data/pay")
    cache = PayParseCache()
    _stage(con, CountingReader(cache))
    cold = {t: _table(con, t) for t in ("staging.pay_snapshots", "staging.pay_organisation_services",
                                        "staging.pay_sector_services")}
    _stage(con, CountingReader(cache))  # everything from the cache now
    warm = {t: _table(con, t) for t in cold}
    assert warm == cold
    assert all(len(rows) > 0 for rows in warm.values())


def test_organisation_counts_are_the_parsers_for_each_current_version(con):
    store_raw_files(con, "pay", _files([*SNAPSHOTS, VERSIONS]), origin="data/pay")
    _stage(con, CountingReader(PayParseCache()))
    current = con.execute("SELECT file_name FROM staging.pay_snapshots WHERE is_current_version").fetchall()
    expected = set()
    for (name,) in current:
        parsed = parse_pay_snapshot(SourceFile(DATA / "pay" / "snapshots" / name,
                                               (DATA / "pay" / "snapshots" / name).read_bytes()))
        expected |= {(parsed["date_updated"], row["name"], row["live_services"])
                     for row in parsed["_by_org"].to_pylist()}
    rows = con.execute("SELECT date_updated, organisation_name, live_services "
                       "FROM staging.pay_organisation_services").fetchall()
    assert len(rows) == len(expected)  # names differing only by spaces stay two rows, as published
    assert set(rows) == expected


def test_changed_parsing_code_parses_every_file_again(con, monkeypatch):
    store_raw_files(con, "pay", _files([*SNAPSHOTS[:5], VERSIONS]), origin="data/pay")
    _stage(con, CountingReader(PayParseCache()))
    changed = PayParseCache()
    monkeypatch.setattr(changed, "fingerprint", "another version of the code")
    again = CountingReader(changed)
    _stage(con, again)
    assert len(again.parsed) == 6
    # the older parses are replaced, not kept beside the new ones
    assert con.execute(f"SELECT count(*), count(DISTINCT parser) FROM {PARSED_VERSIONS}").fetchone() == (5, 1)
    counts = con.execute("SELECT count(*) FROM parsed.pay_organisation_counts").fetchone()[0]
    assert counts == sum(len(parse_pay_snapshot(f)["_by_org"]) for f in _files(SNAPSHOTS[:5]))


def test_an_unreadable_snapshot_is_named_every_run_and_parsed_once(con):
    broken = SourceFile(Path("2026-04-06_deadbeef.json"), b'{"dateUpdated": "6 April 2026"}')  # no services
    store_raw_files(con, "pay", [*_files([*SNAPSHOTS[:3], VERSIONS]), broken], origin="data/pay")
    cache = PayParseCache()
    for parsed_now in (5, 1):
        counting = CountingReader(cache)
        parsed, problems = _stage(con, counting)
        assert len(counting.parsed) == parsed_now
        assert [(p.file_name, p.sha256) for p in problems] == [(broken.name, broken.sha256)]
        assert "numberOfServices" in problems[0].problem
        assert broken.name not in parsed


def test_a_parse_is_kept_whole_or_not_at_all(con, monkeypatch):
    store_raw_files(con, "pay", _files([*SNAPSHOTS[:3], VERSIONS]), origin="data/pay")
    cache = PayParseCache()
    cache._ensure(con)
    stacked = pay._stacked_counts

    def sectors_cannot_be_written(by_sha, part):  # after the versions, their names and the organisation counts
        if part == "_by_sector":
            raise duckdb.IOException("No space left on device")
        return stacked(by_sha, part)

    monkeypatch.setattr(pay, "_stacked_counts", sectors_cannot_be_written)
    with pytest.raises(duckdb.IOException):
        _stage(con, CountingReader(cache))
    monkeypatch.undo()
    assert con.execute(f"SELECT count(*) FROM {PARSED_VERSIONS}").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM parsed.pay_organisation_counts").fetchone()[0] == 0
    assert con.execute(f"SELECT count(*) FROM {pay.PARSED_NAMES}").fetchone()[0] == 0
    again = CountingReader(cache)
    _stage(con, again)
    assert len(again.parsed) == 4


# --- files read from disk one at a time, their bytes kept beside the warehouse ---------------------------------


def test_files_on_disk_are_kept_byte_for_byte_beside_the_warehouse(con, tmp_path):
    from assets.raw import open_files

    files, unopened = open_files(SNAPSHOTS[:10])
    assert unopened == [] and all(f.size == f.path.stat().st_size for f in files)
    assert store_raw_files(con, "pay", files, origin="data/pay") == 10
    assert "content" not in {c for (c, *_) in con.execute(f"DESCRIBE {raw_files_table('pay')}").fetchall()}
    kept = {f.sha256: (tmp_path / "raw" / "pay" / f.sha256).read_bytes() for f in files}
    assert kept == {f.sha256: f.path.read_bytes() for f in files}
    back = {f.name: f.content for f in load_files(con, "pay", listed_files(con, "pay"))}
    assert back == {p.name: p.read_bytes() for p in SNAPSHOTS[:10]}


def test_adding_a_file_writes_only_that_file(con, tmp_path):
    store_raw_files(con, "pay", _files(SNAPSHOTS[:5]), origin="data/pay")
    store = tmp_path / "raw" / "pay"
    before = {p.name: p.stat().st_mtime_ns for p in store.iterdir()}
    assert store_raw_files(con, "pay", _files(SNAPSHOTS[:6]), origin="data/pay") == 1
    after = {p.name: p.stat().st_mtime_ns for p in store.iterdir()}
    assert set(after) - set(before) == {SourceFile(SNAPSHOTS[5], SNAPSHOTS[5].read_bytes()).sha256}
    assert {n: after[n] for n in before} == before
    assert not [p for p in store.iterdir() if p.name.startswith(".")]  # no write left half-done


def test_a_warehouse_that_kept_bytes_in_its_table_moves_them_out_and_loses_nothing(con, tmp_path):
    files = _files(SNAPSHOTS[:4])
    table = raw_files_table("pay")
    con.execute(f"""CREATE TABLE {table} (source VARCHAR NOT NULL, file_name VARCHAR NOT NULL,
        sha256 VARCHAR NOT NULL, size_bytes BIGINT NOT NULL, content BLOB NOT NULL, origin VARCHAR NOT NULL,
        received_at TIMESTAMP NOT NULL, in_latest_listing BOOLEAN NOT NULL, PRIMARY KEY (source, file_name, sha256))""")
    for f in files[:3]:
        con.execute(f"INSERT INTO {table} VALUES ('pay', ?, ?, ?, ?, 'data/pay', TIMESTAMP '2026-01-05', true)",
                    [f.name, f.sha256, len(f.content), f.content])
    assert store_raw_files(con, "pay", files, origin="data/pay") == 1  # the three it had are not new
    assert "content" not in {c for (c, *_) in con.execute(f"DESCRIBE {table}").fetchall()}
    back = load_files(con, "pay", listed_files(con, "pay"))
    assert {f.name: f.content for f in back} == {f.name: f.content for f in files}
    received = dict(con.execute(f"SELECT file_name, received_at::VARCHAR FROM {table}").fetchall())
    assert [received[f.name] for f in files[:3]] == ["2026-01-05 00:00:00"] * 3  # when first received, still


def test_bytes_the_store_lost_are_named_and_the_other_files_still_come_back(con, tmp_path):
    files = _files(SNAPSHOTS[:3])
    store_raw_files(con, "pay", files, origin="data/pay")
    (tmp_path / "raw" / "pay" / files[0].sha256).unlink()
    (tmp_path / "raw" / "pay" / files[1].sha256).write_bytes(b"{}")  # damaged: not the bytes received
    with pytest.raises(RawStoreError) as raised:
        load_files(con, "pay", listed_files(con, "pay"))
    said = str(raised.value)
    assert files[0].name in said and "Put the file back where it came from" in said and "Traceback" not in said
    lost: list = []
    back = load_files(con, "pay", listed_files(con, "pay"), lost)
    assert [f.name for f in back] == [files[2].name]
    assert [(f.name, "no longer held the bytes received" in why or "cannot be read" in why) for f, why in lost] == [
        (files[0].name, True), (files[1].name, True)]


def test_staging_names_a_file_whose_bytes_were_lost_and_keeps_the_others(con, tmp_path):
    files = _files([*SNAPSHOTS[:3], VERSIONS])
    store_raw_files(con, "pay", files, origin="data/pay")
    (tmp_path / "raw" / "pay" / files[1].sha256).unlink()
    parsed, problems = _stage(con, CountingReader(PayParseCache()))
    assert files[1].name not in parsed and {files[0].name, files[2].name} <= set(parsed)
    assert [(p.file_name, "lost the bytes" in p.problem) for p in problems] == [(files[1].name, True)]


def test_bytes_lost_from_the_store_are_kept_again_from_the_source(con, tmp_path):
    from assets.raw import open_files

    files, _ = open_files(SNAPSHOTS[:3])
    store_raw_files(con, "pay", files, origin="data/pay")
    lost = tmp_path / "raw" / "pay" / files[2].sha256
    lost.unlink()
    assert store_raw_files(con, "pay", files, origin="data/pay") == 0  # not new: only its bytes kept again
    assert lost.read_bytes() == files[2].path.read_bytes()


def test_damaged_bytes_are_set_aside_reported_once_and_kept_again_by_the_next_run(con, tmp_path):
    from assets.raw import open_files

    files, _ = open_files([*SNAPSHOTS[:3], VERSIONS])
    store_raw_files(con, "pay", files, origin="data/pay")
    damaged = tmp_path / "raw" / "pay" / files[1].sha256
    damaged.write_bytes(bytes(len(files[1].path.read_bytes())))  # the same size, other bytes: only a read can tell
    cache = PayParseCache()
    parsed, problems, surprised = _parse_listed(con, "pay", CountingReader(cache).reader, LOG,
                                                listed_files(con, "pay"))
    assert [p.file_name for p in problems] == [files[1].name] and surprised  # not remembered as this source's build
    assert not damaged.exists() and [p.name for p in damaged.parent.glob(f".{files[1].sha256}.damaged-*")]
    assert store_raw_files(con, "pay", files, origin="data/pay") == 0
    assert damaged.read_bytes() == files[1].path.read_bytes()
    parsed, problems, surprised = _parse_listed(con, "pay", CountingReader(cache).reader, LOG,
                                                listed_files(con, "pay"))
    assert problems == [] and not surprised and files[1].name in parsed


def test_a_warehouse_moves_every_raw_table_out_at_once_and_overwrites_bytes_that_are_not_the_ones(con, tmp_path):
    from tracker.raw_store import missing, store_of

    catalogue = sorted((DATA / "data_sharing").rglob("*.csv"))[:2]
    for source, paths in (("pay", SNAPSHOTS[:2]), ("data_sharing", catalogue)):
        con.execute(f"""CREATE TABLE {raw_files_table(source)} (source VARCHAR, file_name VARCHAR, sha256 VARCHAR,
            size_bytes BIGINT, content BLOB, origin VARCHAR, received_at TIMESTAMP, in_latest_listing BOOLEAN)""")
        for f in _files(paths):
            con.execute(f"INSERT INTO {raw_files_table(source)} VALUES (?, ?, ?, ?, ?, 'data', now(), true)",
                        [source, f.name, f.sha256, f.size, f.content])
    con.execute("CREATE VIEW raw.source_files AS SELECT * FROM raw.pay_files UNION ALL SELECT * FROM "
                "raw.data_sharing_files")  # as dbt made it: a view on the tables stops a column being dropped
    first = _files(catalogue[:1])[0]
    impostor = tmp_path / "raw" / "data_sharing" / first.sha256
    impostor.parent.mkdir(parents=True)
    impostor.write_bytes(bytes(first.size))  # a file of the right size and name, not the bytes
    store_raw_files(con, "pay", _files(SNAPSHOTS[:2]), origin="data/pay")  # only Pay's asset runs
    legacy = con.execute("SELECT count(*) FROM duckdb_columns() WHERE schema_name = 'raw' AND column_name = 'content'"
                         ).fetchall()[0][0]
    assert legacy == 0  # both tables: a union of the raw tables keeps one shape
    assert impostor.read_bytes() == first.content
    kept = con.execute(f"SELECT file_name, sha256, size_bytes FROM {raw_files_table('data_sharing')}").fetchall()
    assert len(kept) == 2 and missing(store_of(con), "data_sharing", kept) == []


def test_bytes_that_cannot_be_written_stop_the_store_in_words_and_record_nothing(con, tmp_path):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "pay").write_text("a file where the folder should be")
    with pytest.raises(RawStoreError) as raised:
        store_raw_files(con, "pay", _files(SNAPSHOTS[:2]), origin="data/pay")
    assert "free disk space" in str(raised.value) and SNAPSHOTS[0].name in str(raised.value)
    assert con.execute(f"SELECT count(*) FROM {raw_files_table('pay')}").fetchall()[0][0] == 0


def test_an_in_memory_warehouse_is_refused_in_words():
    memory = duckdb.connect()
    ensure_schemas(memory)
    with pytest.raises(RawStoreError, match="not a file"):
        store_raw_files(memory, "pay", _files(SNAPSHOTS[:1]), origin="data/pay")


def test_a_file_changed_or_gone_after_it_was_listed_is_left_for_the_next_run(con, tmp_path):
    from assets.raw import open_files

    folder = tmp_path / "snapshots"
    folder.mkdir()
    for p in SNAPSHOTS[:4]:
        (folder / p.name).write_bytes(p.read_bytes())
    files, _ = open_files(sorted(folder.iterdir()))
    changed, gone = files[1].path, files[2].path
    changed.write_bytes(changed.read_bytes() + b"\n")
    gone.unlink()
    assert store_raw_files(con, "pay", files, origin="data/pay") == 2
    names = {n for (n,) in con.execute(f"SELECT file_name FROM {raw_files_table('pay')}").fetchall()}
    assert names == {files[0].name, files[3].name}
    again, _ = open_files(sorted(folder.iterdir()))
    assert store_raw_files(con, "pay", again, origin="data/pay") == 1  # the changed file, under its new bytes
    assert con.execute(f"SELECT sha256 FROM {raw_files_table('pay')} WHERE file_name = ?",
                       [changed.name]).fetchone()[0] == SourceFile(changed, changed.read_bytes()).sha256


# --- Pay's per-organisation rows: a view over the parse cache ----------------------------------------------------


def _pay_tables(con) -> dict[str, list[tuple]]:
    return {t: _table(con, t) for t in ("staging.pay_snapshots", "staging.pay_organisation_services",
                                        "staging.pay_sector_services")}


def _from_nothing(tmp_path, files: list[Path], as_of: str) -> dict[str, list[tuple]]:
    """The tables built whole, in a warehouse of their own."""
    fresh = duckdb.connect(str(tmp_path / f"fresh-{len(files)}-{as_of}.duckdb"))
    ensure_schemas(fresh)
    store_raw_files(fresh, "pay", _files(files), origin="data/pay")
    _stage(fresh, CountingReader(PayParseCache()), as_of)
    tables = _pay_tables(fresh)
    fresh.close()
    return tables


def _counts_kept(con) -> int:
    return con.execute("SELECT count(*) FROM parsed.pay_organisation_counts").fetchone()[0]


def test_a_new_snapshot_adds_only_its_own_counts_and_the_tables_equal_a_build_from_nothing(con, tmp_path):
    """The per-organisation rows are a view over the parse cache: a new snapshot writes its own counts once, never
    the history's, and the view shows exactly what a build from nothing shows, whichever versions are kept."""
    store_raw_files(con, "pay", _files([*SNAPSHOTS[:-3], VERSIONS]), origin="data/pay")
    _stage(con, CountingReader(PayParseCache()))
    for end, as_of in ((-1, "2026-03-31"), (None, "2026-03-31"), (None, "2025-06-30"), (-2, "2026-03-31")):
        files = [*SNAPSHOTS[:end], VERSIONS] if end else [*SNAPSHOTS, VERSIONS]
        store_raw_files(con, "pay", _files(files), origin="data/pay")
        before = _counts_kept(con)
        counting = CountingReader(PayParseCache())
        _stage(con, counting, as_of)
        new = [f for f in _files(files) if f.name in counting.parsed and f.name != VERSIONS_FILE]
        assert _counts_kept(con) - before == sum(len(parse_pay_snapshot(f)["_by_org"]) for f in new), (end, as_of)
        assert _pay_tables(con) == _from_nothing(tmp_path, files, as_of), (end, as_of)
        views = {v for (v,) in con.execute("SELECT view_name FROM duckdb_views() WHERE schema_name = 'staging'")
                 .fetchall()}
        assert {"pay_organisation_services", "pay_sector_services"} <= views
    # a name counted by many versions is kept once
    assert con.execute(f"SELECT count(*) = count(DISTINCT name) FROM {pay.PARSED_NAMES}").fetchone()[0]


def test_a_warehouse_of_the_earlier_layout_is_brought_to_views_and_parsed_again(con, tmp_path):
    """Pay's counts named by sha256 and copied into a staging table (the layout before): the parse cache is made
    again in its new shape and the staging tables replaced by views, which show what a build from nothing shows."""
    files = [*SNAPSHOTS[:6], VERSIONS]
    store_raw_files(con, "pay", _files(files), origin="data/pay")
    con.execute("CREATE SCHEMA IF NOT EXISTS parsed")
    con.execute(f"CREATE TABLE {PARSED_VERSIONS} (sha256 VARCHAR PRIMARY KEY, parser VARCHAR, problem VARCHAR)")
    con.execute("CREATE TABLE parsed.pay_organisation_counts (sha256 VARCHAR, organisation_name VARCHAR, "
                "live_services BIGINT)")
    con.execute("CREATE TABLE staging.pay_organisation_services AS SELECT DATE '2020-01-01' AS date_updated, "
                "'an old row' AS organisation_name, 1::BIGINT AS live_services")
    counting = CountingReader(PayParseCache())
    _stage(con, counting)
    assert len(counting.parsed) == len(files)
    assert _pay_tables(con) == _from_nothing(tmp_path, files, SETTINGS.as_of)
    assert "version_id" in table_columns(con, PARSED_VERSIONS)


def test_a_full_build_holds_of_each_snapshot_what_a_warm_run_holds(con):
    """Parsed and stored, a snapshot is held as the cache gives it back (its headline figures), not with its
    per-organisation counts: what bounds a national full build's memory."""
    store_raw_files(con, "pay", _files([*SNAPSHOTS[:20], VERSIONS]), origin="data/pay")
    cold, _ = _stage(con, CountingReader(PayParseCache()))
    warm, _ = _stage(con, CountingReader(PayParseCache()))
    snapshots = [name for name in cold if name != VERSIONS_FILE]
    assert len(snapshots) == 20
    assert {n: cold[n][1] for n in snapshots} == {n: warm[n][1] for n in snapshots}
    assert not any(isinstance(v, dict) for n in snapshots for v in cold[n][1].values())  # no counts held
