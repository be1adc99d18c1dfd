WITH latest_return AS (
    SELECT department_code, max(quarter_end) AS quarter_end FROM {{ ref('return_adoption') }}
    WHERE level = 'department' GROUP BY 1
),
returned AS (
    SELECT a.department_code, {{ any_value_of('a.reporting_quarter') }} AS returned_quarter,
           sum(a.in_scope) AS returned_in_scope, sum(a.live) AS returned_live,
           {{ rounded('CAST(sum(a.live) AS DOUBLE PRECISION) / nullif(sum(a.in_scope), 0)', 4) }} AS returned_adoption_rate,
           sum(a.live + a.planned) FILTER (WHERE a.platform = 'GOV.UK One Login') AS one_login_live_or_planned,
           bool_or(a.is_illustrative) AS returns_are_illustrative
    FROM {{ ref('return_adoption') }} a JOIN latest_return l USING (department_code, quarter_end)
    WHERE a.level = 'department' GROUP BY 1
),
current_status AS (
    SELECT department_code,
           {{ any_value_of('status') }} FILTER (WHERE organisation_code = department_code) AS own_return_status,
           count(*) FILTER (WHERE needs_chasing) AS organisations_to_chase,
           count(*) AS organisations_expected,
           {{ any_value_of('reporting_quarter') }} AS current_quarter
    FROM {{ ref('returns_status') }} WHERE is_current_quarter AND expected GROUP BY 1
),
reconciliation AS (
    SELECT department_code, count(*) FILTER (WHERE beyond_tolerance) AS reconciliation_differences
    FROM {{ ref('return_reconciliation') }} GROUP BY 1
)
SELECT s.department_code, s.department_name, s.department_slug, s.organisation_type, s.bodies,
       s.pay_live_services, s.pay_organisations, s.one_login_services, s.apis_published,
       s.notify_agreements_signed_2019, nl.live_services AS notify_live_services, nl.data_date AS notify_live_date,
       s.platforms_used,
       r.returned_quarter, r.returned_in_scope, r.returned_live, r.returned_adoption_rate,
       coalesce(r.returns_are_illustrative, false) AS returns_are_illustrative,
       CASE WHEN r.department_code IS NULL THEN 'no return'
            WHEN r.one_login_live_or_planned > 0 THEN 'plan confirmed'
            ELSE 'no plan reported' END AS one_login_plan,
       CASE WHEN s.pay_live_services > 0 AND s.notify_agreements_signed_2019 > 0 THEN 'uses both'
            WHEN s.pay_live_services > 0 THEN 'Pay only'
            WHEN s.notify_agreements_signed_2019 > 0 THEN 'Notify only'
            ELSE 'neither' END AS pay_and_notify,
       CASE WHEN s.apis_published > 0 THEN 'publishes APIs' ELSE 'no APIs published' END AS data_sharing,
       c.current_quarter, coalesce(c.own_return_status, 'not expected') AS own_return_status,
       coalesce(c.organisations_to_chase, 0) AS organisations_to_chase,
       coalesce(rc.reconciliation_differences, 0) AS reconciliation_differences
FROM {{ ref('department_scorecard') }} s
LEFT JOIN returned r USING (department_code)
LEFT JOIN current_status c USING (department_code)
LEFT JOIN reconciliation rc USING (department_code)
LEFT JOIN {{ ref('notify_live_by_department') }} nl USING (department_code)
ORDER BY s.platforms_used DESC, s.pay_live_services DESC, s.department_name
