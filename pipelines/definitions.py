"""The one Definitions object: every asset, check, job, schedule and resource."""

from __future__ import annotations

import dagster as dg

from assets import (
    data_sharing,
    declarations,
    feeds,
    forms,
    marts,
    notify,
    notify_live,
    one_login,
    organisation_matching,
    organisations,
    pay,
    publish,
    returns,
    returns_ahead,
    returns_windows,
    skills,
    targets,
    verify,
)
from checks import platform_checks, return_checks
from pipelines.alerting import alert_on_run_failure, alert_on_stale_data
from pipelines.progress import progress_logger
from pipelines.run_health import fail_killed_runs
from pipelines.schedules import (
    close_returns_window_job,
    feed_schedules,
    returns_reminders,
    returns_reminders_job,
    returns_window_closure,
)
from pipelines.sensors import ingest_returns_job, receipt_sender, return_inbox_sensor
from tracker import settings
from tracker.resources import TrackerConfig, TrackerWarehouse

all_assets = [
    *dg.load_assets_from_modules(
        [organisations, organisation_matching, targets, declarations, pay, forms, notify, notify_live, one_login,
         verify, data_sharing, skills, returns, returns_windows, marts, publish]
    ),
]
all_checks = [*platform_checks.all_checks, *return_checks.return_checks]
# The live feeds' fetch assets (and their checks) reach the internet: kept out of all_assets, which the tests'
# shared build materialises, and out of refresh_all below. Only their schedules (and the UI) run them.
feed_assets = feeds.fetch_assets

refresh_job = dg.define_asset_job(
    "refresh_all",
    # Everything but the feeds group: `tracker run` and `tracker demo` run this job, and must never fetch
    # (CI has no internet). They read the documents already fetched, as the raw assets always do.
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups(feeds.GROUP),
    description="Materialise every asset from the platform archives, the feed documents already fetched and the "
    "returns inbox, and publish the snapshot (without fetching anything).",
    hooks={returns_ahead.start_intake_ahead},  # the returns taken in beside the steps that do not need them
)
feed_refresh_schedules = feed_schedules()

weekly_refresh = dg.ScheduleDefinition(
    name="weekly_refresh",
    job=refresh_job,
    cron_schedule="0 6 * * 2",  # Tuesday 06:00: GOV.UK Pay publishes its figures weekly
    execution_timezone="Europe/London",
    default_status=dg.DefaultScheduleStatus.RUNNING,  # on under the daemon: stale data is what killed its forebears
    description="Weekly refresh after the platforms' weekly publication.",
)


def resources() -> dict:
    home = settings.tracker_home()
    home.mkdir(parents=True, exist_ok=True)
    return {
        "warehouse": TrackerWarehouse(database=str(settings.warehouse_path()), lock_home=str(home)),
        "dbt": marts.dbt_resource(),
        "settings": TrackerConfig(
            data_dir=str(settings.data_dir()), home_dir=str(home), as_of=settings.as_of()
        ),
    }


defs = dg.Definitions(
    assets=[*all_assets, *feed_assets],
    asset_checks=all_checks,
    jobs=[refresh_job, ingest_returns_job, returns_reminders_job, close_returns_window_job],
    sensors=[return_inbox_sensor, receipt_sender, alert_on_run_failure, alert_on_stale_data, fail_killed_runs],
    schedules=[weekly_refresh, returns_reminders, returns_window_closure, *feed_refresh_schedules],
    resources=resources(),
    # One process runs a job's steps in turn: every step writes the one DuckDB file, which allows one writer,
    # and starting a process per step made a return's run take two minutes instead of seconds.
    executor=dg.in_process_executor,
    loggers={"progress": progress_logger},
)
