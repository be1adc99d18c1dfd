{#- A table model on DuckDB in one statement: CREATE OR REPLACE TABLE, in the model's transaction, then its hooks.
    dbt-duckdb's own table materialization builds an intermediate table, renames the old one away and the new one
    in, looks up indexes and foreign keys, and drops the old table after the commit: some ten statements and as
    many round trips through dbt's adapter a model, about a second of a national update over 40 models. DuckDB
    replaces a table atomically within a transaction, so a reader (or a crash) sees the old table or the new one,
    never neither. The tracker's tables have no indexes, grants, constraints or persisted docs to carry over.
    PostgreSQL builds with dbt's own materialization (this one is DuckDB's only). -#}
{% materialization table, adapter="duckdb" %}
  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set target_relation = this.incorporate(type='table') -%}
  {#- left by dbt-duckdb's materialization in a build killed part way (this project used it until December 2026) #}
  {{ drop_relation_if_exists(load_cached_relation(make_intermediate_relation(target_relation))) }}
  {{ drop_relation_if_exists(load_cached_relation(make_backup_relation(target_relation, 'table'))) }}
  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}
  {%- if existing_relation is not none and not existing_relation.is_table %}
    {{ drop_relation_if_exists(existing_relation) }}
  {%- endif %}
  {% call statement('main') -%}
    CREATE OR REPLACE TABLE {{ target_relation }} AS (
    {{ compiled_code }}
    )
  {%- endcall %}
  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {{ adapter.commit() }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
