-- Every return file received and what happened to it, whatever the reporting date, with its problems: what "Your
-- returns" shows the organisation that sent it. A return received after the reporting date is checked when it
-- arrives, but counts in the figures (return_submissions and the marts after it) only from its own date.
SELECT s.submission_ref, s.organisation_code, o.name AS organisation_name, s.file_name, s.channel, s.sender,
       s.on_behalf_reason, s.received_at, s.reporting_quarter, s.status, s.summary, s.is_illustrative,
       {{ uk_date('s.received_at') }} > {{ as_of() }} AS after_reporting_date,
       (SELECT {{ record_list([('row_number', 'p.row_number'), ('column_letter', 'p.column_letter'),
                               ('column_name', 'p.column_name'), ('message', 'p.message')],
                              order_by='p.row_number NULLS FIRST, p.column_letter') }}
        FROM {{ source('quarantine', 'return_problems') }} p
        WHERE p.submission_ref = s.submission_ref) AS problems
FROM {{ source('audit', 'return_submissions') }} s
LEFT JOIN {{ source('staging', 'organisations') }} o ON o.organisation_code = s.organisation_code
ORDER BY s.received_at DESC
