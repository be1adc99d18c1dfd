"""Headline figures read back from the published snapshot, for the command line's summary."""

from __future__ import annotations

from pathlib import Path

import duckdb


def headline_figures(snapshot: Path) -> list[str]:
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        latest = con.execute(
            "SELECT platform, measure, arg_max(value, date) AS value, max(date) AS date FROM marts.metric_series "
            "WHERE metric IN ('pay_live_services', 'pay_organisations', 'forms_live_forms', "
            "'one_login_services_onboarded', 'verify_accounts_cumulative', 'notify_agreements_signed', "
            "'apis_published') GROUP BY ALL ORDER BY platform, measure"
        ).fetchall()
        by_status = ("SELECT status, count(*) FROM marts.target_progress WHERE counts_in_headline = ? "
                     "GROUP BY 1 ORDER BY 2 DESC, 1")
        statuses = con.execute(by_status, [True]).fetchall()
        apart = con.execute(by_status, [False]).fetchall()
        coverage = con.execute(
            "SELECT matched_share, matched_share_excluding_outside FROM staging.organisation_match_coverage "
            "WHERE platform = 'GOV.UK Pay' ORDER BY snapshot_date DESC LIMIT 1"
        ).fetchone()
    finally:
        con.close()
    lines = [f"{platform}: {value:,.0f} {measure} ({date})" for platform, measure, value, date in latest]
    lines.append("Targets: " + ", ".join(f"{n} {status}" for status, n in statuses))
    if apart:
        lines.append("Targets judged only on ILLUSTRATIVE sample returns (counted apart): "
                     + ", ".join(f"{n} {status}" for status, n in apart))
    if coverage:
        lines.append(
            f"Pay organisation matching: {coverage[0]:.0%} of services matched to GOV.UK organisations "
            f"({coverage[1]:.0%} of those that could be)"
        )
    return lines
