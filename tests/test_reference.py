"""Reference data: departments through machinery-of-government changes, matching, the curated files."""

from __future__ import annotations

import csv

import pandas as pd
import pytest
import yaml

from assets.organisation_matching import (
    ATTRIBUTION_SQL,
    COVERAGE_SQL,
    MATCH_FIELDS,
    MATCH_MEMO,
    MATCHES_SQL,
    PAY_ATTRIBUTION_MEMO,
    PAY_COVERAGE_MEMO,
    PAY_LATEST_MEMO,
    PAY_SERVICES,
    PLATFORM_NAMES_SQL,
    VERSIONS,
    Matcher,
    matched_names,
    month_last,
    pay_by_version,
    pay_names_latest,
    rules_sha256,
)
from assets.pay import PARSED_VERSIONS
from assets.staging import held_versions, versions_table
from assets.targets import TargetsFileError, load_published_figures, load_targets
from tests.conftest import DATA
from tracker.organisation_names import ALIAS_FILE, load_aliases, normalise

ROLL_UPS = {
    # body (as a slug of its own time) -> department it lands on today
    "driver-and-vehicle-licensing-agency": "department-for-transport",
    "driver-and-vehicle-standards-agency": "department-for-transport",
    "hm-passport-office": "home-office",
    "uk-visas-and-immigration": "home-office",
    "companies-house": "department-for-business-and-trade",
    "hm-courts-and-tribunals-service": "ministry-of-justice",
    "office-of-the-public-guardian": "ministry-of-justice",
    "animal-and-plant-health-agency": "department-for-environment-food-rural-affairs",
    "environment-agency": "department-for-environment-food-rural-affairs",
    "government-digital-service": "department-for-science-innovation-and-technology",
    "natural-resources-wales": "welsh-government",
    "land-registry": "land-registry",  # a non-ministerial department is its own department
    "hm-revenue-customs": "hm-revenue-customs",
    # pre-2020 departments, through their successors
    "department-for-communities-and-local-government": "ministry-of-housing-communities-local-government",
    "department-for-international-development": "foreign-commonwealth-development-office",
    "foreign-commonwealth-office": "foreign-commonwealth-development-office",
    "department-for-business-energy-and-industrial-strategy": "department-for-business-and-trade",
    "department-for-digital-culture-media-sport": "department-for-culture-media-and-sport",
}


def department_of(con, identifier: str) -> str | None:
    row = con.execute(
        "SELECT o.department_slug FROM staging.organisation_identifiers i "
        "JOIN staging.organisations o USING (organisation_slug) WHERE i.kind = 'slug' AND i.identifier = ?",
        [identifier],
    ).fetchall()
    assert len(row) == 1, f"{identifier} should resolve to one organisation, got {row}"
    return row[0][0]


@pytest.mark.parametrize(("body", "department"), ROLL_UPS.items())
def test_bodies_roll_up_to_todays_department(warehouse, body, department):
    assert department_of(warehouse, body) == department


def test_dclg_is_found_by_its_2017_code_and_slug(warehouse):
    list_2017 = pd.read_csv(DATA / "organisations" / "govuk_organisations_list_2017-04.tsv", sep="\t", dtype=str)
    dclg = list_2017[list_2017["abbreviation"] == "DCLG"].iloc[0]
    assert dclg["govuk"] == "department-for-communities-and-local-government"
    by_code = warehouse.execute(
        "SELECT o.department_slug FROM staging.organisation_identifiers i JOIN staging.organisations o "
        "USING (organisation_slug) WHERE i.kind = 'code' AND i.identifier = ?", [dclg["government-organisation"]]
    ).fetchone()
    assert by_code == ("ministry-of-housing-communities-local-government",)


@pytest.fixture(scope="module")
def matcher(built):
    import duckdb

    con = duckdb.connect(str(built["home"] / "warehouse.duckdb"), read_only=True)
    identifiers = con.execute("SELECT * FROM staging.organisation_identifiers").df()
    current = dict(con.execute("SELECT organisation_slug, current_slug FROM staging.organisations").fetchall())
    con.close()
    return Matcher(identifiers, load_aliases(DATA), current)


