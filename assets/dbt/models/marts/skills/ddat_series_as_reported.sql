-- The national count of civil servants in digital roles as published, 2013-2025. Each row keeps its own
-- definition (IT profession, DDaT profession, DDaT function, "digital and data roles"): a line drawn through
-- rows of different definitions would show a change of definition as a change of capacity.
SELECT as_at::DATE AS as_at,
       ddat_headcount::DOUBLE PRECISION AS ddat_headcount,
       total_cs_headcount::DOUBLE PRECISION AS total_cs_headcount,
       ddat_share_pct::DOUBLE PRECISION AS ddat_share_pct,
       definition::VARCHAR AS definition,
       source_url::VARCHAR AS source_url,
       source_note::VARCHAR AS source_note
FROM {{ source('staging', 'ddat_series_as_reported') }}
WHERE as_at::DATE <= {{ as_of() }}  -- only what was reported by the reporting date
ORDER BY as_at, definition
