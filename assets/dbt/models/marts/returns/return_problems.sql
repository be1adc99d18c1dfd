SELECT s.submission_ref, s.organisation_code, o.name AS organisation_name, s.file_name, s.received_at,
       s.reporting_quarter, s.is_illustrative, p.row_number, p.column_letter, p.column_name, p.value, p.rule, p.message,
       s.submission_ref IN (SELECT submission_ref FROM {{ ref('returns_in_force') }}) AS is_current
FROM {{ source('quarantine', 'return_problems') }} p
JOIN {{ ref('submissions_as_of') }} s USING (submission_ref)
LEFT JOIN {{ source('staging', 'organisations') }} o ON o.organisation_code = s.organisation_code
ORDER BY s.received_at DESC, p.row_number NULLS FIRST