@pytest.mark.parametrize(
    ("name", "slug", "method"),
    [
        ("Driver and Vehicle Standards Agency – DVSA", "driver-and-vehicle-standards-agency",
         "name without abbreviation"),
        ("Driving and Vehicle Licensing Agency (DVLA)", "driver-and-vehicle-licensing-agency", "alias file"),
        ("DVLA", "driver-and-vehicle-licensing-agency", "abbreviation"),
        ("Her Majesty’s Courts and Tribunals Service", "hm-courts-and-tribunals-service", "name"),
        ("Companies House", "companies-house", "name"),
        ("British High Commission Nairobi", "foreign-commonwealth-development-office", "alias file"),
        ("hm-revenue-customs", "hm-revenue-customs", "slug"),
    ],
)
def test_platform_names_match(matcher, name, slug, method):
    assert matcher.match(name) | {"outside_govuk_category": None} == {
        "organisation_slug": slug, "match_method": method, "outside_govuk_category": None}


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("1223 (Caerphilly) Squadron", "cadets"),
        ("Bedfordshire Police", "police"),
        ("Barts Health NHS Trust", "nhs"),
        ("Aberdeenshire Council", "local government"),
        ("Bolton Sixth Form College", "education"),
    ],
)
def test_bodies_outside_govuk_stay_unmatched_but_categorised(matcher, name, category):
    result = matcher.match(name)
    assert result["organisation_slug"] is None and result["outside_govuk_category"] == category


def test_unknown_name_is_never_guessed(matcher):
    assert matcher.match("Smart Applications Management")["organisation_slug"] is None


def test_a_matcher_built_for_some_names_matches_them_as_the_whole_register_does(built, matcher):
    """Built for the names it will be asked (a week's new names), the matcher reads only the identifiers they can be
    looked up by, and matches each exactly as the matcher over every identifier does: ambiguous names included."""
    import duckdb

    con = duckdb.connect(str(built["home"] / "warehouse.duckdb"), read_only=True)
    published = [n for (n,) in con.execute("SELECT DISTINCT platform_name FROM staging.organisation_matches "
                                           "ORDER BY platform_name NULLS FIRST").fetchall()]
    ambiguous = [n for (n,) in con.execute("SELECT DISTINCT platform_name FROM staging.organisation_matches "
                                           "WHERE match_method = 'ambiguous'").fetchall()]
    tricky = ["Driver and Vehicle Standards Agency – DVSA", "  DVLA ", "hm-revenue-customs", "HMRC", "dvla", "",
              "Department for Transport (DfT)", None, "A Body Nobody Has Published Before", *ambiguous]
    names = published + tricky
    assert len(published) > 500 and None in names
    for some in (names, tricky, *([n] for n in tricky)):
        few = Matcher.from_warehouse(con, load_aliases(DATA), some)
        assert [few.match(n) for n in some] == [matcher.match(n) for n in some]
    read = Matcher.from_warehouse(con, load_aliases(DATA), ["DVLA"]).by_key
    assert set(read) <= {"dvla"} and read  # only what the name can be looked up by
    con.close()


# --- a name matched before keeps its match while the rules are the same ------------------------------------------


@pytest.fixture
def matching_warehouse(built, tmp_path):
    """A writable copy of the demo's warehouse, with the names the platforms publish in a table of their own."""
    import shutil

    import duckdb

    shutil.copy(built["home"] / "warehouse.duckdb", tmp_path / "warehouse.duckdb")
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute(f"CREATE TABLE names AS {PLATFORM_NAMES_SQL}")
    con.execute(f"CREATE TABLE pipeline_remembered AS SELECT * FROM {MATCH_MEMO}")  # what the demo's run remembered
    con.execute(f"DROP TABLE {MATCH_MEMO}")  # forgotten: each test starts with nothing remembered
    yield con
    con.close()


