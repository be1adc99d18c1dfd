WITH returns AS (SELECT * FROM {{ ref('returns_in_context') }}),
by_platform AS (SELECT * FROM {{ ref('return_platform_figures') }}),
figures AS (
    SELECT organisation_code, reporting_quarter, platform, 'services in scope' AS measure, in_scope AS value
    FROM by_platform
    UNION ALL SELECT organisation_code, reporting_quarter, platform, 'services live', live FROM by_platform
    UNION ALL SELECT organisation_code, reporting_quarter, 'GOV.UK Forms', 'forms in total', forms_total FROM returns
    UNION ALL SELECT organisation_code, reporting_quarter, 'GOV.UK Forms', 'forms online', forms_online FROM returns
),
paired AS (
    SELECT r.organisation_code, r.organisation_name, r.department_name, f.platform, f.measure,
           r.reporting_quarter, p.reporting_quarter AS previous_quarter, pf.value AS previous_value, f.value,
           r.is_illustrative
    FROM figures f
    JOIN returns r USING (organisation_code, reporting_quarter)
    JOIN returns p ON p.organisation_code = r.organisation_code AND p.quarter_index = r.quarter_index - 1
    JOIN figures pf ON pf.organisation_code = p.organisation_code AND pf.reporting_quarter = p.reporting_quarter
         AND pf.platform = f.platform AND pf.measure = f.measure
    WHERE f.value IS NOT NULL AND pf.value IS NOT NULL
)
SELECT *, value - previous_value AS change,
       {{ rounded('CAST(value - previous_value AS DOUBLE PRECISION) / nullif(previous_value, 0)', 4) }} AS change_share,
       abs(value - previous_value) > {{ setting('plausible_change_minimum') }}
         AND abs(value - previous_value) > {{ setting('plausible_change_share') }} * previous_value AS implausible
FROM paired
ORDER BY implausible DESC, abs(value - previous_value) DESC, organisation_name
