-- One row per accepted return and platform: services in scope, live, planned and transactions.
-- The contract names these columns <platform>_services_in_scope, _services_live, _services_planned and
-- _transactions (checks/return_contract.py); the platforms and their names come from staging.return_platforms,
-- written from the same contract, so a platform added there appears here with no change to this model.
WITH counts AS (
    SELECT organisation_code, reporting_quarter,
           COLUMNS('_(services_in_scope|services_live|services_planned|transactions)$')::BIGINT
    FROM {{ ref('returns_in_force') }}
),
figures AS (
    SELECT * FROM counts
    UNPIVOT INCLUDE NULLS (value FOR figure IN (COLUMNS(* EXCLUDE (organisation_code, reporting_quarter))))
),
named AS (
    SELECT organisation_code, reporting_quarter,
           regexp_extract(figure, '^(.+)_(services_in_scope|services_live|services_planned|transactions)$', 1) AS platform_key,
           regexp_extract(figure, '^(.+)_(services_in_scope|services_live|services_planned|transactions)$', 2) AS figure,
           value
    FROM figures
)
SELECT n.organisation_code, n.reporting_quarter, p.name AS platform,
       max(n.value) FILTER (WHERE n.figure = 'services_in_scope') AS in_scope,
       max(n.value) FILTER (WHERE n.figure = 'services_live') AS live,
       max(n.value) FILTER (WHERE n.figure = 'services_planned') AS planned,
       max(n.value) FILTER (WHERE n.figure = 'transactions') AS transactions
FROM named n JOIN {{ source('staging', 'return_platforms') }} p ON p.key = n.platform_key
GROUP BY n.organisation_code, n.reporting_quarter, p.name, p.position
