-- One row per return in force and barrier it names, with its rank (1 is the main barrier). The contract names the
-- columns main_barrier_1, _2, ... (checks/return_contract.py): they are read by pattern from the relation when the
-- model is built, so another rank needs no change here. A return on the version 1 template has no barrier columns
-- filled, so it has no rows.
{%- set returns = ref('returns_in_force') %}
{%- set ranks = [] %}
{%- if execute %}
    {%- for column in adapter.get_columns_in_relation(returns) %}
        {%- set found = modules.re.fullmatch('main_barrier_([0-9]+)', column.name) %}
        {%- if found %}{% do ranks.append((column.name, found.group(1) | int)) %}{% endif %}
    {%- endfor %}
{%- endif %}
{%- for name, rank in ranks %}
{{ "UNION ALL " if not loop.first }}SELECT organisation_code, reporting_quarter, {{ name }} AS barrier, CAST({{ rank }} AS INTEGER) AS barrier_rank
FROM {{ returns }} WHERE skills_reported AND {{ name }} IS NOT NULL
{%- else %}
SELECT organisation_code, reporting_quarter, CAST(NULL AS VARCHAR) AS barrier, CAST(NULL AS INTEGER) AS barrier_rank
FROM {{ returns }} WHERE false
{%- endfor %}
