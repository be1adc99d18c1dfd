"""The returns inbox sensor: one run per new arrival, keyed by who sent it and what it is, never by reading it.

The cursor remembers the key of every arrival already asked for (tracker/return_inbox.py
``arrival_key``: the organisation, the submission reference and the sidecar's sha256,
or where and when a hand-dropped file landed), so one arrival seen on two ticks starts
one run, while the same bytes from another organisation, or sent again after a
rejection, start their own. A file that lands while a run is going is found on the
next tick. The run key is the same key, so Dagster never launches two runs for one
arrival. Nothing is read or hashed here: a large file costs a tick nothing.
"""

from __future__ import annotations

import json

import dagster as dg

from tracker.resources import TrackerConfig
from tracker.return_inbox import arrival_key, pending

INGEST_OP = "department_returns"
REMEMBERED_ARRIVALS = 10_000  # far more returns than arrive between two ticks

ingest_returns_job = dg.define_asset_job(
    "ingest_returns",
    # every table the ingestion asset writes and everything downstream of them, and the run's reporting date
    # (staging.run_settings), so a return is judged on the day its run happens, not the last full run's
    selection=dg.AssetSelection.assets(["staging", "department_returns"]).required_multi_asset_neighbors()
    .downstream() | dg.AssetSelection.assets(["staging", "run_settings"]).required_multi_asset_neighbors(),
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
        key = arrival_key(file)
        if key in seen:
            continue
        seen.add(key)
        requested.append(key)
        runs.append(dg.RunRequest(
            run_key=key,
            run_config={"ops": {INGEST_OP: {"config": {"files": [str(file.path)]}}}},
            tags={"organisation": file.organisation_code, "submission": file.reference},
        ))
    context.update_cursor(json.dumps({"requested": requested[-REMEMBERED_ARRIVALS:]}))
    if not runs:
        return dg.SkipReason("No new return files in the inbox.")
    return runs


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Sends the email receipts queued by the upload page through GOV.UK Notify, retrying with "
           "back-off those that failed (TRACKER_HOME/receipts/). Starts no run.")
def receipt_sender(context: dg.SensorEvaluationContext, settings: TrackerConfig):
    from tracker.receipts import notify_settings_from_file, send_pending
    from tracker.settings import secrets_file

    outcomes = send_pending(settings.home, notify_settings_from_file(secrets_file()))
    if not outcomes:
        return dg.SkipReason("No receipt is due.")
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.outcome] = counts.get(outcome.outcome, 0) + 1
    return dg.SkipReason("Receipts: " + ", ".join(f"{n} {what}" for what, n in sorted(counts.items())) + ".")
