"""Marts that compare: each headline against the previous period, departments against each other,
organisations within their department, and every source against how fresh it should be.

They exist so the dashboard reads small pre-aggregated tables and does no
arithmetic of its own: what it shows is what these queries computed.
"""

from __future__ import annotations

from assets.marts import Mart, mart_asset
from tracker.sources import SOURCES, freshness_sql, sources_sql

# The one measure per platform that the overview leads with.
HEADLINE_METRICS = ("pay_live_services", "notify_agreements_signed", "one_login_services_onboarded",
                    "verify_accounts_cumulative", "forms_live_forms", "apis_published")

PLATFORM_HEADLINES_SQL = f"""
WITH sources AS ({sources_sql()}),
series AS (SELECT * FROM marts.metric_series WHERE date <= $as_of::DATE),
latest AS (
    SELECT platform, metric, measure, max(date) AS latest_date, arg_max(value, date) AS latest_value,
           arg_max(is_illustrative, date) AS is_illustrative
    FROM series GROUP BY ALL
),
previous AS (
    -- the previous period: the last figure dated on or before the end of the quarter before the latest figure's
    SELECT l.metric, (date_trunc('quarter', l.latest_date) - INTERVAL 1 DAY)::DATE AS previous_period_end,
           max(s.date) AS previous_date, arg_max(s.value, s.date) AS previous_value
    FROM latest l LEFT JOIN series s
      ON s.metric = l.metric AND s.date < date_trunc('quarter', l.latest_date)
    GROUP BY ALL
)
SELECT l.platform, l.metric, l.measure, l.metric IN {HEADLINE_METRICS} AS is_headline,
       l.latest_date, l.latest_value, p.previous_period_end, p.previous_date, p.previous_value,
       l.latest_value - p.previous_value AS change,
       round((l.latest_value - p.previous_value) / nullif(p.previous_value, 0), 4) AS change_share,
       l.is_illustrative, s.source, s.name AS source_name, s.publisher,
       date_diff('day', l.latest_date, $as_of::DATE) AS days_old, s.fresh_within_days,
       {freshness_sql("l.latest_date")} AS freshness, s.closed_note,
       $as_of::DATE AS as_of
FROM latest l
LEFT JOIN previous p USING (metric)
LEFT JOIN sources s
  ON s.source = 'returns' AND starts_with(l.metric, 'returns_')
  OR NOT starts_with(l.metric, 'returns_') AND list_contains(s.platforms, l.platform)
ORDER BY l.platform, NOT is_headline, l.metric
"""

# Per department, platform and measure: the change over the last twelve months (or since the series began).
DEPARTMENT_MOVERS_SQL = """
WITH d AS (
    SELECT platform, measure, month, department_code, department_name, sum(value) AS value
    FROM marts.adoption_by_department_month
    WHERE department_code IS NOT NULL AND month <= $as_of::DATE GROUP BY ALL
),
data_end AS (  -- the month of each platform's latest figure: months after it only repeat it
    SELECT platform, date_trunc('month', max(date))::DATE AS data_month
    FROM marts.metric_series WHERE date <= $as_of::DATE GROUP BY 1
),
ends AS (
    SELECT d.platform, d.measure, min(d.month) AS first_month, least(max(d.month), any_value(e.data_month)) AS latest_month
    FROM d LEFT JOIN data_end e USING (platform) GROUP BY ALL
),
span AS (
    SELECT platform, measure, latest_month,
           greatest(first_month, (latest_month - INTERVAL 12 MONTH)::DATE) AS base_month
    FROM ends
),
departments AS (SELECT DISTINCT platform, measure, department_code, department_name FROM d)
SELECT s.platform, s.measure, dep.department_code, dep.department_name, s.base_month, s.latest_month,
       coalesce(b.value, 0) AS value_then, coalesce(n.value, 0) AS value_now,
       coalesce(n.value, 0) - coalesce(b.value, 0) AS change
FROM span s
JOIN departments dep USING (platform, measure)
LEFT JOIN d n ON n.platform = s.platform AND n.measure = s.measure AND n.month = s.latest_month
             AND n.department_code = dep.department_code
LEFT JOIN d b ON b.platform = s.platform AND b.measure = s.measure AND b.month = s.base_month
             AND b.department_code = dep.department_code
WHERE s.latest_month > s.base_month
ORDER BY s.platform, s.measure, change DESC, dep.department_name
"""

