"""Read-only access to the published snapshot: the only data the dashboard ever opens.

Each query opens a short-lived read-only DuckDB connection and closes it, so a
pipeline run never waits for the dashboard. Publishing swaps a new file in with
``os.replace``: a connection that is already open keeps reading the old file,
and the next one opens the new. Results are cached by the snapshot's version
(from its manifest), so a new publication is picked up on the next rerun.

Every query the dashboard runs lives here, as a function named for what it returns; the pages,
components and sections only lay out what these return and hold no SQL. Values are always bound
as parameters, never written into the SQL.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import duckdb
import pandas as pd
import streamlit as st

from tracker.settings import manifest_path, snapshot_path

LOCK_RETRIES = 20
LOCK_WAIT_SECONDS = 0.1


class SnapshotMissing(Exception):
    """No snapshot has been published yet (or it cannot be opened)."""


@dataclass(frozen=True)
class SnapshotInfo:
    version: str
    published_at: str
    as_of: str
    as_of_note: str = ""  # why the reporting date is not today (the demo's date)


def snapshot_info() -> SnapshotInfo:
    """The published version, read from the manifest the publish step writes after swapping the file in."""
    try:
        manifest = json.loads(manifest_path().read_text(encoding="utf-8"))
        return SnapshotInfo(manifest["version"], manifest["published_at"], manifest["as_of"],
                            manifest.get("as_of_note") or "")
    except (OSError, ValueError, KeyError):
        raise SnapshotMissing(
            "No published figures were found. Run `tracker run` (or `tracker demo`) to build and publish them."
        ) from None


def _connect() -> duckdb.DuckDBPyConnection:
    """A read-only connection, retried briefly if the file is locked or mid-swap."""
    path = snapshot_path()
    for attempt in range(LOCK_RETRIES):
        try:
            return duckdb.connect(str(path), read_only=True)
        except duckdb.IOException:
            if attempt == LOCK_RETRIES - 1:
                break
            time.sleep(LOCK_WAIT_SECONDS)
    raise SnapshotMissing("The published figures could not be opened just now. Reload the page in a moment.")


def _read(sql: str, params: tuple) -> pd.DataFrame:
    con = _connect()
    try:
        return con.execute(sql, list(params)).df()
    finally:
        con.close()


@st.cache_data(ttl=3600, max_entries=512, show_spinner=False)
def _cached_query(version: str, sql: str, params: tuple) -> pd.DataFrame:
    return _read(sql, params)


def _query(sql: str, *params) -> pd.DataFrame:
    """Run a read-only query on the published snapshot; cached until a new snapshot is published."""
    return _cached_query(snapshot_info().version, sql, tuple(params))  # st.cache_data returns a fresh copy


# ---------------------------------------------------------------- platforms: measures and their history
def column_descriptions(table: str) -> dict[str, str]:
    """What each column of a mart means, from the dbt project's descriptions published with the snapshot."""
    frame = _query("SELECT column_name, description FROM meta.column_descriptions WHERE table_name = ?", table)
    return dict(zip(frame["column_name"], frame["description"], strict=True))


def platform_headlines(platform: str) -> pd.DataFrame:
    """Every measure of one platform (marts.platform_headlines): its headline measure first, then by metric."""
    return _query("SELECT * FROM marts.platform_headlines WHERE platform = ? ORDER BY NOT is_headline, metric",
                  platform)


def all_platform_headlines() -> pd.DataFrame:
    """Every measure of every platform: latest figure, previous quarter's, change, source and freshness."""
    return _query("SELECT * FROM marts.platform_headlines")


def platform_latest_dates() -> pd.DataFrame:
    """Each platform's latest data date (platform, latest_date), from its headline measure."""
    return _query("SELECT platform, latest_date FROM marts.platform_headlines WHERE is_headline")


def definition_notes(metric: str) -> pd.DataFrame:
    """Periods in which the source defined the measure differently (note, first and last date), oldest first."""
    return _query("SELECT definition_note AS note, min(date) AS first_date, max(date) AS last_date "
                  "FROM marts.metric_series WHERE metric = ? AND definition_note IS NOT NULL GROUP BY 1 ORDER BY 2",
                  metric)


