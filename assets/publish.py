"""Publishing: a read-only snapshot of the marts, swapped in atomically.

The warehouse is locked while Dagster writes it, so readers never open it.
Instead the marts are copied into a new file beside the published one and
``os.replace`` swaps it in: a reader sees the old file or the new one, never
half of either, and never blocks a run.
"""


import datetime as dt
import json
import os
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from assets.marts import column_descriptions, mart_tables
from assets.raw import OWNERS
from tracker.durable import sync_folder
from tracker.resources import TrackerConfig
from tracker.settings import MANIFEST_NAME, SNAPSHOT_NAME, as_of_note
from tracker.sources import SNAPSHOT_FRESH_WITHIN_DAYS
from tracker.warehouse import connect, insert_values, transaction

# Reference tables the readers need beside the marts (names, departments, match quality).
REFERENCE_TABLES = ["staging.organisations", "staging.organisation_match_coverage", "staging.targets",
                    "staging.reporting_quarters"]
PUBLISHED_TABLES = [*mart_tables(), *REFERENCE_TABLES]
# The returns windows closed after each deadline (assets/returns_windows.py): published once the tables exist.
CLOSURE_TABLES = ["audit.returns_window_closures", "audit.returns_window_late"]


CHECK_RESULT_COLUMNS = ["check_name", "asset", "description", "severity", "blocking", "outcome", "rows_breaking",
                        "evaluated_at", "run_id"]


def latest_check_results(instance, check_keys, descriptions: dict | None = None) -> list[tuple]:
    """The latest evaluation of every asset check, as rows for ``meta.check_results``.

    The publish step runs after every check in its run (it has the lowest step
    priority), so these are this run's results wherever this run checked.
    """
    records = instance.event_log_storage.get_latest_asset_check_execution_by_key(list(check_keys))
    rows = []
    for key in sorted(check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name)):
        record = records.get(key)
        evaluation = record.evaluation if record else None
        if evaluation is None or not hasattr(evaluation, "severity"):  # not run, or only planned so far
            rows.append((key.name, key.asset_key.to_user_string(), (descriptions or {}).get(key), None, None,
                         "not run", None, None, None))
            continue
        severity = evaluation.severity.value
        outcome = "passed" if evaluation.passed else ("warning" if severity == "WARN" else "failed")
        breaking = evaluation.metadata.get("rows breaking the rule")
        described = evaluation.description or (descriptions or {}).get(key)
        rows.append((key.name, key.asset_key.to_user_string(), described, severity,
                     evaluation.blocking, outcome, getattr(breaking, "value", None),
                     dt.datetime.fromtimestamp(record.create_timestamp, dt.UTC).replace(tzinfo=None), record.run_id))
    return rows


PUBLISHED_ALERTS = 200  # the latest alerts published with the snapshot (tracker/alerts.py keeps them all)


def alert_rows(home: Path | None, latest: int = PUBLISHED_ALERTS) -> list[tuple]:
    """The latest alerts of TRACKER_HOME/alerts/alerts.jsonl, newest first, as rows for ``meta.alerts``.

    Never the webhook's address: the dashboard is read by more people than run the tracker.
    """
    if home is None:
        return []
    from tracker.alerts import read_alerts

    rows = []
    for alert in reversed(read_alerts(home, latest)):
        try:
            at = dt.datetime.fromisoformat(alert["at"]).astimezone(dt.UTC).replace(tzinfo=None)
        except (KeyError, TypeError, ValueError):
            continue
        rows.append((at, alert.get("kind"), alert.get("subject"), alert.get("message"), alert.get("webhook_outcome")))
    return rows


