-- Each accepted return with its organisation, department and the quarter's dates: what every returns mart starts from.
-- received_at is kept in UTC; deadlines are UK dates, so whether a return was on time is judged on the day it
-- arrived in Europe/London (00:30 BST on the 31st is the 31st, not the 30th).
WITH orgs AS (SELECT * FROM {{ source('staging', 'organisations') }} WHERE organisation_code IS NOT NULL)
SELECT r.*, o.name AS organisation_name, o.organisation_slug, o.department_slug,
       o.department_name, o.department_code, q.quarter_index, q.quarter_start, q.quarter_end, q.deadline,
       {{ uk_date('r.received_at') }} AS received_on_uk_date
FROM {{ ref('returns_in_force') }} r
LEFT JOIN orgs o ON o.organisation_code = r.organisation_code
LEFT JOIN {{ source('staging', 'reporting_quarters') }} q ON q.reporting_quarter = r.reporting_quarter
