"""Matching the names platforms publish to GOV.UK organisations.

Order of trust: the curated alias file, then the exact normalised name, then
the name without a trailing abbreviation, then the abbreviation alone. A key
that fits more than one current body is left unmatched as 'ambiguous': the
tracker never guesses silently. Names that are not GOV.UK organisations
(councils, police forces, NHS trusts, cadet squadrons) stay unmatched, counted
under a category. A name matched by an earlier run under the same rules keeps
that match without being matched again (``MATCH_MEMO``): a run matches only
the names that are new. What it sums over Pay's weekly versions is kept per
version the same way (``by_version``): a new snapshot costs its own rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from assets.raw import OWNERS
from assets.staging import held_versions, list_versions
from tracker.code_version import code_sha256
from tracker.organisation_names import ALIAS_FILE, OrganisationAliases, name_variants, parse_aliases
from tracker.resources import TrackerConfig
from tracker.warehouse import (
    connect,
    insert_values,
    replace_tables_sql,
    table_columns,
    tables_metadata,
    transaction,
)

PAY_SERVICES = "staging.pay_organisation_services"  # one version's rows per weekly snapshot, ten years of them
# Pay's part of the names and of the coverage is kept between runs (caches, like MATCH_MEMO below, left out of every
# comparison of two warehouses): a new weekly snapshot then costs its own rows, not the history's 15 million.
PAY_LATEST_MEMO = "cache.pay_name_latest"  # each Pay name's services in the latest version that names it
PAY_COVERAGE_MEMO = "cache.pay_coverage_by_version"  # Pay's matching coverage per version, on the basis named
PAY_ATTRIBUTION_MEMO = "cache.pay_attribution_by_version"  # Pay per version, department and attribution

# Names each platform publishes, as (platform, name, weight) where weight is the
# services the name stands for in that platform's latest version (Pay's: ``pay_names_latest``).
PLATFORM_NAMES_SQL = f"""
SELECT 'GOV.UK Pay' AS platform, organisation_name AS platform_name, live_services AS latest_services
FROM {PAY_LATEST_MEMO}
UNION ALL
SELECT 'GOV.UK Notify', organisation_name, domain_count FROM staging.notify_organisations
UNION ALL
SELECT 'API catalogue', provider, count(DISTINCT api_name) FROM staging.api_catalogue_listings GROUP BY 1, 2
"""


class Matcher:
    """Looks names up in staging.organisation_identifiers and the alias file."""

    def __init__(self, identifiers: pd.DataFrame, aliases: OrganisationAliases, current: dict[str, str]):
        self.aliases = aliases
        self.current = current  # slug -> the body carrying on its work
        self.by_key: dict[str, dict[str, set[str]]] = {}
        for key, kind, slug in zip(identifiers["identifier"].tolist(), identifiers["kind"].tolist(),
                                   identifiers["organisation_slug"].tolist(), strict=True):
            self.by_key.setdefault(key, {}).setdefault(kind, set()).add(self.current.get(slug, slug))

    @classmethod
    def from_warehouse(cls, con, aliases: OrganisationAliases, names: Iterable[str | None] | None = None) -> Matcher:
        """The matcher over the register as staged: its identifiers, and each body's successor. Given the names it
        will be asked to match, only the identifiers those names can be looked up by are read (a week's few new
        names, against a national register's 133,000 identifiers)."""
        identifiers = "SELECT * FROM staging.organisation_identifiers"
        if names is not None:
            keys = pd.DataFrame({"key": sorted({key for name in names for key in cls.lookup_keys(name)})},
                                dtype="string")
            con.register("_lookup_keys", keys)
            identifiers += " WHERE identifier IN (SELECT key FROM _lookup_keys)"
        try:
            found = con.execute(identifiers).df()
        finally:
            if names is not None:
                con.unregister("_lookup_keys")
        current = dict(con.execute("SELECT organisation_slug, current_slug FROM staging.organisations").fetchall())
        return cls(found, aliases, current)

    @staticmethod
    def slug_key(name: str | None) -> str:
        """How ``match`` looks a name up among the slugs."""
        return str(name).strip().lower()

    @classmethod
    def lookup_keys(cls, name: str | None) -> list[str]:
        """Every identifier ``match`` may look ``name`` up by."""
        return [cls.slug_key(name), *(variant for variant, _how in name_variants(name))]

    def _lookup(self, key: str, kinds: tuple[str, ...]) -> set[str]:
        found: set[str] = set()
        for kind in kinds:
            found |= self.by_key.get(key, {}).get(kind, set())
        return found

    def match(self, name: str) -> dict:
        """-> organisation_slug (or None), match_method, and a category when unmatched."""
        slug = self.aliases.alias_for(name)
        if slug:
            return {"organisation_slug": self.current.get(slug, slug), "match_method": "alias file"}
        exact_slug = self._lookup(self.slug_key(name), ("slug",))
        if len(exact_slug) == 1:
            return {"organisation_slug": exact_slug.pop(), "match_method": "slug"}
        ambiguous = False
        for variant, how in name_variants(name):
            kinds = ("abbreviation",) if how == "abbreviation" else ("name",)
            found = self._lookup(variant, kinds)
            if len(found) == 1:
                return {"organisation_slug": found.pop(), "match_method": how}
            ambiguous |= len(found) > 1
        category = self.aliases.outside_category(name)
        return {
            "organisation_slug": None,
            "match_method": "ambiguous" if ambiguous else "unmatched",
            "outside_govuk_category": category,
        }


# The matches of the last run, by name (a cache, not data: in the cache schema, left out of every comparison of two
# warehouses and never published). A match stands while the rules are the same: the register's identifiers and
# successors, the alias file and the tracker's code (``RULES_SQL``, ``rules_sha256``), so a run matches only the
# names that are new, and the rest is joined in SQL.
MATCH_MEMO = "cache.organisation_name_matches"
MATCH_FIELDS = ("organisation_slug", "match_method", "outside_govuk_category")
RULES_SQL = """
SELECT (SELECT md5(string_agg(concat_ws(chr(31), identifier, kind, organisation_slug), chr(30)
                              ORDER BY identifier, kind, organisation_slug))
        FROM staging.organisation_identifiers),
       (SELECT md5(string_agg(concat_ws(chr(31), organisation_slug, coalesce(current_slug, chr(29))), chr(30)
                              ORDER BY organisation_slug))
        FROM staging.organisations)
"""


def rules_sha256(con, alias_file: bytes) -> str:
    """Everything a name's match depends on, but the name."""
    identifiers, successors = con.execute(RULES_SQL).fetchall()[0]
    return hashlib.sha256("\0".join([code_sha256(), str(identifiers), str(successors)]).encode() + b"\0"
                          + alias_file).hexdigest()


def matched_names(con, rules: str, names: str, matcher: Callable[[list[str | None]], Matcher]) -> None:
    """``MATCH_MEMO`` made to hold every name in the table ``names``, matched under ``rules``: a name remembered under
    them keeps its match, a new one is matched (the matcher, for the new names, is built only if there is one)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS cache")
    con.execute(f"CREATE TABLE IF NOT EXISTS {MATCH_MEMO} (platform_name VARCHAR, "
                + ", ".join(f"{field} VARCHAR" for field in MATCH_FIELDS) + ", rules_sha256 VARCHAR)")
    remembered = (f"SELECT * FROM {MATCH_MEMO} m WHERE rules_sha256 = $rules AND EXISTS "
                  f"(SELECT 1 FROM {names} n WHERE n.platform_name IS NOT DISTINCT FROM m.platform_name)")
    new = [name for (name,) in con.execute(
        f"SELECT DISTINCT platform_name FROM {names} n WHERE NOT EXISTS (SELECT 1 FROM ({remembered}) m "
        "WHERE m.platform_name IS NOT DISTINCT FROM n.platform_name)", {"rules": rules}).fetchall()]
    made = matcher(new) if new else None
    frame = pd.DataFrame([{"platform_name": name, **dict.fromkeys(MATCH_FIELDS), **made.match(name)} for name in new],
                         columns=["platform_name", *MATCH_FIELDS])
    con.register("_new_matches", frame)
    try:
        replace_tables_sql(con, {MATCH_MEMO: (
            f"{remembered} UNION ALL SELECT platform_name::VARCHAR, "
            + ", ".join(f"{field}::VARCHAR" for field in MATCH_FIELDS) + ", $rules FROM _new_matches")},
            {"rules": rules})
    finally:
        con.unregister("_new_matches")


# Matching coverage per platform and version, of the Pay rows ``pay`` selects and, if ``others``, the other platforms'.
COVERAGE_SQL = """
WITH weighted AS (
    SELECT 'GOV.UK Pay' AS platform, s.date_updated AS snapshot_date, s.organisation_name AS platform_name,
           s.live_services AS weight
    FROM staging.pay_organisation_services s WHERE {pay}
    UNION ALL
    SELECT platform, NULL, platform_name, latest_services
    FROM staging.organisation_matches WHERE platform <> 'GOV.UK Pay' AND {others}
),
joined AS (
    SELECT w.*, m.organisation_slug IS NOT NULL AS matched, m.outside_govuk_category IS NOT NULL AS outside
    FROM weighted w JOIN staging.organisation_matches m USING (platform, platform_name)
)
SELECT platform, snapshot_date,
       count(*) AS organisation_names,
       count(*) FILTER (WHERE matched) AS matched_names,
       sum(weight) AS services,
       coalesce(sum(weight) FILTER (WHERE matched), 0) AS matched_services,
       coalesce(sum(weight) FILTER (WHERE outside), 0) AS outside_govuk_services,
       coalesce(sum(weight) FILTER (WHERE NOT matched AND NOT outside), 0) AS unmatched_services,
       round(coalesce(sum(weight) FILTER (WHERE matched), 0) / sum(weight), 4) AS matched_share,
       round(coalesce(sum(weight) FILTER (WHERE matched), 0)
             / nullif(sum(weight) FILTER (WHERE NOT outside), 0), 4) AS matched_share_excluding_outside
FROM joined GROUP BY platform, snapshot_date
"""
MATCH_COVERAGE_SQL = (f"SELECT * EXCLUDE (sha256, basis_sha256) FROM {PAY_COVERAGE_MEMO} UNION ALL SELECT * FROM ("
                      + COVERAGE_SQL.format(pay="FALSE", others="TRUE") + ") ORDER BY platform, snapshot_date")
# Pay per version, department and attribution: what adoption_by_department_month shows for a month's last version
# (its organisations: the distinct bodies matched, and each name not matched).
ATTRIBUTION_SQL = """
SELECT s.date_updated AS snapshot_date, m.department_slug, m.attribution,
       sum(s.live_services) AS live_services,
       count(DISTINCT coalesce(m.organisation_slug, s.organisation_name)) AS organisations
FROM staging.pay_organisation_services s
LEFT JOIN staging.organisation_matches m ON m.platform = 'GOV.UK Pay' AND m.platform_name = s.organisation_name
WHERE {pay}
GROUP BY s.date_updated, m.department_slug, m.attribution
"""
ATTRIBUTION = "staging.pay_attribution_by_version"
MONTH_LAST = ("s.date_updated IN (SELECT max(date_updated) FROM staging.pay_organisation_services "
              "GROUP BY date_trunc('month', date_updated))")  # ``month_last`` in SQL, when the versions are not known
DEPARTMENTS_SQL = """
SELECT md5(string_agg(concat_ws(chr(31), organisation_slug, coalesce(department_slug, chr(29))), chr(30)
                      ORDER BY organisation_slug))
FROM staging.organisations
"""
# A name's department and how it is attributed: a department, a GOV.UK body outside one, or why it is neither.
MATCHES_SQL = f"""
SELECT n.*, {", ".join(f"m.{field}" for field in MATCH_FIELDS)}, o.department_slug,
       CASE WHEN o.department_slug IS NOT NULL THEN 'department'
            WHEN m.organisation_slug IS NOT NULL THEN 'GOV.UK body outside a department'
            WHEN m.outside_govuk_category IS NOT NULL THEN 'not a GOV.UK organisation: ' || m.outside_govuk_category
            ELSE 'unmatched' END AS attribution
FROM _platform_names n
LEFT JOIN {MATCH_MEMO} m ON m.platform_name IS NOT DISTINCT FROM n.platform_name
LEFT JOIN staging.organisations o ON o.organisation_slug = m.organisation_slug
"""
VERSIONS = "_pay_versions"  # the Pay versions staged, while the memos are brought to them
# (Each template's ``{pay}`` is a condition on Pay's rows, named ``s``: ``_dates``, ``MONTH_LAST``.)


def _stage_versions(con, versions: dict[str, dt.date]) -> None:
    con.execute(f"CREATE OR REPLACE TEMP TABLE {VERSIONS} (sha256 VARCHAR, snapshot_date DATE)")
    insert_values(con, VERSIONS, sorted(versions.items()))


def month_last(versions: dict[str, dt.date] | None) -> dict[str, dt.date] | None:
    """The versions that are the last of their month: the only ones a monthly series reads (the whole history's
    attribution per version took 7 s at national size; its months' last versions, about one in four, 1 s)."""
    if versions is None:
        return None
    last: dict[tuple[int, int], tuple[dt.date, str]] = {}
    for sha, day in versions.items():
        last[(day.year, day.month)] = max(last.get((day.year, day.month), (day, sha)), (day, sha))
    return {sha: day for day, sha in last.values()}


def _dates(days) -> str:
    return "s.date_updated IN (" + ", ".join(f"DATE '{day.isoformat()}'" for day in sorted(days)) + ")" \
        if days else "FALSE"


def pay_names_latest(con, versions: dict[str, dt.date] | None) -> None:
    """``PAY_LATEST_MEMO`` made to stand for ``versions`` (what staging.pay_organisation_services holds, as
    ``held_versions`` gives it, None if not known): the new versions' rows merged in when every version it was made
    from is still held, else made again from every row (a version replaced or withdrawn may have been a name's
    latest; with nothing listed under this code, it was made by other code or never)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS cache")
    made_from = f"{PAY_LATEST_MEMO}_versions"
    before = held_versions(con, PAY_LATEST_MEMO, made_from)
    rows = "SELECT organisation_name, date_updated, live_services FROM staging.pay_organisation_services s"
    if versions is not None and before and all(versions.get(sha) == day for sha, day in before.items()):
        new = {day for sha, day in versions.items() if before.get(sha) != day}
        if not new:
            return
        rows = f"SELECT * FROM {PAY_LATEST_MEMO} UNION ALL {rows} WHERE {_dates(new)}"
    with transaction(con):
        con.execute(f"CREATE OR REPLACE TABLE {PAY_LATEST_MEMO} AS SELECT organisation_name, max(date_updated) AS "
                    f"date_updated, max_by(live_services, date_updated) AS live_services FROM ({rows}) "
                    "GROUP BY organisation_name")
        list_versions(con, made_from, versions or {})


def by_version(con, memo: str, select: str, versions: dict[str, dt.date] | None, basis: str,
               unknown: str = "TRUE") -> None:
    """``memo`` made to hold ``select``'s rows (over the Pay rows its ``{pay}`` chooses, each carrying its version's
    date as ``snapshot_date``) for every version in ``versions``, computed on ``basis`` (everything else they depend
    on): a version's rows from an earlier run stand while its sha256, date and the basis do, the rest are computed;
    those ``unknown`` chooses when the versions are not known."""
    if versions is None:
        replace_tables_sql(con, {memo: "SELECT NULL::VARCHAR AS sha256, $basis AS basis_sha256, c.* "
                                 f"FROM ({select.format(pay=unknown)}) c"}, {"basis": basis})
        return
    _stage_versions(con, versions)
    remembered = (f"SELECT c.* FROM {memo} c SEMI JOIN {VERSIONS} v USING (sha256, snapshot_date) "
                  "WHERE c.basis_sha256 = $basis") if {"sha256", "basis_sha256"} <= table_columns(con, memo) \
        else None  # (nor one an earlier code kept otherwise)
    rows, kept = con.execute(f"SELECT count(*), list(DISTINCT snapshot_date) FROM ({remembered})",
                             {"basis": basis}).fetchall()[0] if remembered else (0, [])
    kept = set(kept or [])
    missing = {day for day in versions.values() if day not in kept}
    if remembered and not missing and rows == _count(con, memo):
        return  # every row stands, and none is left over
    every = f"s.date_updated IN (SELECT snapshot_date FROM {VERSIONS})"
    computed = select.format(pay=_dates(missing) if kept else every)
    new = f"SELECT v.sha256, $basis AS basis_sha256, c.* FROM ({computed}) c JOIN {VERSIONS} v USING (snapshot_date)"
    replace_tables_sql(con, {memo: f"{remembered} UNION ALL {new}" if kept else new}, {"basis": basis})


def pay_by_version(con, versions: dict[str, dt.date] | None, rules: str) -> None:
    """Pay's coverage (on the matching rules) and attribution (on the rules and each body's department) per version,
    once staging.organisation_matches holds this run's matches."""
    by_version(con, PAY_COVERAGE_MEMO, COVERAGE_SQL.format(pay="{pay}", others="FALSE"), versions, rules)
    departments = con.execute(DEPARTMENTS_SQL).fetchall()[0][0]
    by_version(con, PAY_ATTRIBUTION_MEMO, ATTRIBUTION_SQL, month_last(versions),
               hashlib.sha256(f"{rules} {departments}".encode()).hexdigest(), unknown=MONTH_LAST)


