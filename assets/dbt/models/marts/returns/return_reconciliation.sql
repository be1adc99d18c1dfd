WITH returns AS (SELECT * FROM {{ ref('returns_in_context') }}),
versions AS (SELECT DISTINCT date_updated FROM {{ source('staging', 'pay_organisation_services') }}),
-- the version compared depends only on the quarter's end: found once for each of the 40 quarters, not for each of
-- 58,000 returns (national size: a range join of every return with every version)
pay_version AS (
    SELECT q.quarter_end, max(v.date_updated) AS pay_date
    FROM (SELECT DISTINCT quarter_end FROM returns) q JOIN versions v ON v.date_updated <= q.quarter_end
         AND v.date_updated > q.quarter_end - INTERVAL '31 days'
    GROUP BY q.quarter_end
),
published AS (
    SELECT r.organisation_code, r.reporting_quarter, pv.pay_date,
           coalesce(sum(p.live_services), 0) AS published_live,
           string_agg(DISTINCT p.organisation_name, '; ' ORDER BY p.organisation_name) AS published_names
    FROM pay_version pv
    JOIN returns r USING (quarter_end)
    LEFT JOIN {{ source('staging', 'organisation_matches') }} m ON m.platform = 'GOV.UK Pay' AND m.organisation_slug = r.organisation_slug
    -- only the versions some return is compared with: the filter lets DuckDB skip the other snapshots' rows, which
    -- the join alone read and probed (national size: 15.7 million rows, 0.8 -> 0.4 s)
    LEFT JOIN (SELECT * FROM {{ source('staging', 'pay_organisation_services') }}
               WHERE date_updated IN (SELECT pay_date FROM pay_version)) p
           ON p.date_updated = pv.pay_date AND p.organisation_name = m.platform_name
    GROUP BY r.organisation_code, r.reporting_quarter, pv.pay_date
)
SELECT r.organisation_code, r.organisation_name, r.department_code, r.department_name, r.reporting_quarter,
       r.quarter_end, 'GOV.UK Pay' AS platform, r.pay_services_in_scope AS reported_in_scope,
       r.pay_services_live AS reported_live, p.pay_date AS published_date, p.published_live, p.published_names,
       r.pay_services_live - p.published_live AS difference,
       greatest({{ setting('reconciliation_minimum') }}, {{ setting('reconciliation_share') }} * p.published_live) AS tolerance,
       p.published_live IS NOT NULL
         AND abs(r.pay_services_live - p.published_live) > greatest({{ setting('reconciliation_minimum') }},
                                                                  {{ setting('reconciliation_share') }} * p.published_live)
         AS beyond_tolerance,
       p.published_live > r.pay_services_in_scope AS published_above_in_scope,
       CASE WHEN p.published_live IS NULL THEN 'no GOV.UK Pay figure within a month of the quarter end'
            WHEN abs(r.pay_services_live - p.published_live) > greatest({{ setting('reconciliation_minimum') }},
                                                                      {{ setting('reconciliation_share') }} * p.published_live)
            THEN 'differs beyond tolerance'
            ELSE 'agrees within tolerance' END AS outcome,
       r.is_illustrative
FROM returns r LEFT JOIN published p USING (organisation_code, reporting_quarter)
ORDER BY beyond_tolerance DESC, abs(r.pay_services_live - p.published_live) DESC NULLS LAST, r.organisation_name
