-- What the government said, beside the tracker's own figure for the same thing. A figure is compared only with a
-- series that counts the same thing (data/targets.yaml names it; the national counts of digital civil servants as
-- reported are compared when their definition is the DDaT profession of post, which the tracker's Civil Service
-- Statistics series counts); every other figure says why there is none. Only figures describing a date up to the
-- reporting date are shown.
WITH stated AS (
    SELECT figure_id, source_ids, subject, wording, value, unit, as_at, as_at_precision, said_by, series,
           no_series_because, comparison_note, source_url
    FROM {{ source('staging', 'published_figures') }}
),
reported AS (
    -- the national series as reported: one figure per stated headcount and per stated share
    SELECT r.*,
           CASE WHEN starts_with(r.definition, 'DDaT profession of post') THEN 'ddat_profession'
                WHEN lower(r.definition) LIKE '%function%' THEN 'ddat_function'
                WHEN starts_with(r.definition, 'IT profession') THEN 'it_profession'
                WHEN starts_with(r.definition, 'DDaT profession') THEN 'ddat_profession_ons'
                ELSE 'as_stated' END AS measure
    FROM {{ source('staging', 'ddat_series_as_reported') }} r
),
reported_figures AS (
    SELECT 'ddat-headcount-' || {{ format_date('as_at', '%Y-%m-%d') }} || '-' || measure AS figure_id, NULL AS source_ids,
           'Civil servants in digital roles (headcount)' AS subject, definition AS wording,
           ddat_headcount::DOUBLE PRECISION AS value, 'people' AS unit, as_at, 'day' AS as_at_precision,
           coalesce(source_note, 'as reported') AS said_by,
           CASE WHEN measure = 'ddat_profession' THEN 'ddat_profession_headcount' END AS series,
           CASE WHEN measure <> 'ddat_profession' THEN {{ not_this_measure('measure') }} END AS no_series_because,
           NULL AS comparison_note, source_url
    FROM reported WHERE ddat_headcount IS NOT NULL
    UNION ALL
    SELECT 'ddat-share-' || {{ format_date('as_at', '%Y-%m-%d') }} || '-' || measure, NULL,
           'Share of civil servants in digital roles', definition, ddat_share_pct::DOUBLE PRECISION, 'percent', as_at, 'day',
           coalesce(source_note, 'as reported'),
           CASE WHEN measure = 'ddat_profession' THEN 'ddat_profession_share' END,
           CASE WHEN measure <> 'ddat_profession' THEN {{ not_this_measure('measure') }} END,
           NULL, source_url
    FROM reported WHERE ddat_share_pct IS NOT NULL
),
figures AS (SELECT * FROM stated UNION ALL SELECT * FROM reported_figures),  -- the same columns in the same order
series AS (SELECT metric, date, value FROM {{ ref('metric_series') }} WHERE date <= {{ as_of() }}),
compared AS (
    -- the tracker's figure for the same thing: the series' last value on or before the date the figure describes
    SELECT f.figure_id, max(s.date) AS tracker_date, {{ arg_max('s.value', 's.date') }} AS tracker_value
    FROM figures f JOIN series s ON s.metric = f.series AND s.date <= f.as_at
    GROUP BY 1
)
SELECT f.figure_id, f.source_ids, f.subject, f.wording, f.value, f.unit, f.as_at, f.as_at_precision, f.said_by,
       f.series, c.tracker_value, c.tracker_date,
       {{ rounded('f.value - c.tracker_value', 2) }} AS difference,
       CASE WHEN c.tracker_value <> 0 THEN {{ rounded('100 * (f.value - c.tracker_value) / c.tracker_value', 1) }} END
           AS difference_pct,
       CASE WHEN f.series IS NULL THEN 'not compared: ' || f.no_series_because
            WHEN c.tracker_value IS NULL THEN 'not compared: the tracker has no figure for this on or before that date'
            WHEN f.value IS NULL THEN 'not compared: the statement gives no figure'
            ELSE concat_ws(' ', CASE WHEN c.tracker_date <> f.as_at
                                     THEN 'The tracker''s figure is of ' || {{ format_date('c.tracker_date', '%-d %B %Y') }} || '.' END,
                           f.comparison_note) END AS comparison,
       f.source_url
FROM figures f LEFT JOIN compared c USING (figure_id)
WHERE f.as_at <= {{ as_of() }}  -- what had been said by the reporting date
ORDER BY f.subject, f.as_at
