WITH month_end AS (
    SELECT date_trunc('month', date_updated)::DATE AS month, max(date_updated) AS version
    FROM {{ source('staging', 'pay_snapshots') }} WHERE is_current_version GROUP BY 1
)
SELECT m.month, m.version, s.sector, s.live_services
FROM month_end m JOIN {{ source('staging', 'pay_sector_services') }} s ON s.date_updated = m.version
ORDER BY m.month, s.sector
