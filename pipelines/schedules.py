"""The returns calendar: daily reminders that chase returns, and closing each quarter's window after its deadline.

``returns_reminders`` (08:00 UK time, every day) runs ``returns_reminders_job``: the reminders due on the
reporting date (tracker/reminders.py), worked out from the published snapshot and the access file, sent through
GOV.UK Notify and recorded in TRACKER_HOME/reminders/sent.jsonl so nobody is reminded twice. It reads only the
published snapshot, so it never waits for the warehouse.

``returns_window_closure`` (06:30 UK time, every day) asks for a ``close_returns_window`` run only in the week
after a deadline (the deadlines follow from data/returns/schedule.yaml) and only while the published snapshot
does not show that quarter closed. The run takes the inbox and rebuilds the returns marts on the day, records the
closure once (assets/returns_windows.py), and publishes, like every run that changes what readers see.

One schedule per live feed of data/feeds.yaml (``fetch_<source>_feed``, at the feed's cron, in UTC unless
feeds.yaml gives a timezone) fetches the source (assets/feeds.py) and, in the same run, rebuilds everything
downstream of it: raw files, staging, organisation matching, the marts and the published snapshot. The run also
rewrites the declared settings (staging.run_settings: the reporting date is the day of the run), so a document
fetched today is inside the reporting window of the marts it rebuilds.
"""

# No `from __future__ import annotations` here: Dagster must see the op's context and resource types.
import datetime as dt

import dagster as dg

from assets.declarations import TABLES as DECLARED_TABLES
from assets.raw import feed_key
from assets.returns_windows import CLOSE_CATCH_UP_DAYS, CLOSURES_TABLE
from assets.returns_windows import KEYS as WINDOW_KEYS
from pipelines.sensors import ingest_returns_job
from tracker.feeds import load_feeds
from tracker.resources import TrackerConfig

UK = "Europe/London"


# --- reminders --------------------------------------------------------------------------------------


@dg.op(description="Sends the returns reminders due on the reporting date through GOV.UK Notify, each once "
       "(TRACKER_HOME/reminders/sent.jsonl).")
def send_returns_reminders(context: dg.OpExecutionContext, settings: TrackerConfig) -> dg.Output:
    from tracker.access import AccessFileError, read_access_file
    from tracker.reminders import (
        due_reminders,
        reminder_days_before_deadline,
        reminder_settings_from_file,
        returns_due,
        send_due,
    )
    from tracker.settings import access_file, secrets_file, snapshot_path

    today = settings.as_of_date()
    try:
        access = read_access_file(access_file())
    except AccessFileError as error:
        raise dg.Failure(description=f"No reminder can be sent: {error}") from None
    statuses = returns_due(snapshot_path(settings.home), today)
    reminders = due_reminders(today, statuses, access, days_before=reminder_days_before_deadline(settings.data))
    outcomes = send_due(settings.home, reminders, reminder_settings_from_file(secrets_file()))
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.outcome] = counts.get(outcome.outcome, 0) + 1
        if outcome.outcome != "sent":
            context.log.warning(f"{outcome.reminder.kind} reminder for {outcome.reminder.organisation_code} "
                                f"{outcome.reminder.reporting_quarter}: {outcome.outcome}: {outcome.detail}")
    summary = ", ".join(f"{n} {what}" for what, n in sorted(counts.items())) or "nothing new to send"
    context.log.info(f"Reminders on {today:%d %B %Y}: {len(reminders)} due, {summary}.")
    return dg.Output(None, metadata={"reporting date": today.isoformat(), "due": len(reminders),
                                     **{k: v for k, v in sorted(counts.items())}})


@dg.job(name="returns_reminders_job", description="Chase the returns still missing before and after a deadline, "
        "by email through GOV.UK Notify.")
def returns_reminders_job():
    send_returns_reminders()


returns_reminders = dg.ScheduleDefinition(
    name="returns_reminders",
    job=returns_reminders_job,
    cron_schedule="0 8 * * *",
    execution_timezone=UK,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every morning: a 'deadline approaching' reminder before each returns deadline and an 'overdue' one "
    "the day after, to the department submitters of organisations with no accepted return.",
)


