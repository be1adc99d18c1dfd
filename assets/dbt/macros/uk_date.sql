{#- The Europe/London calendar day of a moment stored in UTC without a zone: deadlines and the reporting date are
    UK dates (00:30 BST on the 31st is the 31st). -#}
{% macro uk_date(column) -%}
(({{ column }} AT TIME ZONE 'UTC') AT TIME ZONE 'Europe/London')::DATE
{%- endmacro %}
