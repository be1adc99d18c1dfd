"""Backfills equal the incremental build (issue 14, item 5).

Rebuilding the full history is one run (the session's shared build: every asset, once, on all the shipped data and
every sample return), and its warehouse equals the one the scheduled runs build up step by step: the archives' versions
arriving in chunks by date, each followed by a refresh on that day, and the returns arriving in the inbox across
several sensor ticks, each ingested by the run the sensor asks for. Tables are compared on their declared keys without
the load-time columns (tests/warehouse_compare.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from pipelines.return_commands import ILLUSTRATIVE_CHANNEL, SAMPLES_DIR, SAMPLES_MANIFEST
from pipelines.sensors import ingest_returns_job, return_inbox_sensor
from tests.conftest import AS_OF, DATA, everything, make_resources
from tests.warehouse_compare import (
    LOAD_TIME_COLUMNS,
    DeclaredKey,
    compare_warehouses,
    declared_keys,
    mart_models,
)
from tracker.resources import TrackerConfig
from tracker.return_inbox import deliver
from tracker.versions import LONDON, VERSIONS_FILE

# The archives whose versions arrive over time: folder of versions -> where its versions.csv is
ARCHIVES = {"pay/snapshots": "pay", "forms/snapshots": "forms",
            "data_sharing/catalogue_versions": "data_sharing/catalogue_versions"}
# Each scheduled refresh: the day it runs (its reporting date), with every version published by then in the folder.
# The first is after GOV.UK Forms' first version (March 2025): before it the source has no file at all.
# Two refreshes and two ticks are enough to build up in steps (each step is a run: half a minute of CI).
REFRESH_DAYS = ("2025-04-30", AS_OF)
# Each sensor tick that finds returns: the day it runs, after which refresh (index into REFRESH_DAYS) it comes, and
# the returns received by then (the samples' own received_at) go into that tick's one run.
TICKS = (("2025-10-28", 0), (AS_OF, 1))


def _published_on(folder: Path, listed: dict[str, str], name: str) -> dt.date:
    if name in listed:
        return dt.datetime.fromisoformat(listed[name]).astimezone(LONDON).date()
    return dt.date.fromisoformat(name[:10])  # unlisted: the date in its name (tracker/versions.py's rule)


def _versions(data: Path, folder: str) -> tuple[list[str], list[dict]]:
    text = (DATA / ARCHIVES[folder] / VERSIONS_FILE).read_text(encoding="utf-8")
    reader = csv.DictReader(io.StringIO(text))
    return list(reader.fieldnames or []), list(reader)


def release_versions(data: Path, day: dt.date) -> int:
    """Copy into ``data`` every archived version published by the end of ``day``, and a versions.csv that lists
    only those (as the publisher's list stood then). Returns how many versions are in the folders now."""
    present = 0
    for folder, versions_dir in ARCHIVES.items():
        fields, rows = _versions(data, folder)
        listed = {row["file"]: row["published_at"] for row in rows}
        (data / folder).mkdir(parents=True, exist_ok=True)
        for source in sorted((DATA / folder).iterdir()):
            if source.name == VERSIONS_FILE or not source.is_file():
                continue
            if _published_on(source.parent, listed, source.name) <= day:
                target = data / folder / source.name
                if not target.exists():
                    shutil.copy2(source, target)
                present += 1
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(row for row in rows if (data / folder / row["file"]).exists())
        (data / versions_dir / VERSIONS_FILE).write_text(out.getvalue(), encoding="utf-8")
    return present


def data_without_versions(target: Path) -> Path:
    """The shipped data with the archives' versions (and their lists) taken out: they arrive step by step."""
    shutil.copytree(DATA, target)
    for folder, versions_dir in ARCHIVES.items():
        shutil.rmtree(target / folder)
        (target / versions_dir / VERSIONS_FILE).unlink(missing_ok=True)
    return target


def samples() -> list[dict]:
    manifest = DATA / SAMPLES_DIR / SAMPLES_MANIFEST
    return yaml.safe_load(manifest.read_text(encoding="utf-8"))["samples"]


def send_returns_received_by(home: Path, day: dt.date, sent: set[int]) -> int:
    """Put in the inbox each sample return sent by the end of ``day`` (at its own received_at, as
    pipelines/return_commands.deliver_samples does for the full build)."""
    count = 0
    for number, sample in enumerate(samples()):
        received = dt.datetime.fromisoformat(str(sample["received_at"]))
        if number in sent or received.date() > day:
            continue
        content = (DATA / SAMPLES_DIR / sample["file"]).read_bytes()
        deliver(home, content, sample["file"], sample["organisation"], ILLUSTRATIVE_CHANNEL, is_illustrative=True,
                now=received.replace(tzinfo=dt.UTC))
        sent.add(number)
        count += 1
    return count


def sensor_tick(home: Path, data: Path, day: str, cursor: str | None) -> tuple[dg.RunRequest | None, str | None]:
    context = dg.build_sensor_context(cursor=cursor, resources={
        "settings": TrackerConfig(data_dir=str(data), home_dir=str(home), as_of=day)})
    result = return_inbox_sensor(context)
    return (result if isinstance(result, dg.RunRequest) else None), context.cursor


@pytest.fixture(scope="module")
def incremental(tmp_path_factory) -> dict:
    """The warehouse the scheduled runs build: refreshes as versions arrive, and the sensor's runs as returns do."""
    root = tmp_path_factory.mktemp("incremental")
    home, data = root / "home", data_without_versions(root / "data")
    runs, cursor, sent, timings = [], None, set(), []

    def run(kind: str, day: str, **kwargs):
        started = time.monotonic()
        result = dg.materialize(everything(), resources=make_resources(home, data, as_of=day),
                                raise_on_error=False, **kwargs)
        timings.append(f"{kind} {day}: {time.monotonic() - started:.0f} s")
        if not result.success:
            from pipelines.cli import failure_messages

            failed = [f"{c.asset_key.to_user_string()} {c.check_name}: {c.description or ''} {c.metadata}"
                      for c in result.get_asset_check_evaluations() if not c.passed]
            pytest.fail(f"the {kind} run of {day} failed: " + "; ".join(failure_messages(result) + failed))
        runs.append((kind, day, result.run_id))

    for index, day in enumerate(REFRESH_DAYS):
        versions = release_versions(data, dt.date.fromisoformat(day))
        run(f"refresh ({versions} versions)", day)
        for tick_day, after in TICKS:
            if after != index:
                continue
            assert send_returns_received_by(home, dt.date.fromisoformat(tick_day), sent), tick_day
            request, cursor = sensor_tick(home, data, tick_day, cursor)
            assert request is not None, f"the sensor found no new return on {tick_day}"
            run("returns", tick_day, selection=ingest_returns_job.selection, run_config=request.run_config)
    assert len(sent) == len(samples())
    print("\n".join(timings))
    return {"home": home, "runs": runs}


def test_the_full_history_is_rebuilt_in_one_run(built):
    """The shared build is the backfill: one run materialised every asset, and no asset is partitioned, so no
    backfill (from `tracker run` or the Dagster UI) is split into one run per period."""
    from pipelines.definitions import defs

    result = built["result"]
    assert result.success
    materialised = {e.asset_key for e in result.get_asset_materialization_events()}
    assert materialised == {key for a in everything() if isinstance(a, dg.AssetsDefinition) for key in a.keys}
    con = duckdb.connect(str(built["home"] / "warehouse.duckdb"), read_only=True)
    try:
        builds = con.execute("SELECT string_agg(DISTINCT built_by_run, ',') FROM (" + " UNION ALL ".join(
            f"SELECT built_by_run FROM meta.{t}" for (t,) in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'meta' AND table_name LIKE '%_build'"
            ).fetchall()) + ")").fetchone()[0]
    finally:
        con.close()
    assert builds == result.run_id  # every source's tables were written by that one run
    graph = defs.resolve_asset_graph()
    partitioned = [k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).partitions_def is not None]
    assert partitioned == []


