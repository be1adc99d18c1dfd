-- What civil servants said about digital skills and barriers in the surveys of 2015-2017, as the reports worded
-- it: percent stays as written ("nearly half"); percent_value is set only where the report gave a plain number.
SELECT survey::VARCHAR AS survey,
       period::VARCHAR AS period,
       finding::VARCHAR AS finding,
       percent::VARCHAR AS percent,
       percent_value::DOUBLE PRECISION AS percent_value,
       sample::VARCHAR AS sample,
       source::VARCHAR AS source
FROM {{ source('staging', 'civil_servant_surveys') }}
ORDER BY survey, period, finding
