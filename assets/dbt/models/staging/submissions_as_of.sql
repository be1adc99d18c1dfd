-- Every arrival of a return received by the reporting date (its UK date): --as-of ignores what came later.
SELECT *, {{ uk_date('received_at') }} AS received_on_uk_date
FROM {{ source('audit', 'return_submissions') }}
WHERE {{ uk_date('received_at') }} <= {{ as_of() }}
