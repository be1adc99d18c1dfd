"""What 'valid' means for the platform feeds, reference data and marts: Dagster asset checks.

Each rule is a query that returns the offending rows; no rows means the check
passes. Blocking rules (ERROR) stop everything downstream of the checked asset;
warnings (WARN) are shown in the Dagster UI and published, but do not stop a run.

The blocking (ERROR) rules on a source's staging tables are also its gate:
assets/staging.py runs them on the new tables before committing, so a version
that breaks one is quarantined (or, when no file explains it, the source keeps
its last good figures) and the other sources and the publication go on. Here
they are therefore reported, not blocking; the ``<source>_feed_readable`` checks
say what was quarantined and fail ``tracker run``.

Tolerances were set from the real archives (measured on the shipped data):
- Pay: the per-organisation sum differs from the published ``numberOfServices``
  in 16 of the 240 versions, by at most 3 services (0.52%): publication lag, not
  breakage. A version whose sum differs by more than 5 services is quarantined.
- Pay and Forms publish weekly; the longest gap between versions in the archive
  is 22 days, so a gap over 28 days is a warning.
- Notify's signed-agreement count fell twice in 2018-19 (organisations merged):
  a fall is a warning, not an error.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import dagster as dg
from dagster_duckdb import DuckDBResource

from tracker.resources import TrackerConfig
from tracker.sources import SOURCES
from tracker.warehouse import connect

ERROR = dg.AssetCheckSeverity.ERROR
WARN = dg.AssetCheckSeverity.WARN
SAMPLE_ROWS = 10
PAY_SUM_TOLERANCE = 5  # services; the archive's largest difference is 3
MAX_GAP_DAYS = 28
FRESHNESS_DAYS = SOURCES["pay"].fresh_within_days  # the dashboard flags Pay as stale after the same


def feed_problems_table(source: str) -> str:
    """What the latest run could not read from a source: one table per source, one writer each."""
    return f"quarantine.{source}_feed_problems"


@dataclass(frozen=True)
class Rule:
    asset: tuple[str, ...]
    name: str
    description: str
    sql: str  # returns the rows that break the rule; may use $as_of
    severity: dg.AssetCheckSeverity = ERROR


def blank(column: str) -> str:
    """SQL: the text is empty or only spaces, as trim() sees them (ASCII and Unicode spaces). Such text sorts below
    '!' or, for a Unicode space, at or above U+0085: the range test lets DuckDB skip every block of names whose
    smallest and largest lie between (all of them, in practice) before trim() reads a row. On 15.7 million Pay
    organisation-weeks: 0.002 s instead of 1.1 s."""
    return f"(({column} < '!' OR {column} >= chr(133)) AND trim({column}) = '')"


CURRENT_PAY = "(SELECT * FROM staging.pay_snapshots WHERE is_current_version)"
CURRENT_FORMS = "(SELECT * FROM staging.forms_metrics WHERE is_current_version)"


def falls(rows: str, order: str, *values: str) -> str:
    """Rows where any of ``values`` is lower than in the row before (ordered by ``order``)."""
    previous = ", ".join(f"lag({v}) OVER (ORDER BY {order}) AS previous_{v}" for v in values)
    shown = ", ".join(f"{v}, previous_{v}" for v in values)
    fallen = " OR ".join(f"{v} < previous_{v}" for v in values)
    return f"SELECT {order}, {shown} FROM (SELECT *, {previous} FROM {rows}) WHERE {fallen}"


def gaps_over(rows: str, date: str, days: int) -> str:
    """Consecutive rows more than ``days`` apart."""
    return (f"SELECT previous, {date}, gap_days FROM (SELECT {date}, lag({date}) OVER (ORDER BY {date}) AS previous, "
            f"date_diff('day', previous, {date}) AS gap_days FROM {rows}) WHERE gap_days > {days}")


def repeated(table: str, column: str) -> str:
    return f"SELECT {column}, count(*) AS n FROM {table} GROUP BY 1 HAVING n > 1"

RULES = [
    Rule(("staging", "pay_snapshots"), "pay_required_values",
         "Every snapshot has its date and its count of live services (the other figures may be missing).",
         "SELECT file_name FROM staging.pay_snapshots WHERE date_updated IS NULL OR services IS NULL"),
    Rule(("staging", "pay_snapshots"), "pay_no_negative_counts", "No count or amount is negative.",
         "SELECT file_name FROM staging.pay_snapshots WHERE least(services, organisations, "
         "payments_cumulative, amount_gbp_cumulative) < 0"),
    Rule(("staging", "pay_snapshots"), "pay_cumulative_totals_never_fall",
         "Payments and value since launch never fall from one version to the next.",
         falls(CURRENT_PAY, "date_updated", "payments_cumulative", "amount_gbp_cumulative"), WARN),
    Rule(("staging", "pay_snapshots"), "pay_snapshot_rhythm",
         f"Versions arrive weekly: no gap over {MAX_GAP_DAYS} days between consecutive versions.",
         gaps_over(CURRENT_PAY, "date_updated", MAX_GAP_DAYS), WARN),
    Rule(("staging", "pay_snapshots"), "pay_is_fresh",
         f"The latest version is no more than {FRESHNESS_DAYS} days older than the reporting date.",
         f"SELECT max(date_updated) AS latest, date_diff('day', max(date_updated), $as_of::DATE) AS days_old "
         f"FROM staging.pay_snapshots HAVING days_old > {FRESHNESS_DAYS}", WARN),
    Rule(("staging", "pay_snapshots"), "pay_organisation_sum_matches_headline",
         f"The per-organisation counts add up to numberOfServices within {PAY_SUM_TOLERANCE} services "
         "(the real archive differs by at most 3, in 16 of 240 versions).",
         "SELECT file_name, date_updated, services, services_by_organisation_sum FROM staging.pay_snapshots "
         f"WHERE abs(services - services_by_organisation_sum) > {PAY_SUM_TOLERANCE}"),
    Rule(("staging", "pay_organisation_services"), "pay_organisation_rows_valid",
         "Every organisation row has a name and a non-negative count of live services.",
         # named by its version's file, so that the version is left out by name, not the whole source held back
         "SELECT s.file_name, o.* FROM staging.pay_organisation_services o JOIN staging.pay_snapshots s "
         "ON s.date_updated = o.date_updated AND s.is_current_version WHERE o.organisation_name IS NULL "
         f"OR {blank('o.organisation_name')} OR o.live_services IS NULL OR o.live_services < 0"),
    Rule(("staging", "forms_metrics"), "forms_required_non_negative",
         "Every version has organisations, live forms and submissions, none negative.",
         "SELECT file_name FROM staging.forms_metrics WHERE snapshot_date IS NULL "
         "OR coalesce(least(organisations, live_forms, submissions_cumulative), -1) < 0"),
    Rule(("staging", "forms_metrics"), "forms_submissions_never_fall",
         "Submissions since launch never fall from one version to the next.",
         falls(CURRENT_FORMS, "snapshot_date", "submissions_cumulative"), WARN),
    Rule(("staging", "forms_metrics"), "forms_snapshot_rhythm",
         f"No gap over {MAX_GAP_DAYS} days between consecutive versions.",
         gaps_over(CURRENT_FORMS, "snapshot_date", MAX_GAP_DAYS), WARN),
    Rule(("staging", "notify_organisations"), "notify_organisations_named_once",
         "Every organisation has a name, listed once.",
         "SELECT organisation_name, count(*) AS n FROM staging.notify_organisations GROUP BY 1 "
         "HAVING n > 1 OR organisation_name IS NULL OR trim(organisation_name) = ''"),
    Rule(("staging", "notify_agreement_history"), "notify_signed_within_owners",
         "No version counts more signed organisations than organisations, or a negative count.",
         "SELECT * FROM staging.notify_agreement_history WHERE owners_agreement_signed > owners "
         "OR least(domains, owners, owners_agreement_signed) < 0"),
    Rule(("staging", "notify_agreement_history"), "notify_signed_count_never_falls",
         "The number of organisations that signed the agreement does not fall.",
         falls("staging.notify_agreement_history", "committed_at", "owners_agreement_signed"), WARN),
    Rule(("staging", "one_login_services"), "one_login_client_keys_unique", "Every client key appears once.",
         repeated("staging.one_login_services", "client_key")),
    Rule(("staging", "one_login_services"), "one_login_services_attributed",
         "Every service (other than One Login's own) is attributed to an organisation; extend the "
         "one_login section of data/organisation_aliases.yaml for any listed here.",
         "SELECT client_key, service_name, link_url FROM staging.one_login_services "
         "WHERE NOT is_internal AND organisation_slug IS NULL", WARN),
    Rule(("staging", "one_login_services"), "one_login_first_seen_not_in_future",
         "No service was first seen after the reporting date.",
         "SELECT client_key, first_seen FROM staging.one_login_services WHERE first_seen > $as_of::DATE", WARN),
    Rule(("staging", "verify_accounts"), "verify_years_consecutive_non_negative",
         "Financial years follow one another without a gap, and no count is negative.",
         "SELECT financial_year, period_end, accounts_created FROM (SELECT *, lag(period_end) OVER "
         "(ORDER BY period_end) AS previous FROM staging.verify_accounts) WHERE accounts_created < 0 "
         "OR (previous IS NOT NULL AND NOT is_partial_year AND date_diff('year', previous, period_end) <> 1)"),
    Rule(("staging", "api_catalogue"), "api_catalogue_dates_not_in_future",
         "No API was added after the reporting date.",
         "SELECT api_name, date_added FROM staging.api_catalogue WHERE date_added > $as_of::DATE", WARN),
    # Not URL alone: 30 HMRC APIs share https://api.service.hmrc.gov.uk in the real catalogue.
    Rule(("staging", "api_catalogue"), "api_catalogue_apis_listed_once",
         "No API is listed twice (same provider, name and URL).",
         "SELECT provider, api_name, url, count(*) AS n FROM staging.api_catalogue GROUP BY ALL HAVING n > 1", WARN),
    Rule(("staging", "api_catalogue"), "api_catalogue_urls_present",
         "Every API gives the address where it can be found.",
         "SELECT provider, api_name FROM staging.api_catalogue WHERE url IS NULL OR trim(url) = ''", WARN),
    Rule(("staging", "organisations"), "organisation_slugs_unique", "Every organisation slug appears once.",
         repeated("staging.organisations", "organisation_slug")),
    Rule(("staging", "organisations"), "departments_roll_up_to_themselves",
         "Every department that is not closed is its own department.",
         "SELECT organisation_slug, department_slug FROM staging.organisations WHERE status <> 'closed' "
         "AND organisation_type IN ('Ministerial department', 'Non-ministerial department') "
         "AND department_slug IS DISTINCT FROM organisation_slug"),
    Rule(("staging", "organisation_match_coverage"), "pay_matching_coverage",
         "In the latest Pay version, at least 90% of services that could belong to a GOV.UK "
         "organisation are matched to one.",
         "SELECT snapshot_date, matched_share_excluding_outside FROM staging.organisation_match_coverage "
         "WHERE platform = 'GOV.UK Pay' AND snapshot_date = (SELECT max(snapshot_date) FROM "
         "staging.organisation_match_coverage WHERE platform = 'GOV.UK Pay') "
         "AND matched_share_excluding_outside < 0.9", WARN),
    # A newer register can close or drop a body the schedule expects returns from (its figures then move to a
    # successor, or out of the league table): said, so that the schedule is brought up to date.
    Rule(("staging", "return_expected_submitters"), "expected_submitters_open_in_register",
         "Every organisation expected to send returns is in the register and not closed; update "
         "data/returns/schedule.yaml for any listed here.",
         "SELECT e.organisation_code, o.name, o.status FROM staging.return_expected_submitters e "
         "LEFT JOIN staging.organisations o ON o.organisation_code = e.organisation_code "
         "WHERE EXISTS (SELECT 1 FROM staging.organisations) AND (o.organisation_code IS NULL OR o.status = 'closed')",
         WARN),
    Rule(("marts", "target_progress"), "every_target_judged",
         "Every target has a row with a status.",
         "SELECT t.target_id FROM staging.targets t LEFT JOIN marts.target_progress p USING (target_id) "
         "WHERE p.status IS NULL"),
]


def _run_rule(rule: Rule, settings: TrackerConfig, warehouse: DuckDBResource) -> dg.AssetCheckResult:
    params = {"as_of": settings.as_of_date()} if "$as_of" in rule.sql else None
    with connect(warehouse) as con:  # counted, and only the examples fetched (240,000 rows at national size)
        breaking = con.execute(f"SELECT count(*) FROM ({rule.sql}) AS breaking", params).fetchall()[0][0]
        examples = con.execute(f"{rule.sql} LIMIT {SAMPLE_ROWS}", params).df() if breaking else None
    passed = not breaking
    metadata = {"rows breaking the rule": breaking}
    if not passed:
        metadata["examples"] = dg.MetadataValue.md(examples.to_markdown(index=False))
    return dg.AssetCheckResult(passed=passed, severity=rule.severity, metadata=metadata,
                               description=rule.description)


def check_from_rule(rule: Rule) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=dg.AssetKey(list(rule.asset)), name=rule.name, description=rule.description,
                    blocking=rule.severity == ERROR and rule.asset[0] != "staging")
    def _check(settings: TrackerConfig, warehouse: DuckDBResource) -> dg.AssetCheckResult:
        return _run_rule(rule, settings, warehouse)

    return _check


@dg.asset_check(
    asset=dg.AssetKey(["staging", "targets"]),
    name="every_published_target_declared",
    blocking=True,
    description="Every target in data/targets/strategy_targets_sources.csv has an entry in "
    "data/targets.yaml (same metric and deadline).",
)
def every_published_target_declared(settings: TrackerConfig, warehouse: DuckDBResource) -> dg.AssetCheckResult:
    published = list(csv.DictReader(io.StringIO(
        (settings.data / "targets" / "strategy_targets_sources.csv").read_text(encoding="utf-8"))))
    with connect(warehouse) as con:
        declared = {(m, str(d)) for m, d in con.execute("SELECT metric, deadline FROM staging.targets").fetchall()}
    missing = [f"{r['metric']} by {r['target_date']}" for r in published
               if (r["metric"], r["target_date"]) not in declared]
    return dg.AssetCheckResult(
        passed=not missing,
        metadata={"published targets": len(published), "declared": len(declared),
                  "missing": ", ".join(missing) or "none"},
    )


# Each source's first staging table, which its feed-problems table stands beside.
FEED_ASSETS = {
    "pay": ("staging", "pay_snapshots"),
    "forms": ("staging", "forms_metrics"),
    "one_login": ("staging", "one_login_services"),
    "data_sharing": ("staging", "api_catalogue"),
    "notify": ("staging", "notify_organisations"),
    "verify": ("staging", "verify_accounts"),
    "organisations": ("staging", "organisations"),
    "skills": ("staging", "digital_capacity"),
    "skills_mapping": ("staging", "skills_name_mapping"),  # the skills figures' department names
}
FEED_LABELS = {"skills_mapping": "Civil Service Statistics department names"}


def feed_readable_check(source: str) -> dg.AssetChecksDefinition:
    label = FEED_LABELS.get(source) or SOURCES[source].name

    @dg.asset_check(asset=dg.AssetKey(list(FEED_ASSETS[source])), name=f"{source}_feed_readable", blocking=False,
                    description=f"Every file of the {label} feed was read; a file that was not is named with "
                    "the problem (it is left out, or the source keeps its last good figures).")
    def _check(warehouse: DuckDBResource) -> dg.AssetCheckResult:
        with connect(warehouse) as con:
            rows = con.execute(f"SELECT coalesce(file_name, 'the source') AS file, problem, consequence "
                               f"FROM {feed_problems_table(source)} ORDER BY file").df()
        metadata = {"rows breaking the rule": len(rows)}
        if not rows.empty:
            metadata["problems"] = dg.MetadataValue.md(rows.head(SAMPLE_ROWS).to_markdown(index=False))
        described = "; ".join(f"{r.file}: {r.problem} ({r.consequence})" for r in rows.head(3).itertuples())
        return dg.AssetCheckResult(passed=rows.empty, severity=ERROR, metadata=metadata,
                                   description=f"{label}: {described}" if described else None)

    return _check


all_checks = [
    *(check_from_rule(rule) for rule in RULES),
    *(feed_readable_check(source) for source in FEED_ASSETS),
    every_published_target_declared,
]