class CountingMatcher:
    """Builds the real matcher, counting the builds and the names it is asked to match."""

    def __init__(self, con) -> None:
        self.con, self.builds, self.matched = con, 0, []

    def __call__(self, names=None) -> Matcher:
        self.builds += 1
        self.built_for = names
        matcher = Matcher.from_warehouse(self.con, load_aliases(DATA), names)  # for those names only, when given
        real = matcher.match
        matcher.match = lambda name: self.matched.append(name) or real(name)
        return matcher


def _remembered(con) -> dict:
    return {row[0]: tuple(row[1:]) for row in con.execute(
        f"SELECT platform_name, {', '.join(MATCH_FIELDS)} FROM {MATCH_MEMO}").fetchall()}


def test_remembered_matches_equal_matching_every_name_again(matching_warehouse):
    con = matching_warehouse
    rules = rules_sha256(con, (DATA / ALIAS_FILE).read_bytes())
    fresh_matcher = CountingMatcher(con)()
    con.execute("INSERT INTO names VALUES ('GOV.UK Pay', 'A Body Nobody Has Published Before', 1), "
                "('GOV.UK Pay', 'Bedfordshire Police', 2), ('GOV.UK Pay', NULL, 3)")
    names = [n for (n,) in con.execute("SELECT DISTINCT platform_name FROM names").fetchall()]
    fresh = {n: tuple((dict.fromkeys(MATCH_FIELDS) | fresh_matcher.match(n))[f] for f in MATCH_FIELDS)
             for n in names}
    first = CountingMatcher(con)
    con.execute("CREATE TABLE some_names AS SELECT * FROM names WHERE platform_name NOT LIKE 'B%'")
    matched_names(con, rules, "some_names", first)
    some = [n for (n,) in con.execute("SELECT DISTINCT platform_name FROM some_names").fetchall()]
    assert first.builds == 1 and sorted(first.matched) == sorted(some)  # nothing remembered yet: every name, once
    then = CountingMatcher(con)
    matched_names(con, rules, "names", then)
    assert then.builds == 1 and len(then.matched) == len(set(then.matched))  # each new name once
    assert sorted(then.built_for, key=str) == sorted(then.matched, key=str)  # built for just those names
    assert set(then.matched) == {n for n in names if n is None or n.startswith("B")}  # and only those
    assert _remembered(con) == fresh  # the same matches as matching every name again, NULL included
    by_pipeline = {row[0]: tuple(row[1:]) for row in con.execute(
        f"SELECT platform_name, {', '.join(MATCH_FIELDS)} FROM pipeline_remembered").fetchall()}
    assert by_pipeline and all(fresh[n] == m for n, m in by_pipeline.items())  # as the demo's run remembered them
    again = CountingMatcher(con)
    matched_names(con, rules, "names", again)
    assert again.builds == 0 and _remembered(con) == fresh  # nothing new: nothing matched, not even built
    matched_names(con, rules, "some_names", again)
    assert set(_remembered(con)) == set(fresh) - {n for n in names if n is None or n.startswith("B")}  # now only


