-- Civil servants in the Digital, Data and Technology profession per department and year (as at 31 March), from
-- the Civil Service Statistics, each department as it was on the figure's date (staging.skills_name_mapping):
-- a renamed or merged body under today's department, a body split later (BEIS, DCMS) under its old name and
-- never divided. Names that are not one department (devolved administrations, ACSES groupings) are here too,
-- with department_code NULL; marts.skills_unmapped_names says why.
SELECT m.department_code,
       coalesce(m.department_name, c.name_as_published) AS department_name,
       c.name_as_published,
       c.as_at::DATE AS as_at,
       c.year::INTEGER AS year,
       c.ddat_headcount::DOUBLE PRECISION AS ddat_headcount,
       c.ddat_fte::DOUBLE PRECISION AS ddat_fte,
       c.total_headcount::DOUBLE PRECISION AS total_headcount,
       c.total_fte::DOUBLE PRECISION AS total_fte,
       c.ddat_share_pct::DOUBLE PRECISION AS ddat_share_pct,
       c.unknown_profession_share_pct::DOUBLE PRECISION AS unknown_profession_share_pct,
       c.low_coverage::BOOLEAN AS low_coverage,
       coalesce(m.mapping_note, CASE WHEN m.department_code IS NULL THEN m.unmapped_reason END)::VARCHAR
           AS mapping_note,
       m.successor_departments::VARCHAR AS successor_departments,
       ('Civil servants in post whose profession of post is Digital, Data and Technology (DDaT profession), '
        || 'headcount, 31 March ' || c.year || '; Civil Service Statistics')::VARCHAR AS definition
FROM {{ source('staging', 'digital_capacity') }} c
LEFT JOIN {{ source('staging', 'skills_name_mapping') }} m USING (year, name_as_published)
WHERE c.as_at::DATE <= {{ as_of() }}  -- only what the statistics described by the reporting date
ORDER BY c.year, department_name
