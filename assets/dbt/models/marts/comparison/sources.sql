WITH sources AS (SELECT * FROM {{ source('staging', 'sources') }}),
files AS (
    SELECT source, count(*) AS files_kept, count(*) FILTER (WHERE in_latest_listing) AS files_listed,
           sum(size_bytes) AS bytes_kept, max(received_at) AS last_stored_at,
           {{ arg_max('file_name', 'file_name', where="in_latest_listing AND file_name <> 'versions.csv'") }} AS newest_file,
           {{ arg_max('sha256', 'file_name', where="in_latest_listing AND file_name <> 'versions.csv'") }} AS newest_file_sha256,
           {{ any_value_of('origin') }} AS shipped_as
    FROM {{ ref('source_files') }} GROUP BY 1
    UNION ALL
    SELECT 'returns', count(*), count(*), sum(size_bytes), max(received_at), {{ arg_max('file_name', 'received_at') }},
           {{ arg_max('sha256', 'received_at') }}, 'TRACKER_HOME/returns/archive/<organisation>/'
    FROM {{ source('raw', 'return_files') }}
),
problems AS (
    SELECT source, count(*) FILTER (WHERE file_name IS NOT NULL AND consequence LIKE 'file left out%') AS files_left_out,
           bool_or(consequence LIKE '%last good figures%') AS kept_last_good,
           string_agg(coalesce(file_name || ': ', '') || problem, '; ' ORDER BY file_name) AS problems
    FROM {{ ref('feed_problems') }} GROUP BY 1
),
builds AS (
{% for source_key in ['pay', 'forms', 'notify', 'one_login', 'verify', 'data_sharing', 'organisations', 'skills'] %}
{% if not loop.first %}UNION ALL {% endif %}SELECT source, built_at, tried_at FROM {{ source('meta', source_key ~ '_build') }}
{% endfor %}
),
dates AS (
    SELECT s.source, min(m.date) AS first_date, max(m.date) AS latest_date
    FROM sources s JOIN {{ ref('metric_series') }} m ON {{ list_has('s.platforms', 'm.platform') }} AND m.date <= {{ as_of() }}
    GROUP BY 1
)
SELECT s.source, s.name, array_to_string(s.platforms, ', ') AS platforms, s.publisher, s.origin, s.cadence,
       s.fresh_within_days, s.closed_note, d.first_date, d.latest_date,
       {{ dbt.datediff('d.latest_date', as_of(), 'day') }} AS days_old,
       b.built_at AS last_built_at, b.tried_at AS last_tried_at,
       {{ freshness('d.latest_date') }} AS freshness,
       f.files_kept, f.files_listed, f.bytes_kept, f.last_stored_at, f.newest_file, f.newest_file_sha256,
       f.shipped_as,
       CASE WHEN p.kept_last_good THEN 'kept at last good figures'
            WHEN p.files_left_out > 0 THEN 'files left out'
            WHEN p.problems IS NOT NULL THEN 'read with problems'
            ELSE 'read in full' END AS feed_status,
       coalesce(p.files_left_out, 0) AS files_left_out, p.problems AS feed_problem_summary,
       {{ as_of() }} AS as_of
FROM sources s LEFT JOIN dates d USING (source) LEFT JOIN files f USING (source) LEFT JOIN problems p USING (source)
LEFT JOIN builds b USING (source)
ORDER BY source
