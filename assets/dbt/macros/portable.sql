{# The few things DuckDB and PostgreSQL write differently, one macro each, dispatched per adapter: the DuckDB form is
   the SQL the models had before (so DuckDB's results do not move), the PostgreSQL form gives the same values.
   Everything else in the models is SQL both engines read; dbt's own cross-database macros (dbt.datediff,
   dbt.dateadd) are used where they give DuckDB's values unchanged. README: "The warehouse on PostgreSQL". #}

{#- The value of `arg` on the row with the greatest `val` in the group; rows where either is NULL are skipped
    (DuckDB's arg_max), or only rows where `val` is NULL with keep_null_arg (arg_max_null). `where` filters the
    rows as an aggregate's FILTER would. Ties: any of the tied rows, on both engines. -#}
{% macro arg_max(arg, val, where=none, keep_null_arg=false) -%}
    {{ return(adapter.dispatch('arg_max', 'adoption_tracker')(arg, val, where, keep_null_arg)) }}
{%- endmacro %}

{% macro default__arg_max(arg, val, where, keep_null_arg) -%}
    {{ 'arg_max_null' if keep_null_arg else 'arg_max' }}({{ arg }}, {{ val }}){% if where %} FILTER (WHERE {{ where }}){% endif %}
{%- endmacro %}

{% macro postgres__arg_max(arg, val, where, keep_null_arg) -%}
    (array_agg({{ arg }} ORDER BY {{ val }} DESC) FILTER (WHERE {{ val }} IS NOT NULL
        {%- if not keep_null_arg %} AND {{ arg }} IS NOT NULL{% endif %}{% if where %} AND ({{ where }}){% endif %}))[1]
{%- endmacro %}


{#- Any one non-NULL value of the group: used where every row of the group has the same value. dbt.any_value is
    not used: on DuckDB it is arbitrary(), which may return a NULL that any_value() skips. PostgreSQL 15 has no
    any_value(); min() gives the one value. -#}
{% macro any_value_of(expression) -%}
    {{ return(adapter.dispatch('any_value_of', 'adoption_tracker')(expression)) }}
{%- endmacro %}

{% macro default__any_value_of(expression) -%}
    any_value({{ expression }})
{%- endmacro %}

{% macro postgres__any_value_of(expression) -%}
    min({{ expression }})
{%- endmacro %}


{#- Whether a list (staging.sources.platforms: a DuckDB list, a PostgreSQL array) holds an element. -#}
{% macro list_has(list, element) -%}
    {{ return(adapter.dispatch('list_has', 'adoption_tracker')(list, element)) }}
{%- endmacro %}

{% macro default__list_has(list, element) -%}
    list_contains({{ list }}, {{ element }})
{%- endmacro %}

{% macro postgres__list_has(list, element) -%}
    ({{ element }} = ANY({{ list }}))
{%- endmacro %}


{#- A number rounded to `places` decimals (none: to a whole number), half away from zero, still a double.
    PostgreSQL rounds a double only to a whole number, and half to even, so the value goes through numeric (which
    rounds half away from zero; exact for a double's 15 significant digits) and back. -#}
{% macro rounded(expression, places=none) -%}
    {{ return(adapter.dispatch('rounded', 'adoption_tracker')(expression, places)) }}
{%- endmacro %}

{% macro default__rounded(expression, places) -%}
    round({{ expression }}{% if places is not none %}, {{ places }}{% endif %})
{%- endmacro %}

{% macro postgres__rounded(expression, places) -%}
    CAST(round(CAST({{ expression }} AS numeric){% if places is not none %}, {{ places }}{% endif %}) AS DOUBLE PRECISION)
{%- endmacro %}


{#- A date as text in a strftime format. PostgreSQL's to_char is given the same format translated; only the codes
    the models use are known, and any other stops the compile. -#}
{% macro format_date(expression, format) -%}
    {{ return(adapter.dispatch('format_date', 'adoption_tracker')(expression, format)) }}
{%- endmacro %}

{% macro default__format_date(expression, format) -%}
    strftime({{ expression }}, '{{ format }}')
{%- endmacro %}

{% macro postgres__format_date(expression, format) -%}
    {%- set codes = {'%-d': 'FMDD', '%d': 'DD', '%m': 'MM', '%Y': 'YYYY', '%B': 'FMMonth'} -%}
    {%- set translated = namespace(text=format) -%}
    {%- for code, pattern in codes.items() -%}
        {%- set translated.text = translated.text.replace(code, pattern) -%}
    {%- endfor -%}
    {%- if '%' in translated.text -%}
        {{ exceptions.raise_compiler_error("format_date: no PostgreSQL pattern for " ~ format) }}
    {%- endif -%}
    to_char({{ expression }}, '{{ translated.text }}')
{%- endmacro %}


{#- The group's rows as one ordered list of records: fields is a list of (name, expression) pairs. DuckDB makes a
    list of structs; PostgreSQL a json array of objects with the same names and values. -#}
{% macro record_list(fields, order_by) -%}
    {{ return(adapter.dispatch('record_list', 'adoption_tracker')(fields, order_by)) }}
{%- endmacro %}

{% macro default__record_list(fields, order_by) -%}
    list(struct_pack({% for name, value in fields %}{{ name }} := {{ value }}{{ ", " if not loop.last }}{% endfor %})
         ORDER BY {{ order_by }})
{%- endmacro %}

{% macro postgres__record_list(fields, order_by) -%}
    json_agg(json_build_object({% for name, value in fields %}'{{ name }}', {{ value }}{{ ", " if not loop.last }}{% endfor %})
             ORDER BY {{ order_by }})
{%- endmacro %}
