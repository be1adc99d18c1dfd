WITH pay_version AS (
    SELECT max(date_updated) AS version FROM {{ source('staging', 'pay_snapshots') }} WHERE is_current_version AND date_updated <= {{ as_of() }}
),
matches AS (SELECT * FROM {{ source('staging', 'organisation_matches') }} WHERE organisation_slug IS NOT NULL),
pay AS (
    SELECT m.organisation_slug, sum(s.live_services) AS pay_live_services,
           string_agg(DISTINCT s.organisation_name, '; ' ORDER BY s.organisation_name) AS pay_names, {{ any_value_of('v.version') }} AS pay_date
    FROM {{ source('staging', 'pay_organisation_services') }} s JOIN pay_version v ON s.date_updated = v.version
    JOIN matches m ON m.platform = 'GOV.UK Pay' AND m.platform_name = s.organisation_name
    GROUP BY 1
),
one_login AS (
    SELECT organisation_slug, count(*) AS one_login_services
    FROM {{ source('staging', 'one_login_services') }}
    WHERE NOT is_internal AND is_live AND organisation_slug IS NOT NULL
    GROUP BY 1
),
apis AS (
    SELECT m.organisation_slug, count(*) AS apis_published
    FROM {{ source('staging', 'api_catalogue') }} a JOIN matches m ON m.platform = 'API catalogue' AND m.platform_name = a.provider
    WHERE a.date_added <= {{ as_of() }} GROUP BY 1
),
notify AS (
    SELECT m.organisation_slug, bool_or(n.agreement_signed) AS notify_agreement_signed_2019
    FROM {{ source('staging', 'notify_organisations') }} n JOIN matches m ON m.platform = 'GOV.UK Notify' AND m.platform_name = n.organisation_name
    GROUP BY 1
)
SELECT o.organisation_slug, o.organisation_code, o.name AS organisation_name, o.organisation_type, o.status,
       o.is_department, o.department_slug, o.department_code, o.department_name,
       coalesce(p.pay_live_services, 0) AS pay_live_services, p.pay_names, p.pay_date,
       coalesce(ol.one_login_services, 0) AS one_login_services,
       coalesce(a.apis_published, 0) AS apis_published,
       n.notify_agreement_signed_2019
FROM {{ source('staging', 'organisations') }} o
LEFT JOIN pay p USING (organisation_slug)
LEFT JOIN one_login ol USING (organisation_slug)
LEFT JOIN apis a USING (organisation_slug)
LEFT JOIN notify n USING (organisation_slug)
WHERE p.organisation_slug IS NOT NULL OR ol.organisation_slug IS NOT NULL OR a.organisation_slug IS NOT NULL
   OR n.organisation_slug IS NOT NULL
ORDER BY o.department_name, NOT o.is_department, o.name