def test_matches_are_not_remembered_across_a_change_of_rules(matching_warehouse):
    con = matching_warehouse
    alias_file = (DATA / ALIAS_FILE).read_bytes()
    rules = rules_sha256(con, alias_file)
    con.execute("CREATE TABLE shuffled AS SELECT * FROM staging.organisation_identifiers ORDER BY random()")
    con.execute("DELETE FROM staging.organisation_identifiers")
    con.execute("INSERT INTO staging.organisation_identifiers SELECT * FROM shuffled")
    assert rules_sha256(con, alias_file) == rules  # the same rules, stored in another order
    matched_names(con, rules, "names", CountingMatcher(con))
    changed = [rules_sha256(con, alias_file + b"\n# a curator's edit\n")]
    con.execute("UPDATE staging.organisations SET current_slug = 'another-body' WHERE organisation_slug = "
                "(SELECT min(organisation_slug) FROM staging.organisations)")
    changed.append(rules_sha256(con, alias_file))
    con.execute("UPDATE staging.organisation_identifiers SET organisation_slug = 'another-body' WHERE identifier = "
                "(SELECT min(identifier) FROM staging.organisation_identifiers)")
    changed.append(rules_sha256(con, alias_file))
    assert len({rules, *changed}) == 4
    other = CountingMatcher(con)
    matched_names(con, changed[-1], "names", other)
    assert other.builds == 1 and len(other.matched) == len(_remembered(con))  # every name matched again
    assert set(con.execute(f"SELECT DISTINCT rules_sha256 FROM {MATCH_MEMO}").fetchall()) == {(changed[-1],)}


# --- Pay's names and coverage are kept per version: a new snapshot costs its own rows ------------------------------

WHOLE_NAMES = ("SELECT organisation_name, max_by(live_services, date_updated) FROM staging.pay_organisation_services "
               "GROUP BY 1")
WHOLE_COVERAGE = f"SELECT * FROM ({COVERAGE_SQL.format(pay='TRUE', others='FALSE')})"
WHOLE_ATTRIBUTION = "SELECT * FROM (" + ATTRIBUTION_SQL.format(pay=(  # each month's last version staged
    "s.date_updated IN (SELECT max(date_updated) FROM staging.pay_organisation_services "
    "GROUP BY date_trunc('month', date_updated))")) + ")"


def _bring_memos(con, rules: str) -> dict | None:
    """As the organisation_matching asset does: both memos brought to the versions staged."""
    versions = held_versions(con, PAY_SERVICES)
    pay_names_latest(con, versions)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _platform_names AS {PLATFORM_NAMES_SQL}")
    con.execute(f"CREATE OR REPLACE TABLE staging.organisation_matches AS {MATCHES_SQL}")
    pay_by_version(con, versions, rules)
    con.execute(f"DROP TABLE IF EXISTS {VERSIONS}")
    return versions


def _as_whole(con) -> None:
    """Both memos hold what computing them from every row gives, and nothing else."""
    names = con.execute(f"SELECT organisation_name, live_services FROM {PAY_LATEST_MEMO}").fetchall()
    assert sorted(names, key=str) == sorted(con.execute(WHOLE_NAMES).fetchall(), key=str)
    assert sorted(con.execute(f"SELECT * EXCLUDE (sha256, basis_sha256) FROM {PAY_COVERAGE_MEMO}").fetchall(),
                  key=str) == sorted(con.execute(WHOLE_COVERAGE).fetchall(), key=str)
    attribution = con.execute(f"SELECT * EXCLUDE (sha256, basis_sha256) FROM {PAY_ATTRIBUTION_MEMO}").fetchall()
    assert attribution and sorted(attribution, key=str) == sorted(con.execute(WHOLE_ATTRIBUTION).fetchall(), key=str)


@pytest.fixture
def pay_memos(matching_warehouse):
    """The demo's warehouse with its Pay versions listed under this code and every match remembered again."""
    con = matching_warehouse
    con.execute(f"CREATE TABLE {MATCH_MEMO} AS SELECT * FROM pipeline_remembered")
    rules = rules_sha256(con, (DATA / ALIAS_FILE).read_bytes())
    con.execute(f"UPDATE {MATCH_MEMO} SET rules_sha256 = ?", [rules])
    versions = held_versions(con, PAY_SERVICES)
    assert versions is not None and len(versions) >= 3  # the demo's run listed the versions it staged
    for memo in (PAY_LATEST_MEMO, f"{PAY_LATEST_MEMO}_versions", PAY_COVERAGE_MEMO, PAY_ATTRIBUTION_MEMO):
        con.execute(f"DROP TABLE IF EXISTS {memo}")  # each test starts with nothing kept
    return con, rules, versions