# --- closing a returns window -----------------------------------------------------------------------

close_returns_window_job = dg.define_asset_job(
    "close_returns_window",
    # the returns run's selection (the inbox, the returns marts on the reporting date, publishing) and the closure
    selection=ingest_returns_job.selection | dg.AssetSelection.assets(*WINDOW_KEYS),
    description="Close the returns window of the quarter whose deadline has just passed: record who was on time, "
    "late or missing, once, then publish.",
)


def window_just_closed(today: dt.date, deadline_days: int) -> tuple[str, dt.date] | None:
    """(quarter, deadline) when a quarter's deadline passed 1 to CLOSE_CATCH_UP_DAYS days before ``today``."""
    from checks.return_contract import Quarter

    quarter = Quarter.containing(today)
    for _ in range(3):  # a deadline is at most a few months after its quarter's end
        quarter = quarter.previous()
        deadline = quarter.end + dt.timedelta(days=deadline_days)
        if 1 <= (today - deadline).days <= CLOSE_CATCH_UP_DAYS:
            return quarter.label, deadline
    return None


def closed_in_snapshot(home, quarter: str) -> bool:
    """Whether the published snapshot already shows the quarter's window closed (False if it cannot say)."""
    import duckdb

    from tracker.settings import snapshot_path

    path = snapshot_path(home)
    if not path.exists():
        return False
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return False
    try:
        return con.execute(f"SELECT count(*) FROM {CLOSURES_TABLE} WHERE reporting_quarter = ?",
                           [quarter]).fetchone()[0] > 0
    except duckdb.Error:  # published before any window was closed
        return False
    finally:
        con.close()


@dg.schedule(job=close_returns_window_job, cron_schedule="30 6 * * *", execution_timezone=UK,
             default_status=dg.DefaultScheduleStatus.RUNNING,
             description="Every morning, but acts only in the week after a returns deadline: closes that quarter's "
             "returns window once (audit.returns_window_closures) and publishes.")
def returns_window_closure(context: dg.ScheduleEvaluationContext, settings: TrackerConfig):
    from assets.returns import load_schedule

    today = settings.as_of_date()
    window = window_just_closed(today, load_schedule(settings.data)["deadline_days"])
    if window is None:
        return dg.SkipReason(f"No returns deadline passed in the {CLOSE_CATCH_UP_DAYS} days before {today}.")
    quarter, deadline = window
    if closed_in_snapshot(settings.home, quarter):
        return dg.SkipReason(f"The {quarter} returns window is closed already.")
    return dg.RunRequest(run_key=f"close-{quarter}-{today.isoformat()}",
                         run_config={"ops": {"returns_window_closures": {"config": {"quarter": quarter}}}},
                         tags={"reporting_quarter": quarter, "deadline": deadline.isoformat()})


# --- fetching the live feeds ------------------------------------------------------------------------


def feed_job(source: str, publisher: str):
    """The source's fetch asset and everything downstream of it, with the declared settings, in one run."""
    selection = (dg.AssetSelection.assets(feed_key(source)).downstream()
                 | dg.AssetSelection.assets(*(table.split(".") for table in DECLARED_TABLES)))
    return dg.define_asset_job(
        f"fetch_{source}_feed",
        selection=selection.required_multi_asset_neighbors(),
        description=f"Fetch {publisher}'s live feed, keep a new document, and rebuild and publish what depends on "
        "it. A failed fetch changes no figure: the feed's check says why.",
    )


def feed_schedules() -> list[dg.ScheduleDefinition]:
    """One schedule per feed of data/feeds.yaml, at its cron."""
    return [
        dg.ScheduleDefinition(
            name=f"fetch_{source}_feed",
            job=feed_job(source, feed.publisher),
            cron_schedule=feed.schedule,
            execution_timezone=feed.timezone,
            default_status=dg.DefaultScheduleStatus.RUNNING,
            description=f"Fetches {feed.publisher}'s live feed at the rate it publishes (data/feeds.yaml), then "
            "rebuilds and publishes what depends on it.",
        )
        for source, feed in load_feeds().items()
    ]
