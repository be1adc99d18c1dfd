WITH orgs AS (SELECT * FROM {{ source('staging', 'organisations') }} WHERE organisation_code IS NOT NULL),
returns AS (SELECT * FROM {{ ref('returns_in_context') }}),
expected AS (
    SELECT e.organisation_code FROM {{ source('staging', 'return_expected_submitters') }} e
    JOIN orgs o ON o.organisation_code = e.organisation_code WHERE o.is_department
),
per_quarter AS (
    SELECT q.reporting_quarter, q.quarter_end, count(r.organisation_code) AS departments_returned,
           count(r.organisation_code) FILTER (WHERE r.one_login_services_live + r.one_login_services_planned > 0)
             AS departments_with_plan,
           coalesce(bool_or(r.is_illustrative), false) AS is_illustrative
    FROM {{ source('staging', 'reporting_quarters') }} q
    JOIN returns r ON r.reporting_quarter = q.reporting_quarter AND r.organisation_code IN (SELECT * FROM expected)
    GROUP BY q.reporting_quarter, q.quarter_end
)
SELECT p.reporting_quarter, p.quarter_end, e.expected_departments, p.departments_returned, p.departments_with_plan,
       {{ rounded('CAST(p.departments_with_plan AS DOUBLE PRECISION) / nullif(e.expected_departments, 0)', 4) }}
           AS departments_with_plan_share,
       p.is_illustrative
FROM per_quarter p CROSS JOIN (SELECT count(*) AS expected_departments FROM expected) e
ORDER BY p.quarter_end