def _oldest_and_latest(versions: dict) -> tuple[tuple, tuple]:
    ordered = sorted(versions.items(), key=lambda item: item[1])
    return ordered[0], ordered[-1]


def test_pay_memos_keep_each_version_and_add_only_the_new_one(pay_memos):
    con, rules, versions = pay_memos
    (_, oldest), (latest_sha, latest) = _oldest_and_latest(versions)
    # the latest version arrives after the others: held back, then staged
    con.execute(f"CREATE TABLE held_back AS SELECT * FROM {PAY_SERVICES} WHERE date_updated = ?", [latest])
    con.execute(f"DELETE FROM {versions_table(PAY_SERVICES)} WHERE sha256 = ?", [latest_sha])  # not in the view
    _bring_memos(con, rules)
    _as_whole(con)
    # marks on what was kept: a mark that survives the next run shows the row was not computed again
    con.execute(f"UPDATE {PAY_COVERAGE_MEMO} SET organisation_names = -1 WHERE snapshot_date = ?", [oldest])
    first_month = min(month_last(versions).values())
    con.execute(f"UPDATE {PAY_ATTRIBUTION_MEMO} SET organisations = -1 WHERE snapshot_date = ?", [first_month])
    only_before = con.execute(
        f"SELECT organisation_name FROM {PAY_LATEST_MEMO} WHERE organisation_name NOT IN "
        "(SELECT organisation_name FROM held_back WHERE organisation_name IS NOT NULL) LIMIT 1").fetchall()
    assert only_before  # a name the new version does not carry
    con.execute(f"UPDATE {PAY_LATEST_MEMO} SET live_services = -1 WHERE organisation_name = ?", [only_before[0][0]])
    con.execute(f"INSERT INTO {versions_table(PAY_SERVICES)} SELECT ?, ?, any_value(code) FROM "
                f"{versions_table(PAY_SERVICES)}", [latest_sha, latest])
    _bring_memos(con, rules)
    assert con.execute(f"SELECT organisation_names FROM {PAY_COVERAGE_MEMO} WHERE snapshot_date = ?",
                       [oldest]).fetchall() == [(-1,)]  # kept, not computed again
    assert con.execute(f"SELECT live_services FROM {PAY_LATEST_MEMO} WHERE organisation_name = ?",
                       [only_before[0][0]]).fetchall() == [(-1,)]  # merged, not computed again
    assert {n for (n,) in con.execute(f"SELECT organisations FROM {PAY_ATTRIBUTION_MEMO} WHERE snapshot_date = ?",
                                      [first_month]).fetchall()} == {-1}  # kept
    assert {d for (d,) in con.execute(f"SELECT snapshot_date FROM {PAY_ATTRIBUTION_MEMO}").fetchall()} == set(
        month_last(versions).values())  # each month's last version, the latest's month's included, and no other
    for memo, day in ((PAY_COVERAGE_MEMO, oldest), (PAY_ATTRIBUTION_MEMO, first_month)):
        con.execute(f"DELETE FROM {memo} WHERE snapshot_date = ?", [day])  # the marks gone: computed again
    con.execute(f"DROP TABLE {PAY_LATEST_MEMO}_versions")  # the names' memo no longer knows what it was made from
    _bring_memos(con, rules)
    _as_whole(con)  # made again whole, so the mark is gone too
    assert con.execute(f"SELECT count(*) FROM {PAY_COVERAGE_MEMO}").fetchall() == [(len(versions),)]