def publish_snapshot(con, published_dir: Path, as_of: dt.date, check_results: list[tuple] | tuple = (),
                     alerts: list[tuple] | tuple = ()) -> dict:
    """Copy marts, reference tables, check results and alerts into a new file, then swap it in. Returns the
    manifest.

    Killed at any point, it leaves the last complete snapshot and its manifest in place: the new file is whole
    (built, checkpointed, opened read-only and flushed to disk) before ``os.replace`` swaps it in, and the
    manifest, written beforehand, is swapped straight after. Temporary files a killed publication left are
    removed first (the caller holds the run lock: no other publication is under way).
    """
    published_dir.mkdir(parents=True, exist_ok=True)
    remove_temporary_files(published_dir)
    version = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    temporary = published_dir / f".{SNAPSHOT_NAME}.{version}.tmp"
    kept = {f"{schema}.{name}" for schema, name in con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database()").fetchall()}
    tables = [*PUBLISHED_TABLES, *(t for t in CLOSURE_TABLES if t in kept)]
    counts = {}
    con.execute(f"ATTACH '{temporary}' AS snapshot")
    try:
        with transaction(con):  # one commit for the whole file, not one a table
            for table in tables:
                schema, name = table.split(".")
                con.execute(f"CREATE SCHEMA IF NOT EXISTS snapshot.{schema}")
                con.execute(f"CREATE TABLE snapshot.{schema}.{name} AS SELECT * FROM {table}")
                counts[table] = con.execute(f"SELECT count(*) FROM snapshot.{schema}.{name}").fetchone()[0]
            manifest = {
                "version": version,
                "published_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "as_of": as_of.isoformat(),
                "as_of_note": as_of_note(),
                "tables": counts,
            }
            con.execute("CREATE SCHEMA IF NOT EXISTS snapshot.meta")
            con.execute("CREATE TABLE snapshot.meta.snapshot AS SELECT ? AS version, ? AS published_at, "
                        "?::DATE AS as_of, ?::VARCHAR AS as_of_note",
                        [version, manifest["published_at"], as_of, as_of_note() or None])
            con.execute("CREATE TABLE snapshot.meta.check_results (check_name VARCHAR, asset VARCHAR, "
                        "description VARCHAR, severity VARCHAR, blocking BOOLEAN, outcome VARCHAR, "
                        "rows_breaking BIGINT, evaluated_at TIMESTAMP, run_id VARCHAR)")
            insert_values(con, "snapshot.meta.check_results", check_results)
            manifest["tables"]["meta.check_results"] = len(check_results)
            con.execute("CREATE TABLE snapshot.meta.alerts (alerted_at TIMESTAMP, alert_kind VARCHAR, "
                        "alert_subject VARCHAR, alert_message VARCHAR, webhook_outcome VARCHAR)")
            insert_values(con, "snapshot.meta.alerts", alerts)
            manifest["tables"]["meta.alerts"] = len(alerts)
            descriptions = column_descriptions()
            con.execute("CREATE TABLE snapshot.meta.column_descriptions (table_name VARCHAR, column_name VARCHAR, "
                        "description VARCHAR)")
            insert_values(con, "snapshot.meta.column_descriptions", descriptions)
            manifest["tables"]["meta.column_descriptions"] = len(descriptions)
    finally:
        con.execute("DETACH snapshot")
    check = duckdb.connect(str(temporary), read_only=True)  # prove the new file opens before swapping
    check.close()
    _flush(temporary)
    manifest_tmp = published_dir / f".{MANIFEST_NAME}.{version}.tmp"
    manifest_tmp.write_bytes(json.dumps(manifest, indent=2).encode("utf-8"))
    _flush(manifest_tmp)
    # Two renames, nothing between them: the manifest names the snapshot beside it but for that instant.
    os.replace(temporary, published_dir / SNAPSHOT_NAME)
    os.replace(manifest_tmp, published_dir / MANIFEST_NAME)
    sync_folder(published_dir)
    return manifest


TEMPORARY_NAMES = (f".{SNAPSHOT_NAME}.*.tmp*", f".{MANIFEST_NAME}.*.tmp")  # the file, its .wal, the manifest


def remove_temporary_files(published_dir: Path) -> list[str]:
    """Remove what a killed publication left beside the snapshot (a half-built file, its write-ahead log, an
    unswapped manifest); returns their names. Readers never open these: only the published names."""
    removed = []
    for pattern in TEMPORARY_NAMES:
        for path in published_dir.glob(pattern):
            path.unlink(missing_ok=True)
            removed.append(path.name)
    return sorted(removed)


def _flush(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dg.asset(
    key=["published_snapshot"],
    deps=[t.split(".") for t in [*PUBLISHED_TABLES, *CLOSURE_TABLES]],
    group_name="publish",
    op_tags={"dagster/priority": "-1"},  # after every asset check that is ready at the same time
    kinds={"duckdb"},
    owners=OWNERS,
    # Fails once a week's refresh and a day's grace have passed without a publication; warns a day before.
    freshness_policy=dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(days=SNAPSHOT_FRESH_WITHIN_DAYS),
                                                    warn_window=dt.timedelta(days=SNAPSHOT_FRESH_WITHIN_DAYS - 1)),
    description="The read-only snapshot the dashboard opens (TRACKER_HOME/published/tracker.duckdb), "
    "built in a temporary file and swapped in atomically, with a manifest of its version.",
)
def published_snapshot(
    context: dg.AssetExecutionContext, settings: TrackerConfig, warehouse: DuckDBResource
) -> dg.MaterializeResult:
    graph = context.job_def.asset_layer.asset_graph
    described = {key: graph.get_check_spec(key).description for key in graph.asset_check_keys}
    check_results = latest_check_results(context.instance, graph.asset_check_keys, described)
    with connect(warehouse) as con:
        manifest = publish_snapshot(con, settings.published_dir, settings.as_of_date(), check_results,
                                    alert_rows(settings.home))
    path = settings.published_dir / SNAPSHOT_NAME
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "version": manifest["version"],
            "as_of": manifest["as_of"],
            "size_bytes": path.stat().st_size,
            "tables": dg.MetadataValue.json(manifest["tables"]),
        }
    )
