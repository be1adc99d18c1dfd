WITH rules AS (SELECT * FROM {{ source('staging', 'target_rules') }} LIMIT 1),
series AS (SELECT metric, date, value, is_illustrative FROM {{ ref('metric_series') }} WHERE date <= {{ as_of() }}),
with_baseline AS (
    SELECT t.*,
           CASE WHEN t.baseline_from_data THEN
                (SELECT {{ arg_max('s.value', 's.date') }} FROM series s WHERE s.metric = t.tracked_by AND s.date <= t.baseline_date)
                ELSE t.baseline_value END AS baseline
    FROM {{ source('staging', 'targets') }} t
),
closed AS (
    -- the source's own words for why a closed platform stopped (tracker/sources.py, via staging.sources)
    SELECT t.target_id, nullif({{ any_value_of('s.closed_note') }}, '') AS closed_note
    FROM {{ source('staging', 'targets') }} t JOIN {{ source('staging', 'sources') }} s
      ON {{ list_has('s.platforms', 't.platform') }}
    WHERE t.platform_closed GROUP BY 1
),
tv AS (SELECT *, coalesce(target_value, baseline + target_increase) AS target FROM with_baseline),
-- a target is judged on its series' latest figure, the first to reach it, a baseline and a rate: any of them
-- from ILLUSTRATIVE sample returns makes the judgement illustrative
latest AS (SELECT metric, max(date) AS latest_date, {{ arg_max('value', 'date') }} AS latest_value,
                  bool_or(is_illustrative) AS any_illustrative FROM series GROUP BY metric),
