WITH orgs AS (SELECT * FROM {{ source('staging', 'organisations') }} WHERE organisation_code IS NOT NULL),
submissions AS (SELECT * FROM {{ ref('submissions_as_of') }} WHERE status <> 'duplicate'),
first_quarter AS (
    SELECT coalesce(min(q.quarter_index), (SELECT quarter_index FROM {{ source('staging', 'reporting_quarters') }} WHERE is_latest_ended))
           AS quarter_index
    FROM submissions s JOIN {{ source('staging', 'reporting_quarters') }} q USING (reporting_quarter)
),
quarters AS (
    SELECT q.* FROM {{ source('staging', 'reporting_quarters') }} q, first_quarter f
    WHERE q.quarter_index >= f.quarter_index AND q.has_ended
),
organisations AS (
    SELECT organisation_code, true AS expected FROM {{ source('staging', 'return_expected_submitters') }}
    UNION SELECT DISTINCT organisation_code, false FROM submissions
    WHERE organisation_code NOT IN (SELECT organisation_code FROM {{ source('staging', 'return_expected_submitters') }})
),
tried AS (
    SELECT coalesce(return_organisation_code, organisation_code) AS organisation_code, reporting_quarter,
           count(*) AS submissions, count(*) FILTER (WHERE status = 'rejected') AS rejected_submissions,
           max(received_at) AS last_received_at,
           {{ arg_max('status', 'received_at') }} AS last_status, {{ arg_max('summary', 'received_at') }} AS last_summary
    FROM submissions WHERE reporting_quarter IS NOT NULL
    GROUP BY coalesce(return_organisation_code, organisation_code), reporting_quarter
)
SELECT g.organisation_code, o.name AS organisation_name, o.department_code, o.department_name, g.expected,
       q.reporting_quarter, q.quarter_end, q.deadline, q.is_latest_ended AS is_current_quarter,
       CASE WHEN r.submission_ref IS NOT NULL AND r.received_on_uk_date <= q.deadline THEN 'received'
            WHEN r.submission_ref IS NOT NULL THEN 'received late'
            WHEN t.rejected_submissions > 0 AND q.deadline_passed THEN 'rejected, overdue'
            WHEN t.rejected_submissions > 0 THEN 'rejected, resubmission due'
            WHEN q.deadline_passed THEN 'missing'
            ELSE 'due' END AS status,
       r.received_at, r.submission_ref, r.is_illustrative,
       greatest({{ dbt.datediff('q.deadline', 'coalesce(r.received_on_uk_date, ' ~ as_of() ~ ')', 'day') }}, 0) AS days_late,
       coalesce(t.submissions, 0) AS submissions, coalesce(t.rejected_submissions, 0) AS rejected_submissions,
       t.last_status, t.last_summary,
       g.expected AND r.submission_ref IS NULL AND q.deadline_passed AS needs_chasing,
       {{ as_of() }} AS as_of
FROM organisations g CROSS JOIN quarters q
LEFT JOIN orgs o ON o.organisation_code = g.organisation_code
LEFT JOIN {{ ref('returns_in_context') }} r ON r.organisation_code = g.organisation_code
     AND r.reporting_quarter = q.reporting_quarter
LEFT JOIN tried t ON t.organisation_code = g.organisation_code AND t.reporting_quarter = q.reporting_quarter
WHERE g.expected OR r.submission_ref IS NOT NULL OR t.submissions > 0
ORDER BY q.quarter_end DESC, needs_chasing DESC, o.department_name, o.name
