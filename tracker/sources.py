"""Where every figure comes from: each source's publisher, origin and how fresh it must be.

Declared once. The ``marts.sources`` mart joins this to the files kept in
``raw.source_files`` and the latest data date, so the dashboard can say for any
figure who published it, which file it was read from, and whether it is stale.
The freshness rule for Pay is also the one its asset check uses, and each window is also the
Dagster freshness policy on the source's staging tables (assets/staging.py) and the limit of the
freshness alerts (pipelines/alerting.py).
"""

from __future__ import annotations

from dataclasses import dataclass

# The published snapshot is rebuilt every week (the Tuesday refresh): a day's grace, then it is overdue.
SNAPSHOT_FRESH_WITHIN_DAYS = 8


@dataclass(frozen=True)
class DefinitionChange:
    """A period in which a source's published figure meant something else: shown beside the series."""

    metric: str  # as in marts.metric_series.metric
    valid_from: str  # ISO date, inclusive
    valid_until: str  # ISO date, exclusive
    note: str


@dataclass(frozen=True)
class Source:
    key: str  # as in raw.source_files.source
    name: str
    platforms: tuple[str, ...]  # the platform names used in marts.metric_series
    publisher: str
    origin: str  # where the shipped archive was copied from
    cadence: str
    fresh_within_days: int | None  # None: never "stale": closed, or judged elsewhere (returns)
    closed_note: str = ""  # set for a source that is no longer published
    definition_changes: tuple[DefinitionChange, ...] = ()


SOURCES = {
    s.key: s
    for s in [
        Source("pay", "GOV.UK Pay performance data", ("GOV.UK Pay",), "Government Digital Service",
               "https://github.com/alphagov/pay-product-page (data/performance.json, every version)",
               "weekly", 14),
        Source("forms", "GOV.UK Forms performance metrics", ("GOV.UK Forms",), "Government Digital Service",
               "https://github.com/alphagov/forms-product-page (config/performance_metrics.yml, every version)",
               "weekly", 28),
        Source("one_login", "GOV.UK One Login relying-party registry", ("GOV.UK One Login",),
               "Government Digital Service",
               "https://github.com/govuk-one-login/di-account-management-rp-registry (clients/*.ts)",
               "when services join", 90),
        Source("data_sharing", "Cross-government API catalogue", ("Data sharing",),
               "Central Digital and Data Office",
               "https://github.com/co-cddo/api-catalogue (data/catalogue.csv, every version)",
               "when APIs are added", 120,
               definition_changes=(DefinitionChange(
                   "apis_published", "2022-03-01", "2025-08-06",
                   "From March 2022 to 6 August 2025 the published catalogue also drew APIs from remote registries "
                   "(NHS Digital, the Food Standards Agency, a sandbox) that are not in the catalogue file, so the "
                   "file's count understates the catalogue: the fall in September 2022 and the rise in August 2025 "
                   "are 48 and 95 NHS and FSA APIs leaving and rejoining the file, not APIs withdrawn or added."),)),
        Source("notify", "GOV.UK Notify domain register and data sharing agreements", ("GOV.UK Notify",),
               "Government Digital Service",
               "https://github.com/alphagov/notifications-admin (app/domains.yml, 2018-2019)", "no longer published",
               None, "The register moved into Notify's database in April 2019; no public figures since."),
        Source("verify", "GOV.UK Verify accounts created", ("GOV.UK Verify",), "Cabinet Office",
               "Written parliamentary answer 74596 (2022), accounts created per financial year",
               "no longer published", None, "GOV.UK Verify closed; GOV.UK One Login replaces it."),
        # Civil Service Statistics come once a year: figures at 31 March, published about four months later, so the
        # latest figure is up to about 16 months old before the next edition is due; 500 days allows for that.
        Source("skills", "Civil Service Statistics: digital capacity (DDaT profession)", ("Civil service skills",),
               "Cabinet Office, Civil Service Statistics",
               "https://github.com/co-analysis/acses_data_browser_2021 (and _2022, _2023: docs/<breakdown>/data.csv); "
               "the national series and surveys transcribed from the public record",
               "annual", 500,
               definition_changes=tuple(DefinitionChange(
                   metric, "2021-03-31", "2021-04-01",
                   "Low coverage: on 31 March 2021 only about 75% of civil servants had a recorded profession, so the "
                   "DDaT profession is understated that year; the rise to 2022 is partly better recording, not only "
                   "more people.") for metric in ("ddat_profession_share", "ddat_profession_headcount"))),
        Source("organisations", "GOV.UK organisations", (), "Government Digital Service",
               "https://www.gov.uk/api/organisations (2026 copy) and the April 2017 organisations list",
               "reference", 365),
        # Timeliness of returns is judged per organisation and quarter on the Returns page, not here.
        Source("returns", "Departments' quarterly returns", (), "Departments and their agencies",
               "tracker submit, or a file in the returns inbox", "quarterly, due 30 days after the quarter ends",
               None),
    ]
}


def freshness_sql(latest_date: str) -> str:
    """The one freshness rule, as a SQL expression over a row of the sources declaration (alias s)."""
    return f"""CASE WHEN s.source = 'returns' THEN 'quarterly return'
            WHEN s.fresh_within_days IS NULL THEN 'no longer published'
            WHEN {latest_date} IS NULL THEN 'reference'
            WHEN date_diff('day', {latest_date}, $as_of::DATE) > s.fresh_within_days THEN 'stale'
            ELSE 'fresh' END"""


def sources_sql() -> str:
    """The declaration as a VALUES list, so the sources mart is one SQL query."""

    def text(value: str | None) -> str:
        return "NULL" if value is None else "'" + value.replace("'", "''") + "'"

    rows = []
    for s in SOURCES.values():
        platforms = "[" + ", ".join(text(p) for p in s.platforms) + "]::VARCHAR[]"
        fresh = "NULL::INTEGER" if s.fresh_within_days is None else str(s.fresh_within_days)
        rows.append(f"({text(s.key)}, {text(s.name)}, {platforms}, {text(s.publisher)}, {text(s.origin)}, "
                    f"{text(s.cadence)}, {fresh}, {text(s.closed_note)})")
    return ("SELECT * FROM (VALUES " + ",\n".join(rows) + ") AS s(source, name, platforms, publisher, origin, "
            "cadence, fresh_within_days, closed_note)")
