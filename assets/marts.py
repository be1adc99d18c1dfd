"""Marts: the tables the dashboard reads, computed in DuckDB SQL from staging.

Everything here is set work in SQL; the only input from Python is the
reporting date (as_of), passed as a bound parameter.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.raw import OWNERS
from checks.return_contract import (
    PLAUSIBLE_CHANGE_MINIMUM,
    PLAUSIBLE_CHANGE_SHARE,
    RECONCILIATION_MINIMUM,
    RECONCILIATION_SHARE,
)
from tracker.resources import TrackerConfig
from tracker.warehouse import connect, replace_tables_sql, table_metadata

# One row per platform measure and date: the series that targets and trends are read from.
METRIC_SERIES_SQL = """
WITH pay AS (SELECT * FROM staging.pay_snapshots WHERE is_current_version),
forms AS (SELECT * FROM staging.forms_metrics WHERE is_current_version),
one_login AS (
    SELECT first_seen AS date, count(*) AS added
    FROM staging.one_login_services WHERE NOT is_internal AND NOT is_offboarded GROUP BY 1
),
apis AS (SELECT date_added AS date, count(*) AS added FROM staging.api_catalogue GROUP BY 1),
notify AS (
    SELECT committed_at::DATE AS date, arg_max(owners_agreement_signed, committed_at) AS signed,
           arg_max(owners, committed_at) AS owners
    FROM staging.notify_agreement_history GROUP BY 1
)
SELECT *, false AS is_illustrative FROM (
SELECT 'GOV.UK Pay' AS platform, 'pay_live_services' AS metric, 'live services' AS measure,
       date_updated AS date, services::DOUBLE AS value FROM pay
UNION ALL SELECT 'GOV.UK Pay', 'pay_organisations', 'organisations', date_updated, organisations FROM pay
UNION ALL SELECT 'GOV.UK Pay', 'pay_payments_cumulative', 'payments since launch', date_updated, payments_cumulative FROM pay
UNION ALL SELECT 'GOV.UK Pay', 'pay_amount_gbp_cumulative', 'value of payments since launch (£)', date_updated, amount_gbp_cumulative FROM pay
UNION ALL SELECT 'GOV.UK Forms', 'forms_live_forms', 'live forms', snapshot_date, live_forms FROM forms
UNION ALL SELECT 'GOV.UK Forms', 'forms_organisations', 'organisations', snapshot_date, organisations FROM forms
UNION ALL SELECT 'GOV.UK Forms', 'forms_submissions_cumulative', 'submissions since launch', snapshot_date, submissions_cumulative FROM forms
UNION ALL SELECT 'GOV.UK One Login', 'one_login_services_onboarded', 'services onboarded', date,
       sum(added) OVER (ORDER BY date) FROM one_login
UNION ALL SELECT 'GOV.UK Verify', 'verify_accounts_cumulative', 'accounts created since 2014', period_end,
       accounts_cumulative FROM staging.verify_accounts
UNION ALL SELECT 'GOV.UK Verify', 'verify_accounts_created', 'accounts created in the financial year', period_end,
       accounts_created FROM staging.verify_accounts
UNION ALL SELECT 'GOV.UK Notify', 'notify_agreements_signed', 'organisations that signed the data sharing agreement', date, signed FROM notify
UNION ALL SELECT 'GOV.UK Notify', 'notify_organisations', 'organisations on the domain register', date, owners FROM notify
UNION ALL SELECT 'Data sharing', 'apis_published', 'APIs in the API catalogue', date,
       sum(added) OVER (ORDER BY date) FROM apis
)
-- Measured from departments' returns: the share of expected departments with a One Login plan.
UNION ALL SELECT 'GOV.UK One Login', 'returns_departments_with_one_login_plan',
       'expected departments with a One Login adoption plan (% of them, from returns)', quarter_end,
       departments_with_plan_share * 100, is_illustrative FROM marts.return_department_plans