# Every GOV.UK organisation with any platform figure, with its department: who in a department uses what.
ORGANISATION_ADOPTION_SQL = """
WITH pay_version AS (
    SELECT max(date_updated) AS version FROM staging.pay_snapshots WHERE is_current_version AND date_updated <= $as_of::DATE
),
matches AS (SELECT * FROM staging.organisation_matches WHERE organisation_slug IS NOT NULL),
pay AS (
    SELECT m.organisation_slug, sum(s.live_services) AS pay_live_services,
           string_agg(DISTINCT s.organisation_name, '; ') AS pay_names, any_value(v.version) AS pay_date
    FROM staging.pay_organisation_services s JOIN pay_version v ON s.date_updated = v.version
    JOIN matches m ON m.platform = 'GOV.UK Pay' AND m.platform_name = s.organisation_name
    GROUP BY 1
),
one_login AS (
    SELECT organisation_slug, count(*) AS one_login_services
    FROM staging.one_login_services
    WHERE NOT is_internal AND NOT is_offboarded AND first_seen <= $as_of::DATE AND organisation_slug IS NOT NULL
    GROUP BY 1
),
apis AS (
    SELECT m.organisation_slug, count(*) AS apis_published
    FROM staging.api_catalogue a JOIN matches m ON m.platform = 'API catalogue' AND m.platform_name = a.provider
    WHERE a.date_added <= $as_of::DATE GROUP BY 1
),
notify AS (
    SELECT m.organisation_slug, bool_or(n.agreement_signed) AS notify_agreement_signed_2019
    FROM staging.notify_organisations n JOIN matches m ON m.platform = 'GOV.UK Notify' AND m.platform_name = n.organisation_name
    GROUP BY 1
)
SELECT o.organisation_slug, o.organisation_code, o.name AS organisation_name, o.organisation_type, o.status,
       o.is_department, o.department_slug, o.department_code, o.department_name,
       coalesce(p.pay_live_services, 0) AS pay_live_services, p.pay_names, p.pay_date,
       coalesce(ol.one_login_services, 0) AS one_login_services,
       coalesce(a.apis_published, 0) AS apis_published,
       n.notify_agreement_signed_2019
FROM staging.organisations o
LEFT JOIN pay p USING (organisation_slug)
LEFT JOIN one_login ol USING (organisation_slug)
LEFT JOIN apis a USING (organisation_slug)
LEFT JOIN notify n USING (organisation_slug)
WHERE p.organisation_slug IS NOT NULL OR ol.organisation_slug IS NOT NULL OR a.organisation_slug IS NOT NULL
   OR n.organisation_slug IS NOT NULL
ORDER BY o.department_name, NOT o.is_department, o.name
"""

# One row per department: platform figures, what its returns say, and where it stands on each target.
DEPARTMENT_LEAGUE_SQL = """
WITH latest_return AS (
    SELECT department_code, max(quarter_end) AS quarter_end FROM marts.return_adoption
    WHERE level = 'department' GROUP BY 1
),
returned AS (
    SELECT a.department_code, any_value(a.reporting_quarter) AS returned_quarter,
           sum(a.in_scope) AS returned_in_scope, sum(a.live) AS returned_live,
           round(sum(a.live) / nullif(sum(a.in_scope), 0), 4) AS returned_adoption_rate,
           sum(a.live + a.planned) FILTER (WHERE a.platform = 'GOV.UK One Login') AS one_login_live_or_planned,
           bool_or(a.is_illustrative) AS returns_are_illustrative
    FROM marts.return_adoption a JOIN latest_return l USING (department_code, quarter_end)
    WHERE a.level = 'department' GROUP BY 1
),
current_status AS (
    SELECT department_code,
           any_value(status) FILTER (WHERE organisation_code = department_code) AS own_return_status,
           count(*) FILTER (WHERE needs_chasing) AS organisations_to_chase,
           count(*) AS organisations_expected,
           any_value(reporting_quarter) AS current_quarter
    FROM marts.returns_status WHERE is_current_quarter AND expected GROUP BY 1
),
reconciliation AS (
    SELECT department_code, count(*) FILTER (WHERE beyond_tolerance) AS reconciliation_differences
    FROM marts.return_reconciliation GROUP BY 1
)
SELECT s.department_code, s.department_name, s.department_slug, s.organisation_type, s.bodies,
       s.pay_live_services, s.pay_organisations, s.one_login_services, s.apis_published,
       s.notify_agreements_signed_2019, s.platforms_used,
       r.returned_quarter, r.returned_in_scope, r.returned_live, r.returned_adoption_rate,
       coalesce(r.returns_are_illustrative, false) AS returns_are_illustrative,
       CASE WHEN r.department_code IS NULL THEN 'no return'
            WHEN r.one_login_live_or_planned > 0 THEN 'plan confirmed'
            ELSE 'no plan reported' END AS one_login_plan,
       CASE WHEN s.pay_live_services > 0 AND s.notify_agreements_signed_2019 > 0 THEN 'uses both'
            WHEN s.pay_live_services > 0 THEN 'Pay only'
            WHEN s.notify_agreements_signed_2019 > 0 THEN 'Notify only'
            ELSE 'neither' END AS pay_and_notify,
       CASE WHEN s.apis_published > 0 THEN 'publishes APIs' ELSE 'no APIs published' END AS data_sharing,
       c.current_quarter, coalesce(c.own_return_status, 'not expected') AS own_return_status,
       coalesce(c.organisations_to_chase, 0) AS organisations_to_chase,
       coalesce(rc.reconciliation_differences, 0) AS reconciliation_differences
FROM marts.department_scorecard s
LEFT JOIN returned r USING (department_code)
LEFT JOIN current_status c USING (department_code)
LEFT JOIN reconciliation rc USING (department_code)
ORDER BY s.platforms_used DESC, s.pay_live_services DESC, s.department_name
"""

