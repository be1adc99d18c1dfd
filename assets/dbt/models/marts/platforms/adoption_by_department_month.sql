-- Each name's department and attribution come with its match (organisation_matches).
WITH matched AS (
    SELECT platform, platform_name, organisation_slug, department_slug, attribution
    FROM {{ source('staging', 'organisation_matches') }}
),
pay_months AS (
    SELECT date_trunc('month', date_updated)::DATE AS month, max(date_updated) AS version
    FROM {{ source('staging', 'pay_snapshots') }} WHERE is_current_version GROUP BY 1
),
-- Pay: each month's last version, as summed per version when it was staged (a week's new version costs its own
-- rows, not the history's).
pay AS (
    SELECT 'GOV.UK Pay' AS platform, pm.month, pm.version AS data_date, a.department_slug, a.attribution,
           a.live_services, a.organisations
    FROM pay_months pm
    JOIN {{ source('staging', 'pay_attribution_by_version') }} a ON a.snapshot_date = pm.version
),
-- One Login: every month from the registry's first change to its last, as the registry stood at the month's
-- end (or at its last change, for the last month): never a month the data does not reach.
one_login_range AS (
    SELECT min(event_on) AS first_day, max(event_on) AS last_day FROM {{ source('staging', 'one_login_events') }}
),
one_login_months AS (
    SELECT months.month::DATE AS month,
           least((months.month + INTERVAL '1 month' - INTERVAL '1 day')::DATE, r.last_day) AS data_date
    FROM one_login_range r,
         generate_series(date_trunc('month', r.first_day)::TIMESTAMP, r.last_day::TIMESTAMP, INTERVAL '1 month')
             AS months (month)
),
one_login AS (
    SELECT 'GOV.UK One Login' AS platform, mo.month, mo.data_date, o.department_slug,
           CASE WHEN o.department_slug IS NOT NULL THEN 'department'
                WHEN s.organisation_slug IS NOT NULL THEN 'GOV.UK body outside a department'
                ELSE 'unattributed' END AS attribution,
           count(*) AS live_services, count(DISTINCT s.organisation_slug) AS organisations
    FROM one_login_months mo
    JOIN {{ source('staging', 'one_login_periods') }} p
      ON p.live_from <= mo.data_date AND (p.live_until IS NULL OR p.live_until > mo.data_date)
    JOIN {{ source('staging', 'one_login_services') }} s ON s.client_key = p.client_key AND NOT s.is_internal
    LEFT JOIN {{ source('staging', 'organisations') }} o ON o.organisation_slug = s.organisation_slug
    GROUP BY mo.month, mo.data_date, o.department_slug, attribution
),
-- The API catalogue: each month as the last public version published by its end listed it, up to the
-- month of the last version.
api_versions AS (
    -- each day's last public version (the catalogue may publish twice a day)
    SELECT published_on, max(published_at) AS published_at FROM {{ source('staging', 'api_catalogue_listings') }}
    GROUP BY published_on
),
api_months AS (
    SELECT m.month::DATE AS month, max(v.published_on) AS data_date
    FROM (SELECT date_trunc('month', min(published_on))::TIMESTAMP AS first_month,
                 max(published_on)::TIMESTAMP AS last_day FROM api_versions) span,
         generate_series(span.first_month, span.last_day, INTERVAL '1 month') AS m (month)
    JOIN api_versions v ON v.published_on < m.month + INTERVAL '1 month'
    GROUP BY 1
),
apis AS (
    SELECT 'Data sharing' AS platform, am.month, am.data_date, x.department_slug, x.attribution,
           count(*) AS apis_published, count(DISTINCT l.provider) AS organisations
    FROM api_months am
    JOIN api_versions v ON v.published_on = am.data_date
    JOIN {{ source('staging', 'api_catalogue_listings') }} l
      ON l.published_on = v.published_on AND l.published_at = v.published_at
    LEFT JOIN matched x ON x.platform = 'API catalogue' AND x.platform_name = l.provider
    GROUP BY am.month, am.data_date, x.department_slug, x.attribution
),
notify AS (
    SELECT 'GOV.UK Notify' AS platform, date_trunc('month', max(n.as_of))::DATE AS month, max(n.as_of) AS data_date,
           x.department_slug, x.attribution,
           count(*) FILTER (WHERE n.agreement_signed) AS agreements_signed,
           count(*) AS organisations
    FROM {{ source('staging', 'notify_organisations') }} n
    LEFT JOIN matched x ON x.platform = 'GOV.UK Notify' AND x.platform_name = n.organisation_name
    GROUP BY x.department_slug, x.attribution
),
long AS (
    SELECT platform, month, data_date, department_slug, attribution, 'live services' AS measure, live_services AS value FROM pay
    UNION ALL SELECT platform, month, data_date, department_slug, attribution, 'organisations', organisations FROM pay
    UNION ALL SELECT platform, month, data_date, department_slug, attribution, 'live services', live_services FROM one_login
    UNION ALL SELECT platform, month, data_date, department_slug, attribution, 'organisations', organisations FROM one_login
    UNION ALL SELECT platform, month, data_date, department_slug, attribution, 'APIs published', apis_published FROM apis
    UNION ALL SELECT platform, month, data_date, department_slug, attribution, 'organisations', organisations FROM apis
    UNION ALL SELECT platform, month, data_date, department_slug, attribution, 'organisations with data sharing agreement', agreements_signed FROM notify
    UNION ALL SELECT platform, month, data_date, department_slug, attribution, 'organisations', organisations FROM notify
)
SELECT l.platform, l.month, l.data_date, l.department_slug, d.name AS department_name, d.organisation_code AS department_code,
       l.attribution, l.measure, l.value::BIGINT AS value
FROM long l LEFT JOIN {{ source('staging', 'organisations') }} d ON d.organisation_slug = l.department_slug
ORDER BY platform, month, measure, department_name, attribution
