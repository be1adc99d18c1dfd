-- Every series as it was published on each date: Pay and Forms from their public versions in order of
-- publication, the API catalogue from what each public version listed, One Login from its event history.
WITH pay AS (SELECT * FROM {{ source('staging', 'pay_snapshots') }} WHERE is_current_version),
forms AS (SELECT * FROM {{ source('staging', 'forms_metrics') }} WHERE is_current_version),
one_login_dates AS (SELECT DISTINCT live_from AS date FROM {{ source('staging', 'one_login_periods') }}
                    UNION SELECT live_until FROM {{ source('staging', 'one_login_periods') }} WHERE live_until IS NOT NULL),
one_login AS (
    -- services in the registry and not offboarded at the end of each day the registry changed
    SELECT d.date, count(s.client_key) AS live
    FROM one_login_dates d
    LEFT JOIN {{ source('staging', 'one_login_periods') }} p ON p.live_from <= d.date AND (p.live_until IS NULL OR p.live_until > d.date)
    LEFT JOIN {{ source('staging', 'one_login_services') }} s ON s.client_key = p.client_key AND NOT s.is_internal
    GROUP BY 1
),
apis AS (
    -- the last public version of each day
    SELECT published_on AS date, {{ arg_max('apis_listed', 'published_at') }} AS listed
    FROM {{ source('staging', 'api_catalogue_versions') }} WHERE is_public_version GROUP BY 1
),
notify AS (
    SELECT committed_at::DATE AS date, {{ arg_max('owners_agreement_signed', 'committed_at') }} AS signed,
           {{ arg_max('owners', 'committed_at') }} AS owners
    FROM {{ source('staging', 'notify_agreement_history') }} GROUP BY 1
    UNION ALL  -- the register itself, the last version before it moved into Notify's database
    SELECT max(as_of), count(*) FILTER (WHERE agreement_signed), count(*)
    FROM {{ source('staging', 'notify_organisations') }}
    HAVING max(as_of) > (SELECT max(committed_at::DATE) FROM {{ source('staging', 'notify_agreement_history') }})
),
series AS (
SELECT *, false AS is_illustrative FROM (
SELECT 'pay_live_services' AS metric, date_updated AS date, services::DOUBLE PRECISION AS value FROM pay
UNION ALL SELECT 'pay_organisations', date_updated, organisations FROM pay WHERE organisations IS NOT NULL
UNION ALL SELECT 'pay_payments_cumulative', date_updated, payments_cumulative FROM pay WHERE payments_cumulative IS NOT NULL
UNION ALL SELECT 'pay_amount_gbp_cumulative', date_updated, amount_gbp_cumulative FROM pay WHERE amount_gbp_cumulative IS NOT NULL
UNION ALL SELECT 'forms_live_forms', snapshot_date, live_forms FROM forms
UNION ALL SELECT 'forms_organisations', snapshot_date, organisations FROM forms
UNION ALL SELECT 'forms_submissions_cumulative', snapshot_date, submissions_cumulative FROM forms
UNION ALL SELECT 'one_login_services_onboarded', date, live FROM one_login
UNION ALL SELECT 'verify_accounts_cumulative', period_end, accounts_cumulative FROM {{ source('staging', 'verify_accounts') }}
UNION ALL SELECT 'verify_accounts_created', period_end, accounts_created FROM {{ source('staging', 'verify_accounts') }}
UNION ALL SELECT 'notify_agreements_signed', date, signed FROM notify
UNION ALL SELECT 'notify_organisations', date, owners FROM notify
UNION ALL SELECT 'apis_published', date, listed FROM apis
-- the whole civil service as the Civil Service Statistics publish it nationally, once a year at 31 March
UNION ALL SELECT 'ddat_profession_share', as_at, ddat_share_pct FROM {{ ref('digital_capacity_national') }} WHERE ddat_share_pct IS NOT NULL
UNION ALL SELECT 'ddat_profession_headcount', as_at, ddat_headcount FROM {{ ref('digital_capacity_national') }} WHERE ddat_headcount IS NOT NULL
) AS published_series
-- Measured from departments' returns: the share of expected departments with a One Login plan.
UNION ALL SELECT 'returns_departments_with_one_login_plan', quarter_end, departments_with_plan_share * 100, is_illustrative
FROM {{ ref('return_department_plans') }}
)
-- platform and measure in words come from the one list of measures (metric_definitions)
SELECT d.platform, s.metric, d.measure, s.date, s.value, s.is_illustrative, c.note AS definition_note
FROM series s
LEFT JOIN {{ ref('metric_definitions') }} d USING (metric)  -- a metric not in the list fails not_null on platform
LEFT JOIN {{ source('staging', 'source_definition_changes') }} c
  ON c.metric = s.metric AND s.date >= c.valid_from AND s.date < c.valid_until
WHERE s.date <= {{ as_of() }}