"""

PAY_MONTHLY_SQL = """
WITH month_end AS (
    SELECT date_trunc('month', date_updated)::DATE AS month,
           max(date_updated) AS last_version,
           arg_max(services, date_updated) AS live_services,
           arg_max(organisations, date_updated) AS organisations,
           arg_max(payments_cumulative, date_updated) AS payments_cumulative,
           arg_max(amount_gbp_cumulative, date_updated) AS amount_gbp_cumulative
    FROM staging.pay_snapshots WHERE is_current_version GROUP BY 1
)
SELECT *,
       payments_cumulative - lag(payments_cumulative) OVER (ORDER BY month) AS payments_in_month,
       amount_gbp_cumulative - lag(amount_gbp_cumulative) OVER (ORDER BY month) AS amount_gbp_in_month
FROM month_end ORDER BY month
"""

PAY_SECTOR_MONTHLY_SQL = """
WITH month_end AS (
    SELECT date_trunc('month', date_updated)::DATE AS month, max(date_updated) AS version
    FROM staging.pay_snapshots WHERE is_current_version GROUP BY 1
)
SELECT m.month, m.version, s.sector, s.live_services
FROM month_end m JOIN staging.pay_sector_services s ON s.date_updated = m.version
ORDER BY m.month, s.sector
"""

# Long form: platform, month, department (or why there is none), measure, value.
ADOPTION_SQL = """
WITH matched AS (
    SELECT m.platform, m.platform_name, m.organisation_slug, o.department_slug,
           CASE WHEN o.department_slug IS NOT NULL THEN 'department'
                WHEN m.organisation_slug IS NOT NULL THEN 'GOV.UK body outside a department'
                WHEN m.outside_govuk_category IS NOT NULL THEN 'not a GOV.UK organisation: ' || m.outside_govuk_category
                ELSE 'unmatched' END AS attribution
    FROM staging.organisation_matches m
    LEFT JOIN staging.organisations o ON o.organisation_slug = m.organisation_slug
),
pay_months AS (
    SELECT date_trunc('month', date_updated)::DATE AS month, max(date_updated) AS version
    FROM staging.pay_snapshots WHERE is_current_version GROUP BY 1
),
pay AS (
    SELECT 'GOV.UK Pay' AS platform, pm.month, x.department_slug, x.attribution,
           sum(s.live_services) AS live_services,
           count(DISTINCT coalesce(x.organisation_slug, s.organisation_name)) AS organisations
    FROM pay_months pm
    JOIN staging.pay_organisation_services s ON s.date_updated = pm.version
    LEFT JOIN matched x ON x.platform = 'GOV.UK Pay' AND x.platform_name = s.organisation_name
    GROUP BY ALL
),
months AS (
    SELECT range::DATE AS month FROM range(DATE '2014-04-01', date_trunc('month', $as_of::DATE) + INTERVAL 1 MONTH, INTERVAL 1 MONTH)
),
one_login AS (
    SELECT 'GOV.UK One Login' AS platform, mo.month, o.department_slug,
           CASE WHEN o.department_slug IS NOT NULL THEN 'department'
                WHEN s.organisation_slug IS NOT NULL THEN 'GOV.UK body outside a department'
                ELSE 'unattributed' END AS attribution,
           count(*) AS live_services, count(DISTINCT s.organisation_slug) AS organisations
    FROM months mo
    JOIN staging.one_login_services s ON s.first_seen < mo.month + INTERVAL 1 MONTH
    LEFT JOIN staging.organisations o ON o.organisation_slug = s.organisation_slug
    WHERE NOT s.is_internal AND NOT s.is_offboarded
    GROUP BY ALL
),
apis AS (
    SELECT 'Data sharing' AS platform, mo.month, x.department_slug, x.attribution,
           count(*) AS apis_published, count(DISTINCT a.provider) AS organisations
    FROM months mo
    JOIN staging.api_catalogue a ON a.date_added < mo.month + INTERVAL 1 MONTH
    LEFT JOIN matched x ON x.platform = 'API catalogue' AND x.platform_name = a.provider
    GROUP BY ALL
),
notify AS (
    SELECT 'GOV.UK Notify' AS platform, date_trunc('month', max(n.as_of))::DATE AS month,
           x.department_slug, x.attribution,
           count(*) FILTER (WHERE n.agreement_signed) AS agreements_signed,
           count(*) AS organisations
    FROM staging.notify_organisations n
    LEFT JOIN matched x ON x.platform = 'GOV.UK Notify' AND x.platform_name = n.organisation_name
    GROUP BY x.department_slug, x.attribution
),
long AS (
    SELECT platform, month, department_slug, attribution, 'live services' AS measure, live_services AS value FROM pay
    UNION ALL SELECT platform, month, department_slug, attribution, 'organisations', organisations FROM pay
    UNION ALL SELECT platform, month, department_slug, attribution, 'live services', live_services FROM one_login
    UNION ALL SELECT platform, month, department_slug, attribution, 'organisations', organisations FROM one_login
    UNION ALL SELECT platform, month, department_slug, attribution, 'APIs published', apis_published FROM apis
    UNION ALL SELECT platform, month, department_slug, attribution, 'organisations', organisations FROM apis
    UNION ALL SELECT platform, month, department_slug, attribution, 'organisations with data sharing agreement', agreements_signed FROM notify
    UNION ALL SELECT platform, month, department_slug, attribution, 'organisations', organisations FROM notify
)
SELECT l.platform, l.month, l.department_slug, d.name AS department_name, d.organisation_code AS department_code,
       l.attribution, l.measure, l.value::BIGINT AS value