@pytest.mark.parametrize("change", ["withdrawn", "replaced", "rules", "department", "code", "not listed"])
def test_pay_memos_are_made_again_when_what_they_were_made_from_changes(pay_memos, change):
    con, rules, versions = pay_memos
    _bring_memos(con, rules)
    (_, _), (latest_sha, latest) = _oldest_and_latest(versions)
    listed = versions_table(PAY_SERVICES)
    if change == "withdrawn":  # the latest version is gone: names it carried fall back to their earlier figure
        con.execute(f"DELETE FROM {listed} WHERE sha256 = ?", [latest_sha])
    elif change == "replaced":  # a corrected file for the same date: other figures under another sha256
        con.execute("UPDATE parsed.pay_organisation_counts SET live_services = live_services + 1000 WHERE "
                    f"version_id = (SELECT version_id FROM {PARSED_VERSIONS} WHERE sha256 = ?)", [latest_sha])
        for table in (PARSED_VERSIONS, listed):
            con.execute(f"UPDATE {table} SET sha256 = 'corrected' WHERE sha256 = ?", [latest_sha])
    elif change == "rules":  # a curator's edit to the aliases: every match, and so every version's coverage, anew
        con.execute(f"UPDATE {PAY_COVERAGE_MEMO} SET organisation_names = -1")
        rules = rules_sha256(con, (DATA / ALIAS_FILE).read_bytes() + b"\n# a curator's edit\n")
    elif change == "department":  # a body moves: the attribution anew, the coverage (matches alone) kept
        con.execute(f"UPDATE {PAY_ATTRIBUTION_MEMO} SET organisations = -1")
        con.execute(f"UPDATE {PAY_COVERAGE_MEMO} SET organisation_names = -1")
        moved = con.execute(
            "SELECT m.organisation_slug FROM staging.organisation_matches m JOIN staging.organisations o USING "
            "(organisation_slug) WHERE m.platform = 'GOV.UK Pay' AND o.department_slug <> o.organisation_slug "
            "ORDER BY m.latest_services DESC LIMIT 1").fetchall()[0][0]
        con.execute("UPDATE staging.organisations SET department_slug = 'cabinet-office' WHERE organisation_slug = ?",
                    [moved])
    elif change == "code":  # the names' memo was made by other code
        con.execute(f"UPDATE {PAY_LATEST_MEMO} SET live_services = -1")
        con.execute(f"UPDATE {PAY_LATEST_MEMO}_versions SET code = 'other code'")
    else:  # the staged versions are not known (listed by other code): both made whole
        con.execute(f"UPDATE {PAY_LATEST_MEMO} SET live_services = -1")
        con.execute(f"UPDATE {PAY_COVERAGE_MEMO} SET organisation_names = -1")
        con.execute(f"UPDATE {listed} SET code = 'other code'")
    versions = _bring_memos(con, rules)
    assert (versions is None) == (change == "not listed")
    if change == "department":
        assert {n for (n,) in con.execute(f"SELECT DISTINCT organisation_names FROM {PAY_COVERAGE_MEMO}")
                .fetchall()} == {-1}  # kept: a department does not change a match
        con.execute(f"DELETE FROM {PAY_COVERAGE_MEMO}")
        pay_by_version(con, versions, rules)
        con.execute(f"DROP TABLE IF EXISTS {VERSIONS}")
    _as_whole(con)
    assert {r for (r,) in con.execute(f"SELECT DISTINCT basis_sha256 FROM {PAY_COVERAGE_MEMO}").fetchall()} == {rules}
    if change == "withdrawn":
        assert latest not in {d for (d,) in con.execute(f"SELECT snapshot_date FROM {PAY_COVERAGE_MEMO}").fetchall()}
    if change == "replaced":
        assert con.execute(f"SELECT sha256 FROM {PAY_COVERAGE_MEMO} WHERE snapshot_date = ?",
                           [latest]).fetchall() == [("corrected",)]


def test_normalisation():
    assert normalise("The Insolvency Service") == "insolvency service"
    assert normalise("Adur & Worthing Councils") == normalise("Adur and Worthing Councils")
    assert normalise("UK Civil Aviation Authority\u00ad\u00ad") == "uk civil aviation authority"


def test_every_alias_slug_exists(warehouse):
    slugs = {s for (s,) in warehouse.execute("SELECT organisation_slug FROM staging.organisations").fetchall()}
    assert load_aliases(DATA).slugs() <= slugs