def test_every_mart_declares_its_key():
    keys = declared_keys()
    assert [m for m in mart_models() if m not in keys] == [], "marts with no declared key (keys in its rules test)"


def test_the_backfill_equals_the_incremental_build(built, incremental):
    refreshes = [r for r in incremental["runs"] if r[0].startswith("refresh")]
    ingests = [r for r in incremental["runs"] if r[0] == "returns"]
    assert len(refreshes) == len(REFRESH_DAYS) and len(ingests) == len(TICKS)
    assert len({r[2] for r in incremental["runs"]}) == len(incremental["runs"])  # each step its own run

    comparison = compare_warehouses(incremental["home"] / "warehouse.duckdb", built["home"] / "warehouse.duckdb")
    assert set(mart_models()) <= set(comparison.compared), "a mart was not compared on a key"
    assert comparison.no_key == []
    assert sum(comparison.rows_compared[m] for m in mart_models()) > 0
    assert comparison.equal, comparison.report()


def test_the_raw_store_differs_only_by_the_lists_of_versions_as_they_stood(built, incremental):
    """Every file the backfill stored, the scheduled runs stored too, byte for byte; they also kept each earlier
    versions.csv (the publisher's list as it stood at each step), which is why marts.sources' files_kept and
    bytes_kept are history, not data."""
    comparison = compare_warehouses(incremental["home"] / "warehouse.duckdb", built["home"] / "warehouse.duckdb",
                                    schemas=("raw",), required=("raw",))
    assert comparison.no_key == [] and {"raw.pay_files", "raw.return_files"} <= set(comparison.compared)
    unexplained = [d for d in comparison.differences
                   if not (d.startswith("raw.") and "'file_name': versions.csv" in d and "only on the left" in d)]
    assert unexplained == [], comparison.report()
    assert comparison.differences, "the scheduled runs stored more than one list of versions"


