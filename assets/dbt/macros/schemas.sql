{# Models land in the schema named in dbt_project.yml (marts, staging, raw), not "<target schema>_marts". #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name if custom_schema_name else target.schema }}
{%- endmacro %}