def metric_history(metric: str) -> pd.DataFrame:
    """One measure over time (date, value, and the source's note where it defined the measure differently), oldest
    first."""
    return _query("SELECT date, value, definition_note FROM marts.metric_series WHERE metric = ? ORDER BY date",
                  metric)


def metric_history_to_reporting_date(metric: str) -> pd.DataFrame:
    """One measure over time (date, value), oldest first, up to the reporting date."""
    return _query("SELECT date, value FROM marts.metric_series WHERE metric = ? "
                  "AND date <= (SELECT max(as_of) FROM marts.platform_headlines) ORDER BY date", metric)


def platform_history(platform: str, leave_out_metric: str | None = None) -> pd.DataFrame:
    """Every measure of one platform over time (date, measure, value), oldest first; optionally without one
    metric (every metric in the series has a name, so with None nothing is left out)."""
    return _query("SELECT date, measure, value FROM marts.metric_series WHERE platform = ? "
                  "AND metric IS DISTINCT FROM ? ORDER BY date", platform, leave_out_metric)


def notify_live_by_department() -> pd.DataFrame:
    """GOV.UK Notify's live services per department at the tracker's latest fetch of Notify's performance page
    (department, code, organisations, live services, when fetched, data date), largest first; empty when the
    Notify feed has not been fetched (or the snapshot was published before the tracker kept it)."""
    present = _query("SELECT count(*) AS n FROM duckdb_tables() WHERE schema_name = 'marts' "
                     "AND table_name = 'notify_live_by_department'")
    if not int(present["n"].iloc[0]):
        return pd.DataFrame(columns=["department_name", "department_code", "organisations", "live_services",
                                     "fetched_at", "data_date"])
    return _query("SELECT department_name, department_code, organisations, live_services, fetched_at, data_date "
                  "FROM marts.notify_live_by_department ORDER BY live_services DESC, department_code")


# ---------------------------------------------------------------- skills and barriers
def digital_capacity_national() -> pd.DataFrame:
    """The civil service's DDaT profession headcount and share per year (Civil Service Statistics), oldest first."""
    return _query("SELECT year, as_at, ddat_headcount, total_headcount, ddat_share_pct, unknown_profession_share_pct, "
                  "low_coverage, definition FROM marts.digital_capacity_national ORDER BY as_at")


def digital_capacity() -> pd.DataFrame:
    """Each department's DDaT profession headcount and share per year, as published on each date (a split body under
    its old name), latest year first, then largest share first."""
    return _query("SELECT department_name, department_code, name_as_published, year, as_at, ddat_headcount, "
                  "total_headcount, ddat_share_pct, unknown_profession_share_pct, low_coverage, mapping_note, "
                  "successor_departments FROM marts.digital_capacity "
                  "ORDER BY as_at DESC, ddat_share_pct DESC NULLS LAST, department_name")


def department_digital_capacity(department_code: str, department_name: str) -> pd.DataFrame:
    """One department's DDaT share per year, oldest first, with any year counted under a body it succeeded (named as
    a successor of a split body that was not divided)."""
    return _query("SELECT year::VARCHAR AS year, as_at, name_as_published, ddat_headcount, total_headcount, "
                  "ddat_share_pct, "
                  "unknown_profession_share_pct, low_coverage, mapping_note FROM marts.digital_capacity "
                  "WHERE department_code = ? OR (department_code IS NULL AND "
                  "list_contains(string_split(successor_departments, '; '), ?)) ORDER BY as_at",
                  department_code, department_name)


def published_figures() -> pd.DataFrame:
    """What the government said beside the tracker's figure for the same thing, by subject, oldest first."""
    return _query("SELECT subject, wording, value, unit, as_at AS stated_for, as_at_precision, said_by, tracker_value, "
                  "tracker_date, difference AS figure_difference, difference_pct, comparison, source_url "
                  "FROM marts.published_figures ORDER BY subject, as_at")


