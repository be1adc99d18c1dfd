{# Flows per calendar period (month or quarter) from running totals published at irregular dates.

   relation     rows of published figures: a date column, running totals and stock counts
   period       'month' or 'quarter'
   date_column  the data date of each row
   cumulatives  [{'column': running total, 'flow': name of its flow, 'unit': SQL for the rounding unit of
                the total as published (max error of a rounded total = half a unit)}, ...]
   stocks       counts taken as they stand (live services): the last figure on or before the period's end
   max_error_share  a flow is not shown when rounding could put it out by more than this share of it

   The method, in words (also in the models' descriptions):
   - Each running total is estimated at every period end by a straight line between the two published
     figures either side of it (by data date); a figure dated on the period end is used as it is.
   - The flow in a period is the estimate at its end minus the estimate at the previous period's end.
   - Nothing is extrapolated: the first period has no flow (no figure for its start), and a period the data
     stops in is cut at the last data date and flagged is_partial (data_to says where it stops).
   - Rounding: a total published to the nearest `unit` is out by at most unit/2. An estimate a share w of the
     way from one published figure to the next is out by at most ((1 - w) * unit before + w * unit after) / 2,
     and a flow, the difference of two estimates, by at most the sum of its two ends' bounds (max_error: one
     rounding unit while the units do not change). A flow is NULL ("not shown") when max_error is more than
     max_error_share of the flow. How the real totals moved between two published figures is not known: the
     straight line is an estimate, and its error is not in max_error. #}
{% macro interpolated_flows(relation, period, date_column, cumulatives, stocks, max_error_share=0.1) -%}
{%- set step = {'month': '1 month', 'quarter': '3 months'}[period] %}  {#- PostgreSQL has no '1 quarter' #}
{%- set per_date = [] %}
{%- for c in cumulatives %}{% do per_date.append('max(' ~ c.column ~ ')::DOUBLE PRECISION AS ' ~ c.column) %}{% endfor %}
{%- for s in stocks %}{% do per_date.append('max(' ~ s ~ ') AS ' ~ s) %}{% endfor %}
WITH points AS (
    -- one row per data date
    SELECT {{ date_column }} AS date, {{ per_date | join(', ') }}
    FROM {{ relation }} AS published GROUP BY 1
),
units AS (
    SELECT *,
           {%- for c in cumulatives %}
           {{ c.unit }} AS {{ c.column }}_unit{{ "," if not loop.last }}
           {%- endfor %}
    FROM points
),
span AS (SELECT min(date) AS first_date, max(date) AS last_date FROM points),
period_starts AS (
    SELECT series.start, first_date, last_date
    FROM span, generate_series(date_trunc('{{ period }}', first_date)::TIMESTAMP, last_date::TIMESTAMP,
                               INTERVAL '{{ step }}') AS series (start)
),
periods AS (
    SELECT start::DATE AS {{ period }},
           (start + INTERVAL '{{ step }}' - INTERVAL '1 day')::DATE AS {{ period }}_end,
           least((start + INTERVAL '{{ step }}' - INTERVAL '1 day')::DATE, last_date) AS data_to
    FROM period_starts
),
brackets AS (
    -- the published figures either side of data_to (the same one when a figure is dated on it)
    SELECT pe.{{ period }}, max(u.date) FILTER (WHERE u.date <= pe.data_to) AS last_version,
           min(u.date) FILTER (WHERE u.date >= pe.data_to) AS next_version
    FROM periods pe CROSS JOIN points u GROUP BY 1
),
weights AS (
    -- how far data_to lies from the figure before it towards the one after (0 when a figure is dated on it)
    SELECT pe.*, b.last_version, b.next_version,
           CASE WHEN b.next_version = b.last_version THEN 0.0
                ELSE CAST({{ dbt.datediff('b.last_version', 'pe.data_to', 'day') }} AS DOUBLE PRECISION)
                     / {{ dbt.datediff('b.last_version', 'b.next_version', 'day') }}
           END AS w
    FROM periods pe JOIN brackets b USING ({{ period }})
),
at_end AS (
    SELECT pe.*,
           {%- for s in stocks %}
           before.{{ s }},
           {%- endfor %}
           {%- for c in cumulatives %}
           {{ rounded('before.' ~ c.column ~ ' + (after.' ~ c.column ~ ' - before.' ~ c.column ~ ') * pe.w') }} AS {{ c.column }},
           before.{{ c.column }}_unit * (1 - pe.w) + after.{{ c.column }}_unit * pe.w AS {{ c.column }}_unit{{ "," if not loop.last }}
           {%- endfor %}
    FROM weights pe
    JOIN units before ON before.date = pe.last_version
    JOIN units after ON after.date = pe.next_version
),
flows AS (
    SELECT *,
           lag(data_to) OVER by_period AS flow_from,
           {%- for c in cumulatives %}
           {{ c.column }} - lag({{ c.column }}) OVER by_period AS {{ c.flow }}_change,
           {{ rounded('(' ~ c.column ~ '_unit + lag(' ~ c.column ~ '_unit) OVER by_period) / 2') }} AS {{ c.flow }}_max_error{{ "," if not loop.last }}
           {%- endfor %}
    FROM at_end WINDOW by_period AS (ORDER BY {{ period }})
)
SELECT {{ period }}, {{ period }}_end, data_to < {{ period }}_end AS is_partial, data_to,
       {{ dbt.datediff('flow_from', 'data_to', 'day') }} AS days_covered,
       last_version, next_version,
       {%- for s in stocks %}
       {{ s }},
       {%- endfor %}
       {%- for c in cumulatives %}
       {{ c.column }},
       {%- endfor %}
       {%- for c in cumulatives %}
       CASE WHEN {{ c.flow }}_max_error <= {{ max_error_share }} * abs({{ c.flow }}_change)
            THEN {{ c.flow }}_change END AS {{ c.flow }}_in_{{ period }},
       {{ c.flow }}_max_error,
       CASE WHEN flow_from IS NULL THEN 'the data starts in this {{ period }}'
            WHEN {{ c.flow }}_max_error > {{ max_error_share }} * abs({{ c.flow }}_change)
            THEN 'rounding could put it out by over {{ (max_error_share * 100) | round | int }}%'
       END AS {{ c.flow }}_not_shown{{ "," if not loop.last }}
       {%- endfor %}
FROM flows
ORDER BY {{ period }}
{%- endmacro %}

{# GOV.UK Pay publishes its running totals as words to one decimal place: '123.4 million' payments, '936.2 million'
   or '8.1 billion' pounds. staging.pay_snapshots keeps the number, not the word, so the unit is read off the size:
   below 1 billion the totals are in millions (unit 100,000), from 1 billion in billions (unit 100,000,000).
   Every shipped version follows that (tests/test_flows.py checks the files); a total written out in full would
   be given a coarser unit than it has, which only hides more flows, never shows a wrong one. #}
{% macro pay_rounding_unit(column) -%}
    CASE WHEN {{ column }} >= 1e9 THEN 1e8 ELSE 1e5 END
{%- endmacro %}


{#- GOV.UK Pay's flows per period ('month' or 'quarter') from its current versions. -#}
{% macro pay_flows(period) %}
{{ interpolated_flows(
    relation="(SELECT date_updated, services AS live_services, organisations, payments_cumulative, amount_gbp_cumulative
               FROM " ~ source('staging', 'pay_snapshots') ~ " WHERE is_current_version)",
    period=period,
    date_column='date_updated',
    cumulatives=[
        {'column': 'payments_cumulative', 'flow': 'payments', 'unit': pay_rounding_unit('payments_cumulative')},
        {'column': 'amount_gbp_cumulative', 'flow': 'amount_gbp', 'unit': pay_rounding_unit('amount_gbp_cumulative')},
    ],
    stocks=['live_services', 'organisations'],
) }}
{% endmacro %}
