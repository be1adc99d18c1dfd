-- How many departments and organisations name each barrier, per quarter: every barrier on the list
-- (staging.return_barriers_list, from checks/return_contract.py), zero when nobody named it, for every quarter
-- with at least one return in force that reported the skills section. A return on the version 1 template did not
-- report barriers, so it is in neither the counts nor the denominator.
WITH reporting AS (
    SELECT * FROM {{ ref('return_skills') }} WHERE level = 'organisation' AND skills_reported
),
named AS (
    SELECT r.organisation_code, r.department_code, r.reporting_quarter, p.barrier
    FROM reporting r JOIN {{ ref('return_barrier_picks') }} p USING (organisation_code, reporting_quarter)
),
quarters AS (
    SELECT reporting_quarter, count(*) AS organisations_reporting_skills,
           bool_or(is_illustrative) AS uses_illustrative_data
    FROM reporting GROUP BY reporting_quarter
)
SELECT q.reporting_quarter, l.barrier, l.barrier_order::INTEGER AS barrier_order,
       count(DISTINCT n.department_code) AS departments_naming,
       count(DISTINCT n.organisation_code) AS organisations_naming,
       q.organisations_reporting_skills, q.uses_illustrative_data
FROM quarters q
CROSS JOIN {{ source('staging', 'return_barriers_list') }} l
LEFT JOIN named n ON n.reporting_quarter = q.reporting_quarter AND n.barrier = l.barrier
GROUP BY q.reporting_quarter, l.barrier, l.barrier_order, q.organisations_reporting_skills, q.uses_illustrative_data
ORDER BY q.reporting_quarter, l.barrier_order
