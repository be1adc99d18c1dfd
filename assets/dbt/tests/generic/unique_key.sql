{# No two rows share the same values in all of these columns (NULLs compare equal). #}
{% test unique_key(model, columns) %}
SELECT {{ columns | join(', ') }}, count(*) AS rows_with_this_key
FROM {{ model }}
GROUP BY {{ columns | join(', ') }}
HAVING count(*) > 1
{% endtest %}
