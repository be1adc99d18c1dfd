{# Every one of these columns is filled in on every row: one query (and one asset check) per model
   instead of one per column. #}
{% test not_null_columns(model, columns) %}
SELECT *
FROM {{ model }}
WHERE {% for column in columns %}{{ column }} IS NULL{% if not loop.last %} OR {% endif %}{% endfor %}
{% endtest %}