def test_every_published_target_is_declared_once():
    frame, rules = load_targets(DATA)
    with open(DATA / "targets" / "strategy_targets_sources.csv") as f:
        published = list(csv.DictReader(f))
    declared = {(r.metric, r.deadline.isoformat()) for r in frame.itertuples()}
    assert {(r["metric"], r["target_date"]) for r in published} <= declared
    earlier = frame[[(r.metric, r.deadline.isoformat()) in {(p["metric"], p["target_date"]) for p in published}
                     for r in frame.itertuples()]]
    assert len(earlier) == len(published)
    assert frame.drop(earlier.index)["source_ids"].notna().all()  # the rest: the 2025-2030 file's
    assert rules == {"on_track": 0.95, "at_risk": 0.80, "forecast_window_days": 365}


def test_every_2025_2030_target_and_baseline_is_held_once_with_its_source():
    """Each row of the 2025-2030 file is a target, a published figure (the review's baselines), or both."""
    frame, _rules = load_targets(DATA)
    figures = load_published_figures(DATA)
    with open(DATA / "targets" / "targets_2025_2030_sources.csv", encoding="utf-8") as f:
        published = {row["id"]: row for row in csv.DictReader(f)}
    held = [i for ids in [*frame["source_ids"].dropna(), *figures["source_ids"].dropna()] for i in ids.split(", ")]
    assert set(held) == set(published)
    for target in frame[frame["source_ids"].notna()].itertuples():
        urls = {published[i]["source_url"] for i in target.source_ids.split(", ")}
        assert target.source_url in urls or target.target_id.startswith(("one-login-", "pay-notify")), target.target_id
    baselines = {"T10", "T11", "T12", "T13"}  # the State of digital government review's baselines
    assert baselines <= {i for ids in figures["source_ids"].dropna() for i in ids.split(", ")}
    assert not baselines & {i for ids in frame["source_ids"].dropna() for i in ids.split(", ")}


def test_the_people_targets_say_which_measure_they_count():
    frame, _rules = load_targets(DATA)
    by_id = frame.set_index("target_id")
    ten = by_id.loc["digital-data-share-10pc-2030"]
    assert (ten.measure, ten.beside_measure, ten.tracked_by) == ("digital_and_data_roles", "ddat_profession", None)
    assert ten.baseline_value == 6 and "digital and data roles" in ten.baseline_note
    six = by_id.loc["ddat-profession-6pc-2025"]
    assert (six.measure, six.tracked_by) == ("ddat_profession", "ddat_profession_share")


