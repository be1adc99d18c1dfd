-- Every accepted return received by the reporting date, each column of the return contract as sent and typed, with
-- whether it is the return in force: what the upload page compares a new return with. These are the values a
-- department sent (its note among them): the dashboard shows them only to that department and to CDDO.
SELECT a.*, o.name AS organisation_name,
       a.submission_ref IN (SELECT submission_ref FROM {{ ref('returns_in_force') }}) AS is_current
FROM {{ source('staging', 'accepted_returns') }} a
LEFT JOIN {{ source('staging', 'organisations') }} o ON o.organisation_code = a.organisation_code
WHERE {{ uk_date('a.received_at') }} <= {{ as_of() }}
ORDER BY a.received_at DESC
