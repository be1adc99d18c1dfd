SELECT platform, count(DISTINCT metric) AS measures, min(date) AS first_date, max(date) AS latest_date,
       {{ dbt.datediff('max(date)', as_of(), 'day') }} AS days_since_latest, {{ as_of() }} AS as_of
FROM {{ ref('metric_series') }} GROUP BY platform ORDER BY platform