reached AS (
    SELECT tv.target_id, min(s.date) AS reached_on
    FROM tv JOIN series s ON s.metric = tv.tracked_by AND s.value >= tv.target GROUP BY 1
),
ranked AS (
    SELECT s.*, row_number() OVER (PARTITION BY s.metric ORDER BY s.date DESC) AS recency
    FROM series s
),
rate AS (
    -- a slope needs two dates: over one it is NaN, which compares as greater than every number
    SELECT tv.target_id,
           CASE WHEN count(DISTINCT r.date) >= 2 THEN regr_slope(r.value, {{ dbt.datediff("DATE '1970-01-01'", 'r.date', 'day') }}) END AS per_day,
           count(*) AS points
    FROM tv JOIN latest l ON l.metric = tv.tracked_by
    JOIN ranked r ON r.metric = tv.tracked_by
    CROSS JOIN rules
    WHERE r.date >= {{ dbt.dateadd('day', '-rules.forecast_window_days', 'l.latest_date') }} OR r.recency <= 2
    GROUP BY 1
),
measured AS (
    SELECT tv.*, l.latest_date, l.latest_value, l.any_illustrative, rc.reached_on, rt.per_day AS rate_per_day, rt.points AS rate_points,
        CASE WHEN tv.baseline IS NULL OR tv.baseline_date IS NULL OR tv.target IS NULL THEN NULL
             WHEN {{ as_of() }} >= tv.deadline THEN tv.target
             WHEN {{ as_of() }} <= tv.baseline_date THEN tv.baseline
             ELSE tv.baseline + (tv.target - tv.baseline) * {{ dbt.datediff('tv.baseline_date', as_of(), 'day') }}
                  / {{ dbt.datediff('tv.baseline_date', 'tv.deadline', 'day') }}
        END AS trajectory_today
    FROM tv
    LEFT JOIN latest l ON l.metric = tv.tracked_by
    LEFT JOIN reached rc USING (target_id)
    LEFT JOIN rate rt USING (target_id)
),
judged AS (
    SELECT m.*, c.closed_note,
        CASE WHEN m.trajectory_today > m.baseline
             THEN (m.latest_value - m.baseline) / (m.trajectory_today - m.baseline) END AS progress_ratio,
        coalesce(m.any_illustrative, false) AS illustrative
    FROM measured m LEFT JOIN closed c USING (target_id)
)
SELECT j.target_id, j.strategy, j.platform, j.metric, j.title, j.unit, j.tracked_by, j.population, j.scope,
       j.baseline_date, j.baseline, j.baseline_note, j.target, j.deadline,
       j.latest_date, j.latest_value, j.illustrative AS uses_illustrative_data,
       NOT j.illustrative AS counts_in_headline,
       {{ rounded('j.trajectory_today', 2) }} AS trajectory_today,
       {{ rounded('j.progress_ratio', 4) }} AS progress_ratio,
       CASE WHEN j.tracked_by IS NULL THEN 'not measured'
            WHEN j.latest_value IS NULL AND starts_with(j.tracked_by, 'returns_') THEN 'awaiting returns'
            WHEN j.latest_value IS NULL THEN 'no data'
            WHEN j.latest_value >= j.target AND j.reached_on <= j.deadline THEN 'met'
            WHEN j.latest_value >= j.target THEN 'met late'
            WHEN {{ as_of() }} > j.deadline AND j.latest_date < j.deadline THEN 'no figure since deadline'
            WHEN {{ as_of() }} > j.deadline THEN 'missed'
            WHEN j.progress_ratio IS NULL THEN 'no trajectory'
            WHEN j.progress_ratio >= rules.on_track THEN 'on track'
            WHEN j.progress_ratio >= rules.at_risk THEN 'at risk'
            ELSE 'off track' END AS status,
       j.reached_on,
       j.rate_per_day,
       CASE WHEN j.reached_on IS NOT NULL THEN j.reached_on
            WHEN j.platform_closed THEN NULL
            WHEN j.rate_per_day > 0 AND j.latest_value IS NOT NULL
            THEN CAST({{ dbt.dateadd('day', 'ceil((j.target - j.latest_value) / j.rate_per_day)::INTEGER', 'j.latest_date') }} AS DATE)
       END AS forecast_date,
       CASE WHEN j.reached_on IS NOT NULL THEN 'reached'
            WHEN j.platform_closed THEN 'service closed'
            WHEN j.tracked_by IS NULL OR j.latest_value IS NULL THEN NULL
            WHEN j.rate_per_day IS NULL THEN 'too few figures for a rate'
            WHEN j.rate_per_day > 0 THEN 'at current rate'
            ELSE 'not at current rate' END AS forecast_basis,
       j.platform_closed AS service_closed,
       j.judged_in,
       nullif(concat_ws(' ',
           CASE WHEN j.platform_closed
                THEN coalesce(j.closed_note, j.platform || ' has closed.') || ' No forecast is made for a closed service.'
           END,
           j.note::VARCHAR,
           CASE WHEN {{ as_of() }} > j.deadline AND j.latest_date < j.deadline AND j.latest_value < j.target
                THEN 'The latest figure is from ' || {{ format_date('j.latest_date', '%-d %B %Y') }} || ', before the deadline: '
                     || 'whether the target was met is not known from the published figures.' END,
           CASE WHEN j.beside_measure IS NOT NULL
                THEN 'Definitions differ: the target counts ' || coalesce(j.measure_counts, j.measure) || '; the figure '
                     || 'shown beside it counts ' || j.beside_counts || '. Both are shown; the target is not judged '
                     || 'on the other measure.' END,
           CASE WHEN j.illustrative THEN 'Judged on ILLUSTRATIVE sample returns, so counted apart from the headline.'
           END), '') AS status_note,
       {{ as_of() }} AS as_of,
       j.measure, j.measure_counts, j.beside_measure, j.beside_measure_name, j.beside_counts, j.beside_series,
       b.latest_value AS beside_latest_value, b.latest_date AS beside_latest_date,
       j.source_note, j.source_url, j.source_ids
FROM judged j CROSS JOIN rules
LEFT JOIN latest b ON b.metric = j.beside_series
ORDER BY j.platform, j.deadline