def civil_servant_surveys() -> pd.DataFrame:
    """What civil servants said about digital skills and barriers in the surveys of 2015-2017, as worded."""
    return _query("SELECT survey, period, finding, percent, percent_value, sample, source AS survey_source "
                  "FROM marts.civil_servant_surveys ORDER BY period, survey")


def return_barriers() -> pd.DataFrame:
    """How many departments and organisations named each barrier in their returns, per quarter, in list order."""
    return _query("SELECT b.*, q.quarter_end FROM marts.return_barriers b LEFT JOIN "
                  "(SELECT DISTINCT reporting_quarter, quarter_end FROM marts.return_adoption) q USING "
                  "(reporting_quarter) ORDER BY q.quarter_end, b.barrier_order")


def department_return_skills(department_code: str) -> pd.DataFrame:
    """The skills figures of a department's organisations, from each one's latest accepted return."""
    return _query("""
        SELECT organisation_name, reporting_quarter, skills_reported, ddat_staff_fte, ddat_vacancies,
               senior_civil_servants, senior_civil_servants_trained, main_barriers,
               'version ' || contract_version AS contract_version, is_illustrative
        FROM marts.return_skills a
        WHERE level = 'organisation' AND department_code = ?
          AND reporting_quarter = (SELECT b.reporting_quarter FROM marts.return_skills b
                                   WHERE b.level = 'organisation' AND b.organisation_code = a.organisation_code
                                   ORDER BY b.reporting_quarter DESC LIMIT 1)
        ORDER BY organisation_name""", department_code)


def adoption_and_digital_share() -> pd.DataFrame:
    """Each department's latest DDaT share beside its GOV.UK Pay live services and One Login services (the league
    table's), for departments with both."""
    return _query("""
        SELECT l.department_name, c.year, c.ddat_share_pct, c.low_coverage, l.pay_live_services,
               l.one_login_services, l.returned_adoption_rate
        FROM marts.department_league l
        JOIN (SELECT * FROM marts.digital_capacity WHERE department_code IS NOT NULL
              QUALIFY row_number() OVER (PARTITION BY department_code ORDER BY as_at DESC) = 1) c
          USING (department_code)
        ORDER BY l.department_name""")


# ---------------------------------------------------------------- overview: targets
def target_progress() -> pd.DataFrame:
    """Every target: status, baseline, latest figure, trajectory, forecast and where the target comes from."""
    return _query("SELECT * FROM marts.target_progress")


def target_series() -> pd.DataFrame:
    """The history of every measure a target is tracked by (metric, date, value, is_illustrative), oldest
    first, up to the targets' reporting date."""
    return _query("SELECT metric, date, value, is_illustrative FROM marts.metric_series "
                  "WHERE metric IN (SELECT tracked_by FROM marts.target_progress) "
                  "AND date <= (SELECT max(as_of) FROM marts.target_progress) ORDER BY date")


# ---------------------------------------------------------------- platform pages' shared sections
def department_figures_latest_month(platform: str, measure: str) -> pd.DataFrame:
    """The latest month's figure per department, its agencies and other bodies summed (department,
    department_code, value, month), largest first."""
    return _query("""
        SELECT department_name AS department, department_code, sum(value) AS value, max(month) AS month,
               max(data_date) AS data_date
        FROM marts.adoption_by_department_month
        WHERE platform = ? AND measure = ? AND department_name IS NOT NULL
          AND month = (SELECT max(month) FROM marts.adoption_by_department_month WHERE platform = ? AND measure = ?)
        GROUP BY ALL ORDER BY value DESC, department""", platform, measure, platform, measure)


