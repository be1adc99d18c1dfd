"""The returns inbox sensor: one run per new file, keyed by the file's content hash.

The cursor remembers the sha256 of every file already asked for, so the same
bytes sent twice start one run (the second copy is recorded as a duplicate by
the next ingestion), a corrected file (new bytes) starts its own run, and a file
that lands while a run is going is simply found on the next tick. The run key is
the hash too, so Dagster itself never launches two runs for the same bytes.
"""

from __future__ import annotations

import json

import dagster as dg

from tracker.resources import TrackerConfig
from tracker.return_inbox import file_hash, pending

INGEST_OP = "department_returns"
REMEMBERED_HASHES = 10_000  # far more returns than arrive between two ticks

ingest_returns_job = dg.define_asset_job(
    "ingest_returns",
    selection=dg.AssetSelection.assets(["staging", "department_returns"]).downstream()
    | dg.AssetSelection.assets(["audit", "return_submissions"], ["quarantine", "return_problems"],
                               ["raw", "return_files"]),
    description="Take return files from the inbox: validate, keep, quarantine or accept each, then rebuild the "
    "returns marts and publish.",
)


@dg.sensor(job=ingest_returns_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Starts one ingestion run for each new file in TRACKER_HOME/returns/inbox/<organisation>/.")
def return_inbox_sensor(context: dg.SensorEvaluationContext, settings: TrackerConfig):
    requested: list[str] = json.loads(context.cursor)["requested"] if context.cursor else []
    seen = set(requested)
    runs = []
    for file in pending(settings.home):
        try:
            sha = file_hash(file.path)
        except OSError:  # moved by a run between listing and reading: it is being handled
            continue
        if sha in seen:
            continue
        seen.add(sha)
        requested.append(sha)
        runs.append(dg.RunRequest(
            run_key=sha,
            run_config={"ops": {INGEST_OP: {"config": {"files": [str(file.path)]}}}},
            tags={"organisation": file.organisation_code, "submission": file.reference},
        ))
    context.update_cursor(json.dumps({"requested": requested[-REMEMBERED_HASHES:]}))
    if not runs:
        return dg.SkipReason("No new return files in the inbox.")
    return runs
