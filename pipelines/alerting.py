"""Alerts from Dagster: a run that failed, a source gone stale, a snapshot not published for too long.

Both sensors record through tracker/alerts.py (TRACKER_HOME/alerts/alerts.jsonl) and post to the
webhook when one is configured. Neither starts a run.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import duckdb

from tracker.alerts import Breach, alert_breaches, configured_webhook, record_alert
from tracker.resources import TrackerConfig
from tracker.settings import manifest_path, snapshot_path
from tracker.sources import SNAPSHOT_FRESH_WITHIN_DAYS

FRESHNESS_INTERVAL_SECONDS = 600


def _plain_error(error) -> str:
    """The error's own message, without Dagster's wrapping ("Error occurred while executing op ...")."""
    while error is not None and error.cause is not None and "Error occurred while executing" in error.message:
        error = error.cause
    return error.message.strip() if error is not None else "no error message"


def run_failure_message(context: dg.RunFailureSensorContext) -> str:
    run = context.dagster_run
    steps = context.get_step_failure_events()
    if steps:
        failures = "; ".join(f"step {event.step_key}: {_plain_error(event.event_specific_data.error)}"
                             for event in steps)
    else:
        failures = (context.failure_event.message or "the run failed before any step").strip()
    return f"Run {run.run_id} of job {run.job_name} failed: {failures}"


@dg.run_failure_sensor(name="alert_on_run_failure", default_status=dg.DefaultSensorStatus.RUNNING,
                       description="Records an alert (TRACKER_HOME/alerts/alerts.jsonl, and the webhook when one is "
                       "configured) for every failed run, naming the job, the run and the failing step's error.")
def alert_on_run_failure(context: dg.RunFailureSensorContext, settings: TrackerConfig):
    run = context.dagster_run
    alert = record_alert(settings.home, "run failure", run.job_name, run_failure_message(context),
                         webhook_url=configured_webhook(), key=f"run:{run.run_id}")
    context.log.info(f"Alert recorded for run {run.run_id} (webhook: {alert.webhook_outcome}).")


def freshness_breaches(home: Path, now: dt.datetime | None = None) -> list[Breach]:
    """What is overdue in the published snapshot: each stale source, and the snapshot itself past its window."""
    now = now or dt.datetime.now(dt.UTC)
    breaches = []
    manifest = manifest_path(home)
    if manifest.exists():
        published_at = dt.datetime.fromisoformat(json.loads(manifest.read_text(encoding="utf-8"))["published_at"])
        age = now - published_at
        if age > dt.timedelta(days=SNAPSHOT_FRESH_WITHIN_DAYS):
            breaches.append(Breach(
                f"snapshot:{published_at.isoformat()}", "snapshot stale", "published snapshot",
                f"The published snapshot is {age.days} days old (published {published_at:%d %B %Y %H:%M} UTC; "
                f"expected within {SNAPSHOT_FRESH_WITHIN_DAYS} days): the dashboard shows old figures."))
    if snapshot_path(home).exists():
        con = duckdb.connect(str(snapshot_path(home)), read_only=True)
        try:
            stale = con.execute("SELECT source, name, latest_date, days_old, fresh_within_days, cadence "
                                "FROM marts.sources WHERE freshness = 'stale' ORDER BY source").fetchall()
        finally:
            con.close()
        for source, name, latest, days_old, window, cadence in stale:
            breaches.append(Breach(
                f"source:{source}:{latest}", "source stale", name,
                f"{name}: the latest data is from {latest:%d %B %Y}, {days_old} days before the reporting date "
                f"(expected within {window} days: {cadence})."))
    return breaches


@dg.sensor(name="alert_on_stale_data", minimum_interval_seconds=FRESHNESS_INTERVAL_SECONDS,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Reads the published snapshot every 10 minutes and records an alert, once per breach, for "
           f"each source gone stale (marts.sources) and for a snapshot older than {SNAPSHOT_FRESH_WITHIN_DAYS} "
           "days. Starts no run.")
def alert_on_stale_data(context: dg.SensorEvaluationContext, settings: TrackerConfig):
    if not manifest_path(settings.home).exists():
        return dg.SkipReason("Nothing has been published yet, so there is nothing to judge.")
    breaches = freshness_breaches(settings.home)
    alerts = alert_breaches(settings.home, breaches, webhook_url=configured_webhook() if breaches else None)
    if alerts:
        return dg.SkipReason(f"{len(alerts)} new alert(s): " + "; ".join(a.subject for a in alerts) + ".")
    return dg.SkipReason(f"No new breach ({len(breaches)} already alerted)." if breaches else "Everything is fresh.")
