SELECT s.submission_ref, s.organisation_code, o.name AS organisation_name, o.department_name, s.file_name, s.channel,
       s.sender, s.on_behalf_reason,
       s.is_illustrative, s.received_at, s.processed_at, s.reporting_quarter, s.status, s.problem_count,
       s.warning_count, s.summary, s.warnings, s.normalisations, s.duplicate_of,
       s.submission_ref IN (SELECT submission_ref FROM {{ ref('returns_in_force') }}) AS is_current,
       s.status IN ('accepted', 'accepted with warnings')
         AND s.submission_ref NOT IN (SELECT submission_ref FROM {{ ref('returns_in_force') }}) AS is_superseded
FROM {{ ref('submissions_as_of') }} s
LEFT JOIN {{ source('staging', 'organisations') }} o ON o.organisation_code = s.organisation_code
ORDER BY s.received_at DESC
