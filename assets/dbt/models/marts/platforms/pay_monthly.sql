WITH month_end AS (
    SELECT date_trunc('month', date_updated)::DATE AS month,
           max(date_updated) AS last_version,
           arg_max(services, date_updated) AS live_services,
           arg_max(organisations, date_updated) AS organisations,
           arg_max(payments_cumulative, date_updated) AS payments_cumulative,
           arg_max(amount_gbp_cumulative, date_updated) AS amount_gbp_cumulative
    FROM {{ source('staging', 'pay_snapshots') }} WHERE is_current_version GROUP BY 1
)
SELECT *,
       payments_cumulative - lag(payments_cumulative) OVER (ORDER BY month) AS payments_in_month,
       amount_gbp_cumulative - lag(amount_gbp_cumulative) OVER (ORDER BY month) AS amount_gbp_in_month
FROM month_end ORDER BY month
