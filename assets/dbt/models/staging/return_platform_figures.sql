-- One row per accepted return and platform: services in scope, live, planned and transactions.
-- The contract names these columns <platform>_services_in_scope, _services_live, _services_planned and
-- _transactions (checks/return_contract.py): they are read by pattern from the relation when the model is built,
-- and the platforms and their names come from staging.return_platforms, written from the same contract, so a
-- platform added there appears here with no change to this model.
{%- set returns = ref('returns_in_force') %}
{%- set figures = ['services_in_scope', 'services_live', 'services_planned', 'transactions'] %}
{%- set platforms = {} %}
{%- if execute %}
    {%- for column in adapter.get_columns_in_relation(returns) %}
        {%- set found = modules.re.fullmatch('(.+)_(' ~ figures | join('|') ~ ')', column.name) %}
        {%- if found %}{% do platforms.setdefault(found.group(1), {}).update({found.group(2): column.name}) %}{% endif %}
    {%- endfor %}
{%- endif %}
WITH named AS (
{%- for key, columns in platforms.items() %}
    {{ "UNION ALL " if not loop.first }}SELECT organisation_code, reporting_quarter, '{{ key }}' AS platform_key,
    {%- for figure in figures %}
           CAST({{ columns.get(figure, 'NULL') }} AS BIGINT) AS {{ figure }}{{ "," if not loop.last }}
    {%- endfor %}
    FROM {{ returns }}
{%- else %}
    SELECT organisation_code, reporting_quarter, CAST(NULL AS VARCHAR) AS platform_key,
    {%- for figure in figures %} CAST(NULL AS BIGINT) AS {{ figure }}{{ "," if not loop.last }}{% endfor %}
    FROM {{ returns }} WHERE false
{%- endfor %}
)
SELECT n.organisation_code, n.reporting_quarter, p.name AS platform,
       max(n.services_in_scope) AS in_scope, max(n.services_live) AS live, max(n.services_planned) AS planned,
       max(n.transactions) AS transactions
FROM named n JOIN {{ source('staging', 'return_platforms') }} p ON p.key = n.platform_key
GROUP BY n.organisation_code, n.reporting_quarter, p.name, p.position
