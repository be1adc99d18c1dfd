{#- Quarterly flows from GOV.UK Pay's irregular versions: the method is in macros/interpolated_flows.sql and in
    this model's description. -#}
{{ pay_flows('quarter') }}