def organisation_kinds_latest_month(platform: str, measure: str) -> pd.DataFrame:
    """The latest month's figure by kind of organisation (kind, value, month): central government
    departments and their bodies, bodies outside GOV.UK, or unmatched names; largest first."""
    return _query("""
        SELECT CASE WHEN attribution = 'department' THEN 'central government departments and their bodies'
                    ELSE replace(attribution, 'not a GOV.UK organisation: ', '') END AS kind,
               sum(value) AS value, max(month) AS month, max(data_date) AS data_date
        FROM marts.adoption_by_department_month
        WHERE platform = ? AND measure = ?
          AND month = (SELECT max(month) FROM marts.adoption_by_department_month WHERE platform = ? AND measure = ?)
        GROUP BY ALL ORDER BY value DESC""", platform, measure, platform, measure)


def department_movers(platform: str, measure: str) -> pd.DataFrame:
    """Each department's change on one platform measure over the last twelve months of data, largest rise first."""
    return _query("SELECT * FROM marts.department_movers WHERE platform = ? AND measure = ? ORDER BY change DESC, "
                  "department_name", platform, measure)


def returned_adoption_by_department(platform: str) -> pd.DataFrame:
    """What departments' returns say for one platform: services in scope, live and planned, and the adoption
    rate, latest quarter first."""
    return _query("""
        SELECT department_name AS department, reporting_quarter, in_scope, live, planned, adoption_rate,
               reported_by, is_illustrative
        FROM marts.return_adoption WHERE level = 'department' AND platform = ?
        ORDER BY quarter_end DESC, adoption_rate DESC NULLS LAST, department_name""", platform)


def returned_adoption_data_date(platform: str):
    """The end of the latest quarter any return reported on this platform for."""
    return _query("SELECT max(quarter_end) AS d FROM marts.return_adoption WHERE platform = ?", platform)["d"].iloc[0]


# ---------------------------------------------------------------- GOV.UK Pay
def pay_monthly() -> pd.DataFrame:
    """GOV.UK Pay month by month: live services, organisations, payments and their value in the month."""
    return _query("SELECT month, live_services, organisations, payments_in_month, amount_gbp_in_month, "
                  "last_version, is_partial, data_to, payments_not_shown, amount_gbp_not_shown "
                  "FROM marts.pay_monthly WHERE last_version IS NOT NULL ORDER BY month")


def pay_sectors_monthly() -> pd.DataFrame:
    """GOV.UK Pay's own live services count per sector at each month end."""
    return _query("SELECT month, sector, live_services FROM marts.pay_sector_monthly ORDER BY month, sector")


# ---------------------------------------------------------------- GOV.UK One Login
def one_login_plans() -> pd.DataFrame:
    """Per quarter, how many expected departments reported a One Login adoption plan, oldest first."""
    return _query("SELECT * FROM marts.return_department_plans ORDER BY quarter_end")


# ---------------------------------------------------------------- GOV.UK Forms and data sharing (from returns)
def returned_forms() -> pd.DataFrame:
    """Forms online and paper only from departments' returns, for all returning organisations together and by
    department (not each organisation's row: 58,279 of 59,919 rows at national size, which the page never shows),
    oldest quarter first."""
    return _query("SELECT * FROM marts.return_forms WHERE level IN ('all returning organisations', 'department') "
                  "ORDER BY quarter_end, level, organisation_name")


def returned_data_sharing_by_department() -> pd.DataFrame:
    """Data sharing agreements and APIs published from departments' returns, latest quarter first."""
    return _query("SELECT department_name, reporting_quarter, data_sharing_agreements, apis_published, "
                  "organisations_reporting, is_illustrative, quarter_end FROM marts.return_forms "
                  "WHERE level = 'department' ORDER BY quarter_end DESC, data_sharing_agreements DESC")


# ---------------------------------------------------------------- departments: the league table and one department
def department_league() -> pd.DataFrame:
    """One row per department, in the league's order: most platforms used, then most GOV.UK Pay live
    services, then by name."""
    return _query("SELECT * FROM marts.department_league "
                  "ORDER BY platforms_used DESC, pay_live_services DESC, department_name")


def departments_by_name() -> pd.DataFrame:
    """The league table in alphabetical order of department, for choosing one."""
    return department_league().sort_values("department_name", kind="stable", ignore_index=True)