FROM long l LEFT JOIN staging.organisations d ON d.organisation_slug = l.department_slug
ORDER BY platform, month, measure, department_name
"""

SCORECARD_SQL = """
WITH latest AS (
    SELECT platform, measure, max(month) AS month FROM marts.adoption_by_department_month GROUP BY ALL
),
figures AS (
    SELECT a.department_slug, a.platform, a.measure, sum(a.value) AS value
    FROM marts.adoption_by_department_month a JOIN latest USING (platform, measure, month)
    WHERE a.department_slug IS NOT NULL GROUP BY ALL
),
departments AS (
    SELECT d.organisation_slug AS department_slug, d.name AS department_name, d.organisation_code AS department_code,
           d.organisation_type,
           (SELECT count(*) FROM staging.organisations b
             WHERE b.department_slug = d.organisation_slug AND b.status <> 'closed'
               AND b.organisation_slug <> d.organisation_slug) AS bodies
    FROM staging.organisations d WHERE d.is_department
),
wide AS (
    SELECT department_slug,
        sum(value) FILTER (WHERE platform = 'GOV.UK Pay' AND measure = 'live services') AS pay_live_services,
        sum(value) FILTER (WHERE platform = 'GOV.UK Pay' AND measure = 'organisations') AS pay_organisations,
        sum(value) FILTER (WHERE platform = 'GOV.UK One Login' AND measure = 'live services') AS one_login_services,
        sum(value) FILTER (WHERE platform = 'Data sharing' AND measure = 'APIs published') AS apis_published,
        sum(value) FILTER (WHERE platform = 'GOV.UK Notify' AND measure = 'organisations with data sharing agreement') AS notify_agreements_signed_2019,
        sum(value) FILTER (WHERE platform = 'GOV.UK Notify' AND measure = 'organisations') AS notify_organisations_2019
    FROM figures GROUP BY department_slug
)
SELECT d.*,
       coalesce(w.pay_live_services, 0) AS pay_live_services,
       coalesce(w.pay_organisations, 0) AS pay_organisations,
       coalesce(w.one_login_services, 0) AS one_login_services,
       coalesce(w.apis_published, 0) AS apis_published,
       coalesce(w.notify_agreements_signed_2019, 0) AS notify_agreements_signed_2019,
       coalesce(w.notify_organisations_2019, 0) AS notify_organisations_2019,
       (coalesce(w.pay_live_services, 0) > 0)::INT + (coalesce(w.one_login_services, 0) > 0)::INT
         + (coalesce(w.notify_organisations_2019, 0) > 0)::INT + (coalesce(w.apis_published, 0) > 0)::INT
         AS platforms_used
FROM departments d LEFT JOIN wide w USING (department_slug)
ORDER BY platforms_used DESC, pay_live_services DESC, one_login_services DESC, department_name
"""

TARGET_PROGRESS_SQL = """
WITH rules AS (SELECT * FROM staging.target_rules LIMIT 1),
series AS (SELECT metric, date, value, is_illustrative FROM marts.metric_series WHERE date <= $as_of::DATE),
with_baseline AS (
    SELECT t.*,
           CASE WHEN t.baseline_from_data THEN
                (SELECT arg_max(s.value, s.date) FROM series s WHERE s.metric = t.tracked_by AND s.date <= t.baseline_date)
                ELSE t.baseline_value END AS baseline
    FROM staging.targets t
),
tv AS (SELECT *, coalesce(target_value, baseline + target_increase) AS target FROM with_baseline),
latest AS (SELECT metric, max(date) AS latest_date, arg_max(value, date) AS latest_value,
                  arg_max(is_illustrative, date) AS latest_is_illustrative FROM series GROUP BY metric),
