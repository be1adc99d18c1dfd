-- The return in force for each organisation and quarter on the reporting date: the latest-received accepted return
-- received by then (its UK date). A return received later does not count yet, and the one it replaced still does.
-- (submission_ref names one accepted return: assets/returns.py adds each once.)
SELECT a.*
FROM {{ source('staging', 'accepted_returns') }} a
WHERE a.submission_ref IN (
    SELECT submission_ref
    FROM (
        SELECT submission_ref, row_number() OVER (PARTITION BY organisation_code, reporting_quarter
                                                  ORDER BY received_at DESC, submission_ref DESC) AS recency
        FROM {{ source('staging', 'accepted_returns') }}
        WHERE {{ uk_date('received_at') }} <= {{ as_of() }}
    ) ranked
    WHERE recency = 1
)