def department_organisations(department_code: str) -> pd.DataFrame:
    """A department's organisations on the platforms: the department first, then by GOV.UK Pay live services."""
    return _query("SELECT organisation_name, organisation_code, organisation_type, is_department, "
                  "pay_live_services, pay_names, one_login_services, apis_published, "
                  "notify_agreement_signed_2019 FROM marts.organisation_adoption WHERE department_code = ? "
                  "ORDER BY NOT is_department, pay_live_services DESC, organisation_name", department_code)


def department_submissions(department_code: str, scope: tuple[str, ...]) -> pd.DataFrame:
    """Every return a department and its agencies sent, newest first; file names and outcomes' details only where
    ``scope`` (the viewer's organisations, see ``sees``) allows."""
    return _query(f"""
        SELECT s.reporting_quarter, s.organisation_name, s.submission_ref,
               CASE WHEN {SEES.format(code="s.organisation_code")} THEN s.file_name END AS file_name,
               s.received_at, s.status,
               CASE WHEN {SEES.format(code="s.organisation_code")} THEN s.summary END AS summary,
               s.is_current, s.is_superseded, s.is_illustrative
        FROM marts.return_submissions s
        JOIN staging.organisations o ON o.organisation_code = s.organisation_code
        WHERE o.department_code = ? ORDER BY s.received_at DESC""", *_scope(scope), *_scope(scope), department_code)


def department_returns_status(department_code: str) -> pd.DataFrame:
    """The returns a department and its agencies are expected to send, latest quarters first (at most 40)."""
    return _query("SELECT organisation_name, reporting_quarter, deadline, status, received_at, days_late, "
                  "needs_chasing FROM marts.returns_status WHERE department_code = ? "
                  "ORDER BY quarter_end DESC, organisation_name LIMIT 40", department_code)


def department_plans(department_code: str) -> pd.DataFrame:
    """Services not yet live in a department's organisations, from each one's latest return."""
    return _query("""
        SELECT organisation_name, platform, reporting_quarter, in_scope, live, planned, not_yet_live, adoption_rate,
               is_illustrative
        FROM marts.return_adoption a
        WHERE level = 'organisation' AND department_code = ?
          AND quarter_end = (SELECT max(quarter_end) FROM marts.return_adoption b
                             WHERE b.level = 'organisation' AND b.organisation_code = a.organisation_code)
        ORDER BY organisation_name, platform""", department_code)


def department_reconciliation(department_code: str) -> pd.DataFrame:
    """A department's returned GOV.UK Pay figures against GOV.UK Pay's own, differences beyond tolerance first."""
    return _query("SELECT organisation_name, reporting_quarter, reported_live, published_live, difference, "
                  "tolerance, outcome, published_names, published_date, is_illustrative "
                  "FROM marts.return_reconciliation WHERE department_code = ? "
                  "ORDER BY beyond_tolerance DESC, reporting_quarter DESC", department_code)


# ---------------------------------------------------------------- returns
# What a department sent (file names, problems that echo its values, notes, who sent it) is shown only to that
# department and to CDDO; everyone else sees the status. Each query below takes the viewer's scope (from
# tracker.access.Viewer.scope: ("*",) for everything, their organisation codes, or () for none) as parameters, so
# the scope is part of every cache key and the filtering is done here, in SQL, not on the page.
SEES = "(? OR list_contains(?::VARCHAR[], {code}))"
SENT_VALUES = ("file_name", "summary")  # the columns of return_submissions shown only to those who may see them
# What the returns pages show of each return: not its warnings and lenient readings (long JSON text, shown on the
# sender's own page), which made reading every return at national size take 440 ms instead of 100
SUBMISSION_COLUMNS = ("submission_ref", "organisation_code", "organisation_name", "department_name", "file_name",
                      "channel", "is_illustrative", "received_at", "reporting_quarter", "status", "problem_count",
                      "warning_count", "summary", "duplicate_of", "is_current", "is_superseded")


def _scope(scope: tuple[str, ...]) -> tuple[bool, list[str]]:
    return "*" in scope, [code for code in scope if code != "*"]