reached AS (
    SELECT tv.target_id, min(s.date) AS reached_on
    FROM tv JOIN series s ON s.metric = tv.tracked_by AND s.value >= tv.target GROUP BY 1
),
ranked AS (
    SELECT s.*, row_number() OVER (PARTITION BY s.metric ORDER BY s.date DESC) AS recency
    FROM series s
),
rate AS (
    SELECT tv.target_id, regr_slope(r.value, epoch(r.date) / 86400.0) AS per_day, count(*) AS points
    FROM tv JOIN latest l ON l.metric = tv.tracked_by
    JOIN ranked r ON r.metric = tv.tracked_by
    CROSS JOIN rules
    WHERE r.date >= l.latest_date - to_days(rules.forecast_window_days) OR r.recency <= 2
    GROUP BY 1
),
measured AS (
    SELECT tv.*, l.latest_date, l.latest_value, l.latest_is_illustrative, rc.reached_on, rt.per_day AS rate_per_day, rt.points AS rate_points,
        CASE WHEN tv.baseline IS NULL OR tv.baseline_date IS NULL OR tv.target IS NULL THEN NULL
             WHEN $as_of::DATE >= tv.deadline THEN tv.target
             WHEN $as_of::DATE <= tv.baseline_date THEN tv.baseline
             ELSE tv.baseline + (tv.target - tv.baseline) * date_diff('day', tv.baseline_date, $as_of::DATE)
                  / date_diff('day', tv.baseline_date, tv.deadline)
        END AS trajectory_today
    FROM tv
    LEFT JOIN latest l ON l.metric = tv.tracked_by
    LEFT JOIN reached rc USING (target_id)
    LEFT JOIN rate rt USING (target_id)
),
judged AS (
    SELECT m.*,
        CASE WHEN m.trajectory_today > m.baseline
             THEN (m.latest_value - m.baseline) / (m.trajectory_today - m.baseline) END AS progress_ratio
    FROM measured m
)
SELECT j.target_id, j.strategy, j.platform, j.metric, j.title, j.unit, j.tracked_by, j.population, j.scope,
       j.baseline_date, j.baseline, j.baseline_note, j.target, j.deadline,
       j.latest_date, j.latest_value, coalesce(j.latest_is_illustrative, false) AS uses_illustrative_data,
       round(j.trajectory_today, 2) AS trajectory_today,
       round(j.progress_ratio, 4) AS progress_ratio,
       CASE WHEN j.tracked_by IS NULL THEN 'not measured'
            WHEN j.latest_value IS NULL AND starts_with(j.tracked_by, 'returns_') THEN 'awaiting returns'
            WHEN j.latest_value IS NULL THEN 'no data'
            WHEN j.latest_value >= j.target AND j.reached_on <= j.deadline THEN 'met'
            WHEN j.latest_value >= j.target THEN 'met late'
            WHEN $as_of::DATE > j.deadline THEN 'missed'
            WHEN j.progress_ratio IS NULL THEN 'no trajectory'
            WHEN j.progress_ratio >= rules.on_track THEN 'on track'
            WHEN j.progress_ratio >= rules.at_risk THEN 'at risk'
            ELSE 'off track' END AS status,
       j.reached_on,
       j.rate_per_day,
       CASE WHEN j.reached_on IS NOT NULL THEN j.reached_on
            WHEN j.rate_per_day > 0 AND j.latest_value IS NOT NULL
            THEN (j.latest_date + to_days(ceil((j.target - j.latest_value) / j.rate_per_day)::INTEGER))::DATE
       END AS forecast_date,
       CASE WHEN j.tracked_by IS NULL OR j.latest_value IS NULL THEN NULL
            WHEN j.reached_on IS NOT NULL THEN 'reached'
            WHEN j.rate_per_day > 0 THEN 'at current rate'
            ELSE 'not at current rate' END AS forecast_basis,
       $as_of::DATE AS as_of,
       j.source_note, j.source_url