def test_returns_were_judged_alike_by_great_expectations(built, incremental):
    """gx_result names the reporting date of the run that checked each return (load-time); what it found is data."""
    outcome = ("SELECT submission_ref, gx_result->>'evaluated', gx_result->>'passed', gx_result->>'failed', "
               "gx_result->>'agrees_with_native' FROM audit.return_submissions ORDER BY ALL")
    found = []
    for home in (incremental["home"], built["home"]):
        con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
        try:
            found.append(con.execute(outcome).fetchall())
        finally:
            con.close()
    assert found[0] == found[1] and len(found[0]) == len(samples())


# The helper can fail: a changed value, a missing row and an extra row are each reported.

@pytest.fixture()
def two_copies(built, tmp_path) -> tuple[Path, Path]:
    left, right = tmp_path / "left.duckdb", tmp_path / "right.duckdb"
    shutil.copy(built["home"] / "warehouse.duckdb", left)
    shutil.copy(left, right)
    return left, right


def _change(path: Path, sql: str) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute(sql)
    finally:
        con.close()


def test_identical_warehouses_compare_equal(two_copies):
    comparison = compare_warehouses(*two_copies)
    assert comparison.equal, comparison.report()
    assert set(mart_models()) <= set(comparison.compared)


def test_the_comparison_reports_a_changed_value_a_missing_row_and_an_extra_row(two_copies):
    left, right = two_copies
    _change(right, "UPDATE marts.metric_series SET value = value + 1 WHERE metric = 'pay_live_services' "
            "AND date = (SELECT max(date) FROM marts.metric_series WHERE metric = 'pay_live_services')")
    _change(right, "DELETE FROM marts.target_progress WHERE target_id = (SELECT min(target_id) FROM "
            "marts.target_progress)")
    _change(right, "INSERT INTO marts.pay_sector_monthly SELECT DATE '1999-01-01', version, sector, live_services "
            "FROM marts.pay_sector_monthly LIMIT 1")
    _change(right, "UPDATE staging.pay_snapshots SET services = services + 1 WHERE file_name = (SELECT min(file_name) "
            "FROM staging.pay_snapshots)")  # a table with no key, compared whole
    comparison = compare_warehouses(left, right)
    report = comparison.report()
    assert not comparison.equal
    changed = [d for d in comparison.differences if d.startswith("marts.metric_series:")]
    assert len(changed) == 1 and "'metric': pay_live_services" in changed[0] and "column value" in changed[0], report
    missing = [d for d in comparison.differences if d.startswith("marts.target_progress:")]
    assert len(missing) == 1 and "only on the left" in missing[0], report
    extra = [d for d in comparison.differences if d.startswith("marts.pay_sector_monthly:")]
    assert len(extra) == 1 and "1999-01-01" in extra[0] and "only on the right" in extra[0], report
    whole = [d for d in comparison.differences if d.startswith("staging.pay_snapshots")]
    assert len(whole) == 2 and {"only on the left" in d for d in whole} == {True, False}, report