# ---------------------------------------------------------------- returns lists, a page at a time
# Reading every return received into the page (61,323 at national size) took 250 to 360 ms, most of it the cache
# pickling the frame: a list shows a page, its counts come from SQL over every row, and the whole list is read
# only for a download, uncached.
PAGE_SIZE = 200
NEWEST_FIRST = "ORDER BY received_at DESC, submission_ref DESC"  # the reference breaks ties, so pages never overlap


@dataclass(frozen=True)
class ReturnsFilter:
    """Which returns a list shows: one organisation (code), quarter or status, or every one (None); and whether only
    those whose sent values the viewer may see. Applied in SQL, so the counts, pages and download agree."""
    organisation: str | None = None
    quarter: str | None = None
    status: str | None = None
    values_shown: bool = False


EVERY_RETURN = ReturnsFilter()


def _where(filters: ReturnsFilter, scope: tuple[str, ...]) -> tuple[str, list]:
    """The filter as SQL conditions (TRUE when it chooses every return) and the values they bind, in order."""
    conditions, values = ["TRUE"], []
    for column, value in (("organisation_code", filters.organisation), ("reporting_quarter", filters.quarter),
                          ("status", filters.status)):
        if value is not None:
            conditions.append(f"{column} = ?")
            values.append(value)
    if filters.values_shown:
        conditions.append(SEES.format(code="organisation_code"))
        values += _scope(scope)
    return " AND ".join(conditions), values


def _page(sql: str, params: list, limit: int | None, offset: int) -> pd.DataFrame:
    """``limit`` rows of a newest-first list from ``offset`` (cached); with ``limit`` None every row from there,
    read uncached: only a download asks for that, and the cache would pickle and keep the whole list."""
    if limit is None:
        snapshot_info()  # no snapshot: the same plain message as every other query
        return _read(f"{sql} OFFSET ?", (*params, offset))
    return _query(f"{sql} LIMIT ? OFFSET ?", *params, limit, offset)


def _counts(mart: str, where: str, values: list, scope: tuple[str, ...]) -> pd.DataFrame:
    """Returns by status over every row ``where`` chooses: how many, how many the viewer may not see the sent
    values of, and how many are ILLUSTRATIVE samples (and whether any is); most first."""
    return _query(f"SELECT status, count(*) AS returns, "
                  f"count(*) FILTER (WHERE NOT {SEES.format(code='organisation_code')}) AS not_shown, "
                  f"count(*) FILTER (WHERE is_illustrative) AS illustrative, "
                  f"bool_or(is_illustrative) AS is_illustrative FROM {mart} WHERE {where} "
                  "GROUP BY status ORDER BY returns DESC, status", *_scope(scope), *values)


def _choices(mart: str, where: str, values: list) -> pd.DataFrame:
    """What a returns list can be filtered by (kind: organisation, quarter or status; value; name): organisations
    by name, quarters newest first, statuses by name."""
    return _query(f"""
        WITH chosen AS (SELECT organisation_code, organisation_name, reporting_quarter, status FROM {mart}
                        WHERE {where})
        SELECT 'organisation' AS kind, organisation_code AS value, any_value(organisation_name) AS name FROM chosen
        WHERE organisation_code IS NOT NULL GROUP BY organisation_code
        UNION ALL SELECT DISTINCT 'quarter', reporting_quarter, reporting_quarter FROM chosen
        WHERE reporting_quarter IS NOT NULL
        UNION ALL SELECT DISTINCT 'status', status, status FROM chosen WHERE status IS NOT NULL
        ORDER BY kind, CASE WHEN kind = 'organisation' THEN lower(coalesce(name, value)) END,
                 CASE WHEN kind = 'quarter' THEN value END DESC, value""", *values)


def returns_status_current_quarter(scope: tuple[str, ...]) -> pd.DataFrame:
    """Every organisation expected to return for the current quarter: those to chase first, then most late."""
    return _query(f"SELECT * REPLACE (CASE WHEN {SEES.format(code='organisation_code')} THEN last_summary END "
                  "AS last_summary) FROM marts.returns_status WHERE is_current_quarter AND expected "
                  "ORDER BY needs_chasing DESC, days_late DESC, organisation_name", *_scope(scope))


