WITH returns AS (SELECT * FROM {{ ref('returns_in_context') }}),
by_platform AS (SELECT * FROM {{ ref('return_platform_figures') }}),
figures AS (
    SELECT organisation_code, reporting_quarter, platform, 'services in scope' AS measure, in_scope AS value
    FROM by_platform
    UNION ALL SELECT organisation_code, reporting_quarter, platform, 'services live', live FROM by_platform
    UNION ALL SELECT organisation_code, reporting_quarter, 'GOV.UK Forms', 'forms in total', forms_total FROM returns
    UNION ALL SELECT organisation_code, reporting_quarter, 'GOV.UK Forms', 'forms online', forms_online FROM returns
),
-- Each figure beside the same figure in the organisation's return for the quarter before, taken with a window
-- over its quarters rather than by joining the figures to themselves (PostgreSQL planned that join per row:
-- up to minutes at national size).
series AS (
    SELECT r.organisation_code, r.organisation_name, r.department_name, f.platform, f.measure,
           r.reporting_quarter, r.quarter_index, f.value, r.is_illustrative,
           lag(r.quarter_index) OVER quarters AS previous_index,
           lag(r.reporting_quarter) OVER quarters AS previous_quarter,
           lag(f.value) OVER quarters AS previous_value
    FROM figures f
    JOIN returns r USING (organisation_code, reporting_quarter)
    WINDOW quarters AS (PARTITION BY r.organisation_code, f.platform, f.measure ORDER BY r.quarter_index)
),
paired AS (
    SELECT organisation_code, organisation_name, department_name, platform, measure,
           reporting_quarter, previous_quarter, previous_value, value, is_illustrative
    FROM series
    WHERE previous_index = quarter_index - 1 AND value IS NOT NULL AND previous_value IS NOT NULL
)
SELECT *, value - previous_value AS change,
       {{ rounded('CAST(value - previous_value AS DOUBLE PRECISION) / nullif(previous_value, 0)', 4) }} AS change_share,
       abs(value - previous_value) > {{ setting('plausible_change_minimum') }}
         AND abs(value - previous_value) > {{ setting('plausible_change_share') }} * previous_value AS implausible
FROM paired
-- Not sorted: 640,000 rows at national size, which no dashboard page reads; sorting them was most of the model's
-- cost. The warning check on it (checks/return_checks.py) shows the largest implausible changes first.
