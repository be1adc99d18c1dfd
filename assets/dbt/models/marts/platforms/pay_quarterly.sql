{#- Quarterly flows from GOV.UK Pay's irregular versions: the method is in macros/interpolated_flows.sql and in
    this model's description. -#}
{{ interpolated_flows(
    relation="(SELECT date_updated, services AS live_services, organisations, payments_cumulative, amount_gbp_cumulative
               FROM " ~ source('staging', 'pay_snapshots') ~ " WHERE is_current_version)",
    period='quarter',
    date_column='date_updated',
    cumulatives=[
        {'column': 'payments_cumulative', 'flow': 'payments', 'unit': pay_rounding_unit('payments_cumulative')},
        {'column': 'amount_gbp_cumulative', 'flow': 'amount_gbp', 'unit': pay_rounding_unit('amount_gbp_cumulative')},
    ],
    stocks=['live_services', 'organisations'],
) }}
