"""GOV.UK Pay: how fast is adoption growing, in which sectors and departments, and who is moving?"""

from __future__ import annotations

import streamlit as st

from dashboard import charts, sections, snapshot
from dashboard.components import chart_block, number, page_header, platform_overview
from dashboard.labels import label

page_header("GOV.UK Pay", "how many services take payments through GOV.UK Pay, how fast that is growing, "
            "which sectors and departments use it, and which departments moved most in the last year?")

trust = platform_overview("GOV.UK Pay", "pay_live_services")
if trust is None:  # nothing by the reporting date: the notice says why
    st.stop()

monthly = snapshot.pay_monthly()
first, last = monthly.iloc[0], monthly.iloc[-1]
long = monthly.melt(id_vars="month", value_vars=["live_services", "organisations"], var_name="measure")
long["measure"] = long["measure"].map(label)
chart_block(f"Live services grew from {number(first['live_services'])} to {number(last['live_services'])} "
            f"between {first['month']:%B %Y} and {last['month']:%B %Y}",
            charts.line(long, "month", "value", series="measure", y_title="at month end"),
            monthly[["month", "live_services", "organisations", "last_version"]],
            "pay-monthly.csv", data_date=last["last_version"], **trust)

payments = monthly.dropna(subset=["payments_in_month"])
latest = payments.iloc[-1]
period = (f"1 to {latest['data_to'].day} {latest['month']:%B %Y} (partial month)" if latest["is_partial"]
          else f"{latest['month']:%B %Y}")
chart_block(f"{number(latest['payments_in_month'])} payments in {period}",
            charts.line(payments, "month", "payments_in_month", y_title="payments in the month"),
            payments[["month", "payments_in_month", "is_partial", "data_to"]], "pay-payments.csv",
            data_date=last["data_to"], note="Payments in each month: the totals since launch estimated at each "
            "month end on a straight line between the published versions either side, then differenced. GOV.UK Pay "
            "rounds its totals to 0.1 million; a month is not shown where that rounding could put it out by more than "
            "10%, and the last month runs only to the last figure. The value of payments per month is not shown: the "
            "totals are rounded to £0.1 billion, more than a tenth of a month's value.", **trust)

sectors = snapshot.pay_sectors_monthly()
latest_sectors = sectors[sectors["month"] == sectors["month"].max()].sort_values("live_services", ascending=False)
chart_block(f"{latest_sectors['sector'].iloc[0].capitalize()} bodies run the most services: "
            f"{number(latest_sectors['live_services'].iloc[0])} of {number(latest_sectors['live_services'].sum())}",
            charts.line(sectors, "month", "live_services", series="sector", y_title="live services"),
            sectors, "pay-sectors.csv", data_date=last["last_version"],
            note="GOV.UK Pay's own sector counts at each month end.", **trust)

sections.by_department("GOV.UK Pay", "live services", trust, "pay")
sections.by_kind("GOV.UK Pay", "live services", trust, "pay")
sections.movers("GOV.UK Pay", "live services", trust, "pay")
sections.reported_by_departments("GOV.UK Pay", "pay")
