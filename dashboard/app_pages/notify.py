"""GOV.UK Notify: which organisations signed Notify's data sharing and financial agreement?"""

from __future__ import annotations

from dashboard import charts, sections, snapshot
from dashboard.components import (
    chart_block,
    number,
    page_header,
    platform_overview,
)

page_header("GOV.UK Notify", "how many organisations signed GOV.UK Notify's data sharing and financial agreement, "
            "how that grew, and which departments and sectors they belong to?")

trust = platform_overview("GOV.UK Notify", "notify_agreements_signed")

history = snapshot.platform_history("GOV.UK Notify")
signed = history[history["measure"].str.startswith("organisations that signed")]
chart_block(f"Signed agreements rose from {number(signed['value'].iloc[0])} to {number(signed['value'].iloc[-1])} "
            f"between {signed['date'].iloc[0]:%B %Y} and {signed['date'].iloc[-1]:%B %Y}",
            charts.line(history, "date", "value", series="measure", y_title="organisations"), history,
            "notify-history.csv", data_date=history["date"].max(), **trust)

sections.by_department("GOV.UK Notify", "organisations with data sharing agreement", trust, "notify")
sections.by_kind("GOV.UK Notify", "organisations", trust, "notify")
sections.movers("GOV.UK Notify", "organisations with data sharing agreement", trust, "notify")
sections.reported_by_departments("GOV.UK Notify", "notify")
