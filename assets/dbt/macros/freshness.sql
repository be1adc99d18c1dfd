{# The one freshness rule, over a row of the sources declaration (alias s) and a latest data date. #}
{% macro freshness(latest_date) -%}
    CASE WHEN s.source = 'returns' THEN 'quarterly return'
         WHEN s.fresh_within_days IS NULL THEN 'no longer published'
         WHEN {{ latest_date }} IS NULL THEN 'reference'
         WHEN {{ dbt.datediff(latest_date, as_of(), 'day') }} > s.fresh_within_days THEN 'stale'
         ELSE 'fresh' END
{%- endmacro %}
