-- The whole Civil Service per year (as at 31 March), as the Civil Service Statistics publish it nationally
-- (not the sum of the department rows, which are each rounded to 5).
SELECT year::INTEGER AS year,
       as_at::DATE AS as_at,
       ddat_headcount::DOUBLE PRECISION AS ddat_headcount,
       ddat_fte::DOUBLE PRECISION AS ddat_fte,
       total_headcount::DOUBLE PRECISION AS total_headcount,
       total_fte::DOUBLE PRECISION AS total_fte,
       ddat_share_pct::DOUBLE PRECISION AS ddat_share_pct,
       unknown_profession_share_pct::DOUBLE PRECISION AS unknown_profession_share_pct,
       low_coverage::BOOLEAN AS low_coverage,
       ('Civil servants in post whose profession of post is Digital, Data and Technology (DDaT profession), '
        || 'headcount, 31 March ' || year || '; Civil Service Statistics')::VARCHAR AS definition
FROM {{ source('staging', 'digital_capacity_national') }}
WHERE as_at::DATE <= {{ as_of() }}  -- only what the statistics described by the reporting date
ORDER BY year
