-- Every parent-department name the Civil Service Statistics published that is not shown under a department of
-- today, per year, with the reason: devolved administrations, ACSES groupings of several departments, bodies
-- split later (kept under their old name, not divided), and names or successors the register does not know.
SELECT year::INTEGER AS year,
       as_at::DATE AS as_at,
       name_as_published::VARCHAR AS name_as_published,
       mapping::VARCHAR AS mapping,
       unmapped_reason::VARCHAR AS reason,
       organisation_name::VARCHAR AS organisation_name,
       successor_departments::VARCHAR AS successor_departments
FROM {{ source('staging', 'skills_name_mapping') }}
WHERE department_code IS NULL AND as_at::DATE <= {{ as_of() }}
ORDER BY year, name_as_published
