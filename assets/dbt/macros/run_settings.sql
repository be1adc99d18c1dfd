{# The run's parameters, from the one-row table the run_settings asset writes (assets/declarations.py):
   the reporting date, and the returns thresholds stated in checks/return_contract.py. #}
{% macro as_of() -%}
    (SELECT as_of FROM {{ source('staging', 'run_settings') }})
{%- endmacro %}

{% macro setting(name) -%}
    (SELECT {{ name }} FROM {{ source('staging', 'run_settings') }})
{%- endmacro %}