def return_submissions(scope: tuple[str, ...], filters: ReturnsFilter = EVERY_RETURN, limit: int | None = PAGE_SIZE,
                       offset: int = 0) -> pd.DataFrame:
    """One page of the returns received that ``filters`` chooses, newest first, with whether the viewer may see
    what was sent (``sees_values``); ``limit`` None reads them all, for a download."""
    sees = SEES.format(code="organisation_code")
    shown = ", ".join(f"CASE WHEN {sees} THEN {c} END AS {c}" if c in SENT_VALUES else c for c in SUBMISSION_COLUMNS)
    params = [value for c in SUBMISSION_COLUMNS if c in SENT_VALUES for value in _scope(scope)]
    where, values = _where(filters, scope)
    return _page(f"SELECT {shown}, {sees} AS sees_values FROM marts.return_submissions WHERE {where} {NEWEST_FIRST}",
                 [*params, *_scope(scope), *values], limit, offset)


def return_submission_counts(scope: tuple[str, ...], filters: ReturnsFilter = EVERY_RETURN) -> pd.DataFrame:
    """How many returns received ``filters`` chooses, by status (status, returns, not_shown: those whose sent
    values the viewer may not see, is_illustrative: any of them a sample), counted over every one."""
    where, values = _where(filters, scope)
    return _counts("marts.return_submissions", where, values, scope)


def return_submission_choices() -> pd.DataFrame:
    """The organisations, quarters and statuses of the returns received, to filter them by (kind, value, name)."""
    return _choices("marts.return_submissions", "TRUE", [])


def return_problems(scope: tuple[str, ...]) -> pd.DataFrame:
    """Every problem found in a return the viewer may see, newest return first, then by row and column."""
    return _query(f"SELECT * FROM marts.return_problems WHERE {SEES.format(code='organisation_code')} "
                  "ORDER BY received_at DESC, submission_ref, row_number, column_letter", *_scope(scope))


def return_outcomes(scope: tuple[str, ...], filters: ReturnsFilter = EVERY_RETURN, limit: int | None = PAGE_SIZE,
                    offset: int = 0) -> pd.DataFrame:
    """What happened to one page of the returns the viewer may see (and ``filters`` chooses), whatever the
    reporting date, newest first, each with its problems (a list of row, column and message); ``limit`` None reads
    them all, for a download."""
    where, values = _where(filters, scope)
    return _page(f"SELECT * FROM marts.return_outcomes WHERE {SEES.format(code='organisation_code')} AND {where} "
                 f"{NEWEST_FIRST}", [*_scope(scope), *values], limit, offset)


def return_outcome_counts(scope: tuple[str, ...], filters: ReturnsFilter = EVERY_RETURN) -> pd.DataFrame:
    """How many of the returns the viewer may see ``filters`` chooses, by status, counted over every one (the
    columns of ``return_submission_counts``)."""
    where, values = _where(filters, scope)
    return _counts("marts.return_outcomes", f"{SEES.format(code='organisation_code')} AND {where}",
                   [*_scope(scope), *values], scope)


def return_outcome_choices(scope: tuple[str, ...]) -> pd.DataFrame:
    """The organisations, quarters and statuses of the returns the viewer may see (kind, value, name)."""
    return _choices("marts.return_outcomes", SEES.format(code="organisation_code"), list(_scope(scope)))


def last_accepted_return(organisation_code: str, scope: tuple[str, ...]) -> pd.DataFrame:
    """The organisation's most recently received accepted return (every contract column), if the viewer may see
    it: what the upload page compares a new return with."""
    return _query(f"SELECT * FROM marts.returns_accepted WHERE organisation_code = ? "
                  f"AND {SEES.format(code='organisation_code')} ORDER BY received_at DESC LIMIT 1",
                  organisation_code, *_scope(scope))


