-- Skills and barriers from the return in force for each organisation and quarter, and per department (its
-- organisations' returns that reported the section, summed). A return made with the version 1 template has no
-- skills section: it is a row with skills_reported false and every figure NULL, never a zero.
-- Barriers come ranked from return_barrier_picks; on department rows they are in the list's order
-- (staging.return_barriers_list, from checks/return_contract.py).
WITH returns AS (SELECT * FROM {{ ref('returns_in_context') }}),
named AS (SELECT * FROM {{ ref('return_barrier_picks') }}),
-- each return's barriers in one string, joined (a subquery per return ran per row on PostgreSQL: minutes at
-- national size)
organisation_barriers AS (
    SELECT organisation_code, reporting_quarter, string_agg(barrier, '; ' ORDER BY barrier_rank) AS main_barriers
    FROM named GROUP BY organisation_code, reporting_quarter
),
organisation_rows AS (
    SELECT 'organisation' AS level, r.organisation_code, r.organisation_name, r.department_code, r.department_name,
           r.reporting_quarter, r.contract_version::INTEGER AS contract_version, r.skills_reported,
           r.ddat_staff_fte::DOUBLE PRECISION AS ddat_staff_fte, r.ddat_vacancies::BIGINT AS ddat_vacancies,
           r.senior_civil_servants::BIGINT AS senior_civil_servants,
           r.senior_civil_servants_trained::BIGINT AS senior_civil_servants_trained,
           CASE WHEN r.skills_reported THEN b.main_barriers END AS main_barriers,
           r.is_illustrative
    FROM returns r
    LEFT JOIN organisation_barriers b
           ON b.organisation_code = r.organisation_code AND b.reporting_quarter = r.reporting_quarter
),
department_barriers AS (
    SELECT department_code, reporting_quarter, string_agg(barrier, '; ' ORDER BY barrier_order) AS main_barriers
    FROM (
        SELECT DISTINCT o.department_code, n.reporting_quarter, n.barrier, l.barrier_order
        FROM named n
        JOIN organisation_rows o USING (organisation_code, reporting_quarter)
        JOIN {{ source('staging', 'return_barriers_list') }} l USING (barrier)
        WHERE o.skills_reported AND o.department_code IS NOT NULL
    ) AS named_by_department
    GROUP BY department_code, reporting_quarter
),
department_rows AS (
    SELECT 'department' AS level, o.department_code AS organisation_code, o.department_name AS organisation_name,
           o.department_code, o.department_name, o.reporting_quarter,
           max(o.contract_version)::INTEGER AS contract_version, bool_or(o.skills_reported) AS skills_reported,
           sum(o.ddat_staff_fte) FILTER (WHERE o.skills_reported)::DOUBLE PRECISION AS ddat_staff_fte,
           sum(o.ddat_vacancies) FILTER (WHERE o.skills_reported)::BIGINT AS ddat_vacancies,
           sum(o.senior_civil_servants) FILTER (WHERE o.skills_reported)::BIGINT AS senior_civil_servants,
           sum(o.senior_civil_servants_trained) FILTER (WHERE o.skills_reported)::BIGINT
               AS senior_civil_servants_trained,
           {{ any_value_of('b.main_barriers') }} AS main_barriers,
           bool_or(o.is_illustrative) AS is_illustrative
    FROM organisation_rows o
    LEFT JOIN department_barriers b USING (department_code, reporting_quarter)
    WHERE o.department_code IS NOT NULL
    GROUP BY o.department_code, o.department_name, o.reporting_quarter
)
SELECT level, organisation_code, organisation_name, department_code, department_name, reporting_quarter,
       contract_version, skills_reported, ddat_staff_fte, ddat_vacancies, senior_civil_servants,
       senior_civil_servants_trained, main_barriers, is_illustrative
FROM (SELECT * FROM organisation_rows UNION ALL SELECT * FROM department_rows) AS all_rows  -- the same columns, in order
ORDER BY level DESC, department_name, organisation_name, reporting_quarter
