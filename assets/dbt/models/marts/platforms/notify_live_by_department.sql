-- GOV.UK Notify's live services per department, from the latest document the tracker fetched of Notify's
-- performance data (fetched on or before the reporting date). Names not matched to a GOV.UK organisation
-- (councils, NHS bodies, "No organisation") have no department and are not counted here.
WITH services AS (
    SELECT * FROM {{ source('staging', 'notify_live_services') }}
    WHERE fetched_at::DATE <= {{ as_of() }}
),
latest AS (
    SELECT max(fetched_at) AS fetched_at FROM services
),
departments AS (
    SELECT department_code, {{ any_value_of('department_name') }} AS department_name
    FROM {{ source('staging', 'organisations') }}
    WHERE department_code IS NOT NULL
    GROUP BY department_code
)
SELECT s.department_code,
       d.department_name,
       count(DISTINCT s.organisation_code) AS organisations,
       sum(s.live_services) AS live_services,
       s.fetched_at,
       s.fetched_at::DATE AS data_date
FROM services s
JOIN latest l ON s.fetched_at = l.fetched_at
LEFT JOIN departments d ON d.department_code = s.department_code
WHERE s.department_code IS NOT NULL
GROUP BY s.department_code, d.department_name, s.fetched_at
ORDER BY live_services DESC, s.department_code
