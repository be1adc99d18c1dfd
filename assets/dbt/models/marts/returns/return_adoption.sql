WITH returns AS (SELECT * FROM {{ ref('returns_in_context') }}),
by_platform AS (SELECT * FROM {{ ref('return_platform_figures') }}),
organisation_rows AS (
    SELECT 'organisation' AS level, r.organisation_code, r.organisation_name, r.department_code, r.department_name,
           r.reporting_quarter, r.quarter_end, b.platform, b.in_scope, b.live, b.planned, b.transactions,
           1 AS organisations_reporting, r.organisation_name AS reported_by, r.is_illustrative
    FROM by_platform b JOIN returns r USING (organisation_code, reporting_quarter)
    WHERE b.in_scope IS NOT NULL
),
department_rows AS (
    SELECT 'department', department_code, department_name, department_code, department_name,
           reporting_quarter, quarter_end, platform, sum(in_scope), sum(live), sum(planned), sum(transactions),
           count(*), string_agg(organisation_name, '; ' ORDER BY organisation_name), bool_or(is_illustrative)
    FROM organisation_rows GROUP BY department_code, department_name, reporting_quarter, quarter_end, platform
)
SELECT *, {{ rounded('CAST(live AS DOUBLE PRECISION) / nullif(in_scope, 0)', 4) }} AS adoption_rate,
       in_scope - live AS not_yet_live
FROM (SELECT * FROM organisation_rows UNION ALL SELECT * FROM department_rows) AS all_rows
-- Not sorted (290,000 rows at national size): each dashboard query on it says its own order.
