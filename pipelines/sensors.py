"""The returns inbox sensor: one run per tick for every new arrival of that tick, each keyed by who sent it and
what it is, never by reading it.

The cursor remembers the key of every arrival already asked for (tracker/return_inbox.py
``arrival_key``: the organisation, the submission reference and the sidecar's sha256,
or where and when a hand-dropped file landed), so one arrival seen on two ticks is asked
for once, while the same bytes from another organisation, or sent again after a
rejection, are new arrivals. All the new arrivals of a tick go into one run (oldest
first, at most ``MAX_BATCH``): on deadline day twenty files are one rebuild of the
returns marts and one publication, not twenty. The ingestion asset still records and
archives each file on its own. The run key is derived from the sorted arrival keys of
the batch, so a tick evaluated again never starts a second run for the same batch. A
file that lands while a run is going is found on the next tick, in the next batch.
Nothing is read or hashed here: a large file costs a tick nothing.
"""

from __future__ import annotations

import hashlib
import json

import dagster as dg

from assets.returns_windows import KEYS as WINDOW_KEYS
from tracker.resources import TrackerConfig
from tracker.return_inbox import InboxFile, arrival_key, pending

INGEST_OP = "department_returns"
REMEMBERED_ARRIVALS = 10_000  # far more returns than arrive between two ticks
# At most this many files in one run; the rest wait for the next tick (30 seconds later). A run holds the
# warehouse for its whole length and its run config (every path) is stored with the run: a bounded batch keeps
# one run short enough that the dashboard's snapshot stays fresh, and its config small, even if a backlog of
# thousands of files (a restore, a misbehaving script) lands at once. Deadline day is a few dozen returns.
MAX_BATCH = 500

ingest_returns_job = dg.define_asset_job(
    "ingest_returns",
    # every table the ingestion asset writes and everything downstream of them, and the run's reporting date
    # (staging.run_settings) with the reporting quarters judged at it (staging.reporting_quarters: which quarters
    # exist, have ended, are past their deadline), so a return is judged on the day its run happens, not the last
    # full run's (a return for a quarter that ended after the last full run would otherwise fail the returns
    # marts' tests); not the closing of a returns window (downstream of the marts, but its own quarterly job:
    # pipelines/schedules.py)
    selection=(dg.AssetSelection.assets(["staging", "department_returns"]).required_multi_asset_neighbors()
               .downstream() | dg.AssetSelection.assets(["staging", "run_settings"]).required_multi_asset_neighbors()
               | dg.AssetSelection.assets(["staging", "reporting_quarters"]).required_multi_asset_neighbors())
    - dg.AssetSelection.assets(*WINDOW_KEYS),
    description="Take return files from the inbox: validate, keep, quarantine or accept each, then rebuild the "
    "returns marts and publish.",
)


def batch_run_key(arrival_keys: list[str]) -> str:
    """The run key of a batch: the same arrivals give the same key whatever order they were listed in."""
    return "batch-" + hashlib.sha256("\n".join(sorted(arrival_keys)).encode("ascii")).hexdigest()


@dg.sensor(job=ingest_returns_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Starts one ingestion run per tick for every new file in TRACKER_HOME/returns/inbox/"
           f"<organisation>/ (at most {MAX_BATCH} a run; the rest wait for the next tick).")
def return_inbox_sensor(context: dg.SensorEvaluationContext, settings: TrackerConfig):
    requested: list[str] = json.loads(context.cursor)["requested"] if context.cursor else []
    seen = set(requested)
    batch: list[tuple[str, InboxFile]] = []
    for file in pending(settings.home):  # oldest first
        if len(batch) >= MAX_BATCH:
            break
        key = arrival_key(file)
        if key in seen:
            continue
        seen.add(key)
        batch.append((key, file))
    keys = [key for key, _ in batch]
    requested += keys
    context.update_cursor(json.dumps({"requested": requested[-REMEMBERED_ARRIVALS:]}))
    if not batch:
        return dg.SkipReason("No new return files in the inbox.")
    organisations = sorted({file.organisation_code for _, file in batch})
    return dg.RunRequest(
        run_key=batch_run_key(keys),
        run_config={"ops": {INGEST_OP: {"config": {"files": [str(file.path) for _, file in batch]}}}},
        tags={"files": str(len(batch)),
              # Dagster tag values are short: the organisations when they fit, else how many
              "organisations": ",".join(organisations) if len(",".join(organisations)) <= 200
              else f"{len(organisations)} organisations"},
    )


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