def test_pays_per_organisation_view_is_compared_and_the_caches_numbering_is_not(two_copies):
    """staging.pay_organisation_services is a view over the parse cache: a changed count under it is a difference,
    while the numbers each build gave its versions and names are not (they differ between any two builds)."""
    left, right = two_copies
    comparison = compare_warehouses(left, right)
    assert "staging.pay_organisation_services" in comparison.compared_whole, comparison.report()
    _change(right, "UPDATE parsed.pay_versions SET version_id = version_id + 1000")
    _change(right, "UPDATE parsed.pay_organisation_counts SET version_id = version_id + 1000")
    _change(right, "UPDATE parsed.pay_sector_counts SET version_id = version_id + 1000")
    _change(right, "UPDATE parsed.pay_names SET name_id = -name_id")
    _change(right, "UPDATE parsed.pay_organisation_counts SET name_id = -name_id")
    _change(right, "UPDATE parsed.pay_sector_counts SET name_id = -name_id")
    renumbered = compare_warehouses(left, right)
    assert renumbered.equal, renumbered.report()
    _change(right, "UPDATE parsed.pay_organisation_counts SET live_services = live_services + 1 WHERE version_id = "
            "(SELECT min(p.version_id) FROM parsed.pay_versions p "
            "JOIN meta.staging__pay_organisation_services_versions USING (sha256))")  # one version the view shows
    changed = compare_warehouses(left, right)
    assert [d for d in changed.differences if d.startswith("staging.pay_organisation_services")], changed.report()


def test_floats_within_the_tolerance_and_load_time_columns_are_not_differences(two_copies):
    left, right = two_copies
    _change(right, "UPDATE marts.metric_series SET value = value * (1 + 1e-12)")
    _change(right, "UPDATE marts.sources SET last_built_at = TIMESTAMP '2000-01-01', "
            "last_stored_at = TIMESTAMP '2000-01-01'")
    _change(right, "UPDATE marts.feed_problems SET found_at = TIMESTAMP '2000-01-01'")
    comparison = compare_warehouses(left, right)
    assert comparison.equal, comparison.report()
    assert {"last_built_at", "last_stored_at", "found_at", "processed_at", "built_by_run"} <= set(LOAD_TIME_COLUMNS)
    # a date the source published is data, never left out
    assert not {"published_at", "published_on", "fetched_at", "received_at", "data_date"} & set(LOAD_TIME_COLUMNS)


def test_a_mart_with_no_declared_key_makes_the_comparison_fail(two_copies):
    left, right = two_copies
    _change(left, "CREATE TABLE marts.keyless AS SELECT 1 AS x")
    _change(right, "CREATE TABLE marts.keyless AS SELECT 1 AS x")
    comparison = compare_warehouses(left, right)
    assert comparison.no_key == ["marts.keyless"] and not comparison.equal
    assert "NO DECLARED KEY: marts.keyless" in comparison.report()
    # and given a key, it is compared
    keyed = compare_warehouses(left, right, keys={"marts.keyless": DeclaredKey("marts.keyless", ("x",), "test")})
    assert keyed.equal and "marts.keyless" in keyed.compared
