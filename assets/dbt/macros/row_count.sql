{# Each model's row count, logged as dbt finishes building it, so that Dagster can show the count on the model's
   materialization while the build goes on (assets/marts.py reads the line by its prefix) instead of counting every
   table after the build has released the warehouse. One count(*) on the relation just built, in its transaction. #}
{% macro log_row_count() %}
    {%- if execute -%}
        {%- set counted = run_query("SELECT count(*) FROM " ~ this) -%}
        {%- do log("Rows in " ~ this ~ ": " ~ counted.columns[0].values()[0], info=True) -%}
    {%- endif -%}
{% endmacro %}
