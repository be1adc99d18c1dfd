WITH d AS (
    SELECT platform, measure, month, department_code, department_name, sum(value) AS value
    FROM {{ ref('adoption_by_department_month') }}
    WHERE department_code IS NOT NULL AND month <= {{ as_of() }}
    GROUP BY platform, measure, month, department_code, department_name
),
data_end AS (  -- the month of each platform's latest figure: months after it only repeat it
    SELECT platform, date_trunc('month', max(date))::DATE AS data_month
    FROM {{ ref('metric_series') }} WHERE date <= {{ as_of() }} GROUP BY 1
),
ends AS (
    SELECT d.platform, d.measure, min(d.month) AS first_month, least(max(d.month), {{ any_value_of('e.data_month') }}) AS latest_month
    FROM d LEFT JOIN data_end e USING (platform) GROUP BY d.platform, d.measure
),
span AS (
    SELECT platform, measure, latest_month,
           greatest(first_month, (latest_month - INTERVAL '12 months')::DATE) AS base_month
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
