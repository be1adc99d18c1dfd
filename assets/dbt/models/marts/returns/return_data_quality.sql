WITH current_quarter AS (SELECT * FROM {{ source('staging', 'reporting_quarters') }} WHERE is_latest_ended),
status AS (SELECT * FROM {{ ref('returns_status') }} WHERE is_current_quarter AND expected),
submissions AS (SELECT * FROM {{ ref('submissions_as_of') }}),
accepted AS (
    SELECT r.*, q.deadline_passed FROM {{ ref('returns_in_context') }} r
    JOIN {{ source('staging', 'reporting_quarters') }} q USING (reporting_quarter)
),
measures AS (
    SELECT 'completeness' AS dimension, 'expected organisations that returned for the current quarter' AS measure,
           count(*) FILTER (WHERE status IN ('received', 'received late')) AS numerator, count(*) AS denominator,
           'quarter ' || {{ any_value_of('reporting_quarter') }} || ', due ' || {{ any_value_of('deadline') }} AS detail
    FROM status
    UNION ALL
    SELECT 'completeness', 'optional transaction figures given where services are live',
           (count(*) FILTER (WHERE pay_services_live > 0 AND pay_transactions IS NOT NULL)
            + count(*) FILTER (WHERE notify_services_live > 0 AND notify_transactions IS NOT NULL)
            + count(*) FILTER (WHERE one_login_services_live > 0 AND one_login_transactions IS NOT NULL)
            + count(*) FILTER (WHERE forms_services_live > 0 AND forms_transactions IS NOT NULL)),
           (count(*) FILTER (WHERE pay_services_live > 0) + count(*) FILTER (WHERE notify_services_live > 0)
            + count(*) FILTER (WHERE one_login_services_live > 0) + count(*) FILTER (WHERE forms_services_live > 0)),
           'all accepted returns'
    FROM accepted
    UNION ALL
    SELECT 'validity', 'submitted files that met the return contract',
           count(*) FILTER (WHERE status IN ('accepted', 'accepted with warnings')),
           count(*) FILTER (WHERE status <> 'duplicate'),
           count(*) FILTER (WHERE status = 'rejected') || ' rejected, with '
             || (SELECT count(*) FROM {{ source('quarantine', 'return_problems') }} p
                WHERE p.submission_ref IN (SELECT submission_ref FROM {{ ref('submissions_as_of') }})) || ' problems in quarantine'
    FROM submissions
    UNION ALL
    SELECT 'uniqueness', 'files that were not an exact resend of an earlier file',
           count(*) FILTER (WHERE status <> 'duplicate'), count(*),
           count(*) FILTER (WHERE status = 'duplicate') || ' duplicates recorded and ignored; one set of figures '
             || 'per organisation and quarter'
    FROM submissions
    UNION ALL
    SELECT 'consistency', 'quarter-on-quarter changes within the plausible range',
           count(*) FILTER (WHERE NOT implausible), count(*),
           'more than ' || ({{ setting('plausible_change_share') }} * 100)::INTEGER || '% and more than '
             || {{ setting('plausible_change_minimum') }} || ' is implausible'
    FROM {{ ref('return_plausibility') }}
    UNION ALL
    SELECT 'timeliness', 'accepted returns received by their deadline',
           count(*) FILTER (WHERE received_on_uk_date <= deadline), count(*),
           'returns for quarters whose deadline has passed'
    FROM accepted WHERE deadline_passed
    UNION ALL
    SELECT 'accuracy', 'reported live GOV.UK Pay services that agree with GOV.UK Pay''s own figures',
           count(*) FILTER (WHERE NOT beyond_tolerance), count(*),
           'within ' || ({{ setting('reconciliation_share') }} * 100)::INTEGER || '% or ' || {{ setting('reconciliation_minimum') }}
             || ' service; the only figure with a second source'
    FROM {{ ref('return_reconciliation') }} WHERE published_live IS NOT NULL
)
SELECT dimension, measure, numerator, denominator,
       {{ rounded('CAST(numerator AS DOUBLE PRECISION) / nullif(denominator, 0)', 4) }} AS score, detail,
       (SELECT reporting_quarter FROM current_quarter) AS current_quarter, {{ as_of() }} AS as_of
FROM measures