def organisation_names() -> dict[str, str]:
    """GOV.UK organisation code to name, for every organisation the tracker knows."""
    frame = _query("SELECT organisation_code, name FROM staging.organisations WHERE organisation_code IS NOT NULL")
    return dict(zip(frame["organisation_code"], frame["name"], strict=True))


def expected_submitters() -> list[str]:
    """The organisations expected to send returns (from data/returns/schedule.yaml, through the marts)."""
    return _query("SELECT DISTINCT organisation_code FROM marts.returns_status WHERE expected "
                  "ORDER BY organisation_code")["organisation_code"].tolist()


# ---------------------------------------------------------------- data quality and sources
def sources() -> pd.DataFrame:
    """Every source: publisher, origin, files kept, data dates and freshness; stale and closed sources first."""
    return _query("SELECT * FROM marts.sources ORDER BY freshness = 'fresh', source")


def feed_problems() -> pd.DataFrame:
    """Every file the latest run could not read (or the problem that kept a source at its last good figures)."""
    return _query("SELECT s.name AS source_name, p.file_name, p.problem, p.consequence, p.sha256, p.found_at "
                  "FROM marts.feed_problems p JOIN marts.sources s USING (source) ORDER BY s.name, p.file_name")


def check_results() -> pd.DataFrame:
    """The latest result of every data check: failed and warnings first."""
    return _query("SELECT * FROM meta.check_results ORDER BY outcome = 'passed', outcome, asset, check_name")


def alerts(latest: int = 20) -> pd.DataFrame | None:
    """The latest alerts published with the snapshot, newest first; None for a snapshot published before alerts."""
    if _query("SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'meta' "
              "AND table_name = 'alerts'")["n"].iloc[0] == 0:
        return None
    return _query("SELECT * FROM meta.alerts ORDER BY alerted_at DESC LIMIT ?", latest)


def quarantine_counts() -> pd.DataFrame:
    """Problems held in quarantine per validation rule (rule, problems, returns, still_current), most first."""
    return _query("SELECT rule, count(*) AS problems, count(DISTINCT submission_ref) AS returns, "
                  "bool_or(is_current) AS still_current FROM marts.return_problems GROUP BY 1 ORDER BY 2 DESC")


def rejected_returns_count():
    """How many returns were rejected."""
    return _query("SELECT count(*) AS n FROM marts.return_submissions WHERE status = 'rejected'")["n"].iloc[0]


def returns_data_quality() -> pd.DataFrame:
    """The returns' scores on the Government Data Quality Framework's dimensions."""
    return _query("SELECT * FROM marts.return_data_quality")


def organisation_match_coverage() -> pd.DataFrame:
    """How well each platform's organisation names match GOV.UK organisations, at its latest snapshot."""
    return _query("""
        SELECT platform, snapshot_date, organisation_names, matched_names, services, matched_services,
               outside_govuk_services, unmatched_services, matched_share, matched_share_excluding_outside
        FROM staging.organisation_match_coverage
        WHERE snapshot_date IS NULL OR (platform, snapshot_date) IN
              (SELECT (platform, max(snapshot_date)) FROM staging.organisation_match_coverage GROUP BY platform)
        ORDER BY platform""")


def organisation_match_trend(platform: str) -> pd.DataFrame:
    """The share of one platform's matchable services matched to a GOV.UK organisation, at each snapshot."""
    return _query("SELECT snapshot_date, matched_share_excluding_outside FROM staging.organisation_match_coverage "
                  "WHERE platform = ? ORDER BY snapshot_date", platform)


def figure_sources() -> pd.DataFrame:
    """Where every platform figure comes from: its source, origin and newest file (with its sha256)."""
    return _query("""
        SELECT h.platform, h.measure, h.latest_value, h.latest_date, h.source_name, h.publisher, s.origin,
               s.newest_file, s.newest_file_sha256, h.freshness, h.is_illustrative
        FROM marts.platform_headlines h LEFT JOIN marts.sources s ON s.source = h.source
        ORDER BY h.platform, h.measure""")
