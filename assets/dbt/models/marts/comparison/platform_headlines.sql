WITH sources AS (SELECT * FROM {{ source('staging', 'sources') }}),
series AS (SELECT * FROM {{ ref('metric_series') }} WHERE date <= {{ as_of() }}),
latest AS (
    SELECT platform, metric, measure, max(date) AS latest_date, {{ arg_max('value', 'date') }} AS latest_value,
           {{ arg_max('is_illustrative', 'date') }} AS is_illustrative,
           -- NULL is a value here: no change of definition
           {{ arg_max('definition_note', 'date', keep_null_arg=true) }} AS definition_note
    FROM series GROUP BY platform, metric, measure
),
previous AS (
    -- the previous period: the last figure dated inside the quarter before the latest figure's; none there
    -- (a half-yearly or yearly series), no change: a half year is never compared with a whole year; nor is a
    -- figure the source defined differently (the API catalogue's file before 6 Aug 2025)
    SELECT l.metric, (date_trunc('quarter', l.latest_date) - INTERVAL '1 day')::DATE AS previous_period_end,
           max(s.date) AS previous_date, {{ arg_max('s.value', 's.date') }} AS previous_value
    FROM latest l LEFT JOIN series s
      ON s.metric = l.metric AND s.date < date_trunc('quarter', l.latest_date)
     AND s.date >= date_trunc('quarter', l.latest_date) - INTERVAL '3 months'
     AND s.definition_note IS NOT DISTINCT FROM l.definition_note
    GROUP BY l.metric, previous_period_end
)
SELECT l.platform, l.metric, l.measure, l.metric IN ('pay_live_services', 'notify_agreements_signed', 'one_login_services_onboarded', 'verify_accounts_cumulative', 'forms_live_forms', 'apis_published') AS is_headline,
       l.latest_date, l.latest_value, p.previous_period_end, p.previous_date, p.previous_value,
       l.latest_value - p.previous_value AS change,
       {{ rounded('(l.latest_value - p.previous_value) / nullif(p.previous_value, 0)', 4) }} AS change_share,
       l.is_illustrative, s.source, s.name AS source_name, s.publisher,
       {{ dbt.datediff('l.latest_date', as_of(), 'day') }} AS days_old, s.fresh_within_days,
       {{ freshness('l.latest_date') }} AS freshness, s.closed_note,
       {{ as_of() }} AS as_of
FROM latest l
LEFT JOIN previous p USING (metric)
LEFT JOIN sources s
  ON s.source = 'returns' AND starts_with(l.metric, 'returns_')
  OR NOT starts_with(l.metric, 'returns_') AND {{ list_has('s.platforms', 'l.platform') }}
ORDER BY l.platform, is_headline DESC, l.metric