SOURCES_MART_SQL = f"""
WITH sources AS ({sources_sql()}),
files AS (
    SELECT source, count(*) AS files_kept, count(*) FILTER (WHERE in_latest_listing) AS files_listed,
           sum(size_bytes) AS bytes_kept, max(received_at) AS last_stored_at,
           arg_max(file_name, file_name) FILTER (WHERE in_latest_listing) AS newest_file,
           arg_max(sha256, file_name) FILTER (WHERE in_latest_listing) AS newest_file_sha256,
           any_value(origin) AS shipped_as
    FROM raw.source_files GROUP BY 1
    UNION ALL
    SELECT 'returns', count(*), count(*), sum(size_bytes), max(received_at), arg_max(file_name, received_at),
           arg_max(sha256, received_at), 'TRACKER_HOME/returns/archive/<organisation>/'
    FROM raw.return_files
),
dates AS (
    SELECT s.source, min(m.date) AS first_date, max(m.date) AS latest_date
    FROM sources s JOIN marts.metric_series m ON list_contains(s.platforms, m.platform) AND m.date <= $as_of::DATE
    GROUP BY 1
)
SELECT s.source, s.name, array_to_string(s.platforms, ', ') AS platforms, s.publisher, s.origin, s.cadence,
       s.fresh_within_days, s.closed_note, d.first_date, d.latest_date,
       date_diff('day', d.latest_date, $as_of::DATE) AS days_old,
       {freshness_sql("d.latest_date")} AS freshness,
       f.files_kept, f.files_listed, f.bytes_kept, f.last_stored_at, f.newest_file, f.newest_file_sha256,
       f.shipped_as, $as_of::DATE AS as_of
FROM sources s LEFT JOIN dates d USING (source) LEFT JOIN files f USING (source)
ORDER BY source
"""

COMPARISON_MARTS = {
    "marts.platform_headlines": Mart(
        PLATFORM_HEADLINES_SQL, "Every platform measure's latest figure, the figure at the end of the previous "
        "quarter and the change, with its source and whether that source is fresh, stale or no longer published.",
        ["marts.metric_series"]),
    "marts.department_movers": Mart(
        DEPARTMENT_MOVERS_SQL, "Each department's change on each platform measure over the twelve months to the "
        "platform's latest figure (or since the series began): the largest movers.",
        ["marts.adoption_by_department_month", "marts.metric_series"]),
    "marts.organisation_adoption": Mart(
        ORGANISATION_ADOPTION_SQL, "Every GOV.UK organisation with a platform figure, with its department: "
        "GOV.UK Pay live services, One Login services, APIs published and Notify's 2019 agreement.",
        [f"staging.{t}" for t in ("pay_snapshots", "pay_organisation_services", "organisation_matches",
                                  "one_login_services", "api_catalogue", "notify_organisations", "organisations")]),
    "marts.department_league": Mart(
        DEPARTMENT_LEAGUE_SQL, "One row per department: platform figures, its latest return's adoption rate, "
        "where it stands on each target, its current return and who in it must be chased.",
        ["marts.department_scorecard", "marts.return_adoption", "marts.returns_status",
         "marts.return_reconciliation"]),
    "marts.sources": Mart(
        SOURCES_MART_SQL, "Where every figure comes from: each source's publisher, origin, files kept (with the "
        "newest file's sha256), first and latest data date, and whether it is fresh, stale or no longer published.",
        [*(f"raw.{key}_files" for key in SOURCES if key != "returns"), "raw.return_files", "marts.metric_series"]),
}

comparison_mart_assets = [mart_asset(table, mart) for table, mart in COMPARISON_MARTS.items()]