def _count(con, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key=["staging", "organisation_matches"],
            deps=[
                ["staging", "organisation_identifiers"],
                ["staging", "organisations"],
                ["staging", "pay_organisation_services"],
                ["staging", "notify_organisations"],
                ["staging", "api_catalogue_listings"],
            ],
            group_name="reference",
            kinds={"duckdb", "pandas"},
            owners=OWNERS,
            description="Each organisation name a platform publishes, matched to a GOV.UK "
            "organisation (with how) and its department, or left unmatched with a category. Extend "
            "data/organisation_aliases.yaml for the largest unmatched names.",
        ),
        dg.AssetSpec(
            key=ATTRIBUTION.split("."),
            deps=[["staging", "organisation_matches"], ["staging", "pay_organisation_services"]],
            group_name="reference",
            kinds={"duckdb", "sql"},
            owners=OWNERS,
            description="GOV.UK Pay's live services and organisations per version, department and attribution "
            "(a department, a GOV.UK body outside one, or why neither).",
        ),
        dg.AssetSpec(
            key=["staging", "organisation_match_coverage"],
            deps=[["staging", "organisation_matches"]],
            group_name="reference",
            kinds={"duckdb", "sql"},
            owners=OWNERS,
            description="Matching coverage per platform and snapshot: matched services / all services.",
        ),
    ],
    can_subset=False,
)
def organisation_matching(settings: TrackerConfig, warehouse: DuckDBResource):
    alias_file = (settings.data / ALIAS_FILE).read_bytes()  # read once: the rules hashed are the rules used

    def matcher(names: list[str | None]) -> Matcher:
        return Matcher.from_warehouse(con, parse_aliases(alias_file), names)

    with connect(warehouse) as con:
        versions = held_versions(con, PAY_SERVICES)
        rules = rules_sha256(con, alias_file)
        try:
            pay_names_latest(con, versions)
            con.execute(f"CREATE OR REPLACE TEMP TABLE _platform_names AS {PLATFORM_NAMES_SQL}")
            matched_names(con, rules, "_platform_names", matcher)
            replace_tables_sql(con, {"staging.organisation_matches": MATCHES_SQL})
            pay_by_version(con, versions, rules)
        finally:
            con.execute("DROP TABLE IF EXISTS _platform_names")
            con.execute(f"DROP TABLE IF EXISTS {VERSIONS}")
        replace_tables_sql(con, {
            "staging.organisation_match_coverage": MATCH_COVERAGE_SQL,
            ATTRIBUTION: f"SELECT * EXCLUDE (sha256, basis_sha256) FROM {PAY_ATTRIBUTION_MEMO} "
                         "ORDER BY snapshot_date, department_slug, attribution"})
        meta = tables_metadata(con, ["staging.organisation_matches"])
        latest = con.execute(
            "SELECT platform, snapshot_date, services, matched_services, outside_govuk_services, "
            "unmatched_services, matched_share, matched_share_excluding_outside "
            "FROM staging.organisation_match_coverage "
            "QUALIFY row_number() OVER (PARTITION BY platform ORDER BY snapshot_date DESC NULLS LAST) = 1"
        ).df()
        meta["coverage (latest version)"] = dg.MetadataValue.md(latest.to_markdown(index=False))
        unmatched = con.execute(
            "SELECT platform, platform_name, latest_services AS services, match_method, "
            "coalesce(outside_govuk_category, '') AS outside_govuk "
            "FROM staging.organisation_matches WHERE organisation_slug IS NULL "
            "ORDER BY outside_govuk_category NULLS FIRST, latest_services DESC LIMIT 25"
        ).df()
        meta["largest unmatched names"] = dg.MetadataValue.md(unmatched.to_markdown(index=False))
        yield dg.MaterializeResult(asset_key=["staging", "organisation_matches"], metadata=meta)
        yield dg.MaterializeResult(
            asset_key=["staging", "organisation_match_coverage"],
            metadata=tables_metadata(con, ["staging.organisation_match_coverage"]),
        )
        yield dg.MaterializeResult(asset_key=ATTRIBUTION.split("."), metadata=tables_metadata(con, [ATTRIBUTION]))
