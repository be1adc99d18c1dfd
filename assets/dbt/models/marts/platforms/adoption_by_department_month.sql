WITH matched AS (
    SELECT m.platform, m.platform_name, m.organisation_slug, o.department_slug,
           CASE WHEN o.department_slug IS NOT NULL THEN 'department'
                WHEN m.organisation_slug IS NOT NULL THEN 'GOV.UK body outside a department'
                WHEN m.outside_govuk_category IS NOT NULL THEN 'not a GOV.UK organisation: ' || m.outside_govuk_category
                ELSE 'unmatched' END AS attribution
    FROM {{ source('staging', 'organisation_matches') }} m
    LEFT JOIN {{ source('staging', 'organisations') }} o ON o.organisation_slug = m.organisation_slug
),
pay_months AS (
    SELECT date_trunc('month', date_updated)::DATE AS month, max(date_updated) AS version
    FROM {{ source('staging', 'pay_snapshots') }} WHERE is_current_version GROUP BY 1
),
pay AS (
    SELECT 'GOV.UK Pay' AS platform, pm.month, x.department_slug, x.attribution,
           sum(s.live_services) AS live_services,
           count(DISTINCT coalesce(x.organisation_slug, s.organisation_name)) AS organisations
    FROM pay_months pm
    JOIN {{ source('staging', 'pay_organisation_services') }} s ON s.date_updated = pm.version
    LEFT JOIN matched x ON x.platform = 'GOV.UK Pay' AND x.platform_name = s.organisation_name
    GROUP BY ALL
),
months AS (
    SELECT month::DATE AS month
    FROM (SELECT unnest(range(TIMESTAMP '2014-04-01', date_trunc('month', {{ as_of() }}) + INTERVAL 1 MONTH,
                              INTERVAL 1 MONTH)) AS month)
),
one_login AS (
    SELECT 'GOV.UK One Login' AS platform, mo.month, o.department_slug,
           CASE WHEN o.department_slug IS NOT NULL THEN 'department'
                WHEN s.organisation_slug IS NOT NULL THEN 'GOV.UK body outside a department'
                ELSE 'unattributed' END AS attribution,
           count(*) AS live_services, count(DISTINCT s.organisation_slug) AS organisations
    FROM months mo
    JOIN {{ source('staging', 'one_login_services') }} s ON s.first_seen < mo.month + INTERVAL 1 MONTH
    LEFT JOIN {{ source('staging', 'organisations') }} o ON o.organisation_slug = s.organisation_slug
    WHERE NOT s.is_internal AND NOT s.is_offboarded
    GROUP BY ALL
),
apis AS (
    SELECT 'Data sharing' AS platform, mo.month, x.department_slug, x.attribution,
           count(*) AS apis_published, count(DISTINCT a.provider) AS organisations
    FROM months mo
    JOIN {{ source('staging', 'api_catalogue') }} a ON a.date_added < mo.month + INTERVAL 1 MONTH
    LEFT JOIN matched x ON x.platform = 'API catalogue' AND x.platform_name = a.provider
    GROUP BY ALL
),
notify AS (
    SELECT 'GOV.UK Notify' AS platform, date_trunc('month', max(n.as_of))::DATE AS month,
           x.department_slug, x.attribution,
           count(*) FILTER (WHERE n.agreement_signed) AS agreements_signed,
           count(*) AS organisations
    FROM {{ source('staging', 'notify_organisations') }} n
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
FROM long l LEFT JOIN {{ source('staging', 'organisations') }} d ON d.organisation_slug = l.department_slug
ORDER BY platform, month, measure, department_name, attribution
