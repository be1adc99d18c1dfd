{#- Every rule a model's rows must keep, checked in one query: one row per rule broken, naming the rule and how many
    rows (or, for a key, how many key values) break it. One test per model rather than one per rule: dbt's and
    Dagster's own work for each test node (about 25 ms in dbt, and three events in Dagster) was most of what the
    model's tests cost; their SQL is a few milliseconds each. assets/marts.py (describe_rules) puts the same rules
    into words for Dagster's UI and the data-quality page.

    keys        lists of columns no two rows share all of (NULLs compare equal); the first is the model's key
    not_null    columns filled in on every row; {column, where} only on the rows where the condition holds
    unique      columns no two rows share a non-NULL value of; {column, where} only among those rows
    accepted    {column, values[, where][, quote]}: the column is NULL or one of the values
    references  {column, to, field[, where][, unless_to_is_empty]}: the column is NULL or a value of field in the
                relation to; with unless_to_is_empty, nothing is checked while that relation has no rows (a source
                never read: its own check says so)
-#}
{% test rules(model, keys=[], not_null=[], unique=[], accepted=[], references=[]) %}
{{ config(fail_calc='coalesce(sum(rows_breaking), 0)') }}
{%- set checks = [] %}
{%- for key in keys %}
    {%- do checks.append(('key ' ~ key | join(', '),
        'SELECT count(*) FROM (SELECT 1 AS broken FROM ' ~ model ~ ' GROUP BY ' ~ key | join(', ')
        ~ ' HAVING count(*) > 1) AS repeated')) %}
{%- endfor %}
{%- for rule in not_null %}
    {%- set column = rule.column if rule is mapping else rule %}
    {%- set where = ' AND (' ~ rule.where ~ ')' if rule is mapping and rule.where else '' %}
    {%- do checks.append(('not null ' ~ column ~ (' where ' ~ rule.where if where else ''),
        'SELECT count(*) FROM ' ~ model ~ ' WHERE ' ~ column ~ ' IS NULL' ~ where)) %}
{%- endfor %}
{%- for rule in unique %}
    {%- set column = rule.column if rule is mapping else rule %}
    {%- set where = ' AND (' ~ rule.where ~ ')' if rule is mapping and rule.where else '' %}
    {%- do checks.append(('unique ' ~ column ~ (' where ' ~ rule.where if where else ''),
        'SELECT count(*) FROM (SELECT 1 AS broken FROM ' ~ model ~ ' WHERE ' ~ column ~ ' IS NOT NULL' ~ where
        ~ ' GROUP BY ' ~ column ~ ' HAVING count(*) > 1) AS repeated')) %}
{%- endfor %}
{%- for rule in accepted %}
    {%- set quote = rule.get('quote', true) %}
    {%- set listed = [] %}
    {%- for value in rule['values'] %}
        {%- do listed.append("'" ~ (value | string | replace("'", "''")) ~ "'" if quote else value | string) %}
    {%- endfor %}
    {%- set where = ' AND (' ~ rule.where ~ ')' if rule.where else '' %}
    {%- do checks.append(('accepted ' ~ rule.column ~ (' where ' ~ rule.where if where else ''),
        'SELECT count(*) FROM ' ~ model ~ ' WHERE ' ~ rule.column ~ ' NOT IN (' ~ listed | join(', ') ~ ')'
        ~ where)) %}
{%- endfor %}
{%- for rule in references %}
    {%- set where = ' AND (' ~ rule.where ~ ')' if rule.where else '' %}
    {%- set where = where ~ (' AND EXISTS (SELECT 1 FROM ' ~ rule.to ~ ')' if rule.unless_to_is_empty else '') %}
    {%- set parent = rule.to.schema ~ '.' ~ rule.to.identifier if rule.to.identifier is defined else rule.to %}
    {%- do checks.append(('reference ' ~ rule.column ~ ' to ' ~ parent ~ '.' ~ rule.field
        ~ (' where ' ~ rule.where if rule.where else ''),
        'SELECT count(*) FROM ' ~ model ~ ' AS child WHERE child.' ~ rule.column ~ ' IS NOT NULL' ~ where
        ~ ' AND NOT EXISTS (SELECT 1 FROM ' ~ rule.to ~ ' AS parent WHERE parent.' ~ rule.field ~ ' = child.'
        ~ rule.column ~ ')')) %}
{%- endfor %}
SELECT rule, rows_breaking
FROM (
{%- for rule, query in checks %}
    {{ 'UNION ALL ' if not loop.first }}SELECT '{{ rule | replace("'", "''") }}' AS rule, ({{ query }}) AS rows_breaking
{%- endfor %}
) AS rules_kept
WHERE rows_breaking > 0
{% endtest %}