FROM judged j CROSS JOIN rules
ORDER BY j.platform, j.deadline
"""

SOURCE_STATUS_SQL = """
SELECT platform, count(DISTINCT metric) AS measures, min(date) AS first_date, max(date) AS latest_date,
       date_diff('day', max(date), $as_of::DATE) AS days_since_latest, $as_of::DATE AS as_of
FROM marts.metric_series GROUP BY platform ORDER BY platform
"""

@dataclass(frozen=True)
class Mart:
    sql: str
    description: str
    deps: list[str]  # the tables it reads, as schema.table


def mart_params(as_of: dt.date) -> dict:
    """What mart queries may bind: the reporting date and the returns thresholds stated in the contract."""
    return {
        "as_of": as_of,
        "plausible_change_share": PLAUSIBLE_CHANGE_SHARE,
        "plausible_change_minimum": PLAUSIBLE_CHANGE_MINIMUM,
        "reconciliation_share": RECONCILIATION_SHARE,
        "reconciliation_minimum": RECONCILIATION_MINIMUM,
    }


def build_mart(con, table: str, mart: Mart, as_of: dt.date) -> None:
    """Replace one mart from its query, with the parameters it uses bound."""
    replace_tables_sql(con, {table: mart.sql}, mart_params(as_of))


def mart_asset(table: str, mart: Mart) -> dg.AssetsDefinition:
    """One Dagster asset per mart table, rebuilt whole from its query."""
    schema, name = table.split(".")

    @dg.asset(
        key=[schema, name],
        deps=[d.split(".") for d in mart.deps],
        group_name="marts",
        kinds={"duckdb", "sql"},
        owners=OWNERS,
        description=mart.description,
    )
    def _mart(settings: TrackerConfig, warehouse: DuckDBResource) -> dg.MaterializeResult:
        with connect(warehouse) as con:
            con.execute("CREATE SCHEMA IF NOT EXISTS marts")
            build_mart(con, table, mart, settings.as_of_date())
            meta = table_metadata(con, table)
            meta["as_of"] = settings.as_of_date().isoformat()
            return dg.MaterializeResult(metadata=meta)

    return _mart


PLATFORM_SERIES = [f"staging.{t}" for t in ("pay_snapshots", "forms_metrics", "one_login_services", "api_catalogue",
                                            "notify_agreement_history", "verify_accounts")]
MARTS = {
    "marts.metric_series": Mart(METRIC_SERIES_SQL, "Every platform measure over time, one row per date, and the "
                                "returns' measures that targets are judged on (flagged when illustrative).",
                                [*PLATFORM_SERIES, "marts.return_department_plans"]),
    "marts.pay_monthly": Mart(PAY_MONTHLY_SQL, "GOV.UK Pay per month: live services and organisations at "
                              "month end, payments and value in the month (differences of the cumulative "
                              "totals between month-end versions; the published totals are rounded to 0.1 million).",
                              ["staging.pay_snapshots"]),
    "marts.pay_sector_monthly": Mart(PAY_SECTOR_MONTHLY_SQL, "GOV.UK Pay live services per sector (local, "
                                     "central, police, NHS trusts, NHS central, other) at each month end.",
                                     ["staging.pay_snapshots", "staging.pay_sector_services"]),
    "marts.adoption_by_department_month": Mart(
        ADOPTION_SQL, "Adoption by platform, department and month (long form: measure, value); bodies without a "
        "department are kept, labelled by why.",
        [f"staging.{t}" for t in ("organisation_matches", "organisations", "pay_organisation_services",
                                  "one_login_services", "api_catalogue", "notify_organisations")]),
    "marts.department_scorecard": Mart(SCORECARD_SQL, "One row per department across platforms, latest month.",
                                       ["marts.adoption_by_department_month", "staging.organisations"]),
    "marts.target_progress": Mart(TARGET_PROGRESS_SQL, "Progress against every target: latest actual, where "
                                  "the trajectory says it should be today, status and forecast date.",
                                  ["marts.metric_series", "staging.targets"]),
    "marts.source_status": Mart(SOURCE_STATUS_SQL, "Each platform's first and latest data date.",
                                ["marts.metric_series"]),
}

mart_assets = [mart_asset(table, mart) for table, mart in MARTS.items()]