@pytest.mark.parametrize("change, problem", [
    ({"tracked_by": "ddat_profession_share"}, "a target is judged only on a series that counts the same thing"),
    ({"shown_beside": "digital_and_data_roles"}, "shown_beside names a measure of another definition"),
    ({"shown_beside": "ddat_function"}, "shown_beside names a measure of another definition"),
    ({"measure": "digital_roles"}, "measure 'digital_roles' is not one of the measures"),
], ids=["judged-on-another-measure", "beside-itself", "beside-without-series", "unknown-measure"])
def test_a_target_judged_on_another_measure_is_refused(tmp_path, change, problem):
    doc = yaml.safe_load((DATA / "targets.yaml").read_text(encoding="utf-8"))
    [target] = [t for t in doc["targets"] if t["id"] == "digital-data-share-10pc-2030"]
    target.update(change)
    (tmp_path / "targets.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(TargetsFileError, match=problem):
        load_targets(tmp_path)


@pytest.mark.parametrize("change, problem", [
    ({"series": None, "no_series_because": None}, "needs exactly one of series"),
    ({"as_at_precision": "week"}, "as_at_precision is one of day, month, year"),
    ({"source_url": ""}, "has no source_url"),
], ids=["neither-series-nor-reason", "unknown-precision", "no-source"])
def test_a_published_figure_without_its_basis_is_refused(tmp_path, change, problem):
    doc = yaml.safe_load((DATA / "targets.yaml").read_text(encoding="utf-8"))
    doc["published_figures"][0].update(change)
    (tmp_path / "targets.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(TargetsFileError, match=problem):
        load_published_figures(tmp_path)


def test_non_numeric_targets_are_100_percent_of_a_population():
    doc = yaml.safe_load((DATA / "targets.yaml").read_text())
    with open(DATA / "targets" / "strategy_targets_sources.csv") as f:
        worded = {r["metric"] for r in csv.DictReader(f) if not r["target_value"].replace(".", "").isdigit()}
    assert worded == {"departments_with_adoption_plan", "mandated_use"}
    for target in doc["targets"]:
        if target["metric"] in worded:
            assert target["target_value"] == 100 and target["unit"] == "percent" and target["population"]


@pytest.mark.parametrize("frame", [
    pd.DataFrame({"slug": ["a", "b"], "count": [1, 2], "share": [0.5, float("nan")], "flag": [True, False],
                  "code": [None, "X1"], "parents": [["p", "q"], []]}),
    pd.DataFrame({"slug": pd.Series([], dtype=object), "count": pd.Series([], dtype="int64")}),
    pd.DataFrame({"day": pd.to_datetime(["2026-01-31", None]), "n": pd.array([1, None], dtype="Int64")}),
])
def test_a_frames_records_are_what_to_dict_gives(frame):
    from tracker.organisation_register import records

    made, expected = records(frame), frame.to_dict("records")
    assert repr(made) == repr(expected)  # repr: NaN and NaT are not equal to themselves
    assert [list(map(type, r.values())) for r in made] == [list(map(type, r.values())) for r in expected]


def test_the_register_reads_an_api_file_with_a_byte_order_mark(tmp_path):
    from tracker.organisation_register import parse_api_organisations
    from tracker.warehouse import SourceFile

    document = ('{"results": [{"title": "Cabinet Office", "format": "Ministerial department", "analytics_identifier":'
                ' "D2", "details": {"slug": "cabinet-office", "govuk_status": "live"}}]}')
    plain = parse_api_organisations(SourceFile(tmp_path / "a.json", document.encode()))
    marked = parse_api_organisations(SourceFile(tmp_path / "a.json", ("\ufeff" + document).encode()))
    assert plain.equals(marked) and plain["slug"].tolist() == ["cabinet-office"]


def _normalised_step_by_step(name: str) -> str:
    """The matching key's rule written out one step at a time, as it first was: the key must stay this."""
    import re
    import unicodedata

    text = str(name).translate(str.maketrans({"\u2019": "'", "\u2018": "'", "\u2013": "-", "\u2014": "-"}))
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = text.lower().replace("&", " and ").replace("'", " ").replace("`", " ")
    text = re.sub(r"[^a-z0-9]+", " ", text)
    text = re.sub(r"\b(?:her|his) majesty s\b", "hm", text)
    text = re.sub(r"^the ", "", text.strip())
    return re.sub(r"\s+", " ", text).strip()


def test_a_names_key_is_the_rule_written_out_step_by_step():
    import random

    rng = random.Random(17)
    alphabet = "abcXYZ &'`-–—’‘.,()éÉçñøß ﬁ①Ⅷ  \t\n\u00a0\u200bthe The THE her majesty's Her Majesty’s his majestys 09"
    names = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(20_000)]
    names += ["".join(chr(rng.randint(0, 0x2FFF)) for _ in range(rng.randint(0, 12))) for _ in range(5_000)]
    names += ["the the", "the", " the x", "The  Her Majesty's  Treasury", "thé x", "ｔｈｅ x", "x the", "", "&",
              "the&x", "Ministry of Justice – MoJ", "HM Revenue & Customs", "Department for Education (DfE)"]
    assert [normalise(n) for n in names] == [_normalised_step_by_step(n) for n in names]
