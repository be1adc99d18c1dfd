"""Reference data: departments through machinery-of-government changes, matching, the curated files."""

from __future__ import annotations

import csv

import pandas as pd
import pytest
import yaml

from assets.organisation_matching import (
    MATCH_FIELDS,
    PLATFORM_NAMES_SQL,
    Matcher,
    match_names,
    remember_matches,
    remembered_matches,
    rules_sha256,
)
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


# --- a name matched before keeps its match while the rules are the same ------------------------------------------


@pytest.fixture(scope="module")
def matching_inputs(built):
    import duckdb

    con = duckdb.connect(str(built["home"] / "warehouse.duckdb"), read_only=True)
    identifiers = con.execute("SELECT * FROM staging.organisation_identifiers").df()
    current = dict(con.execute("SELECT organisation_slug, current_slug FROM staging.organisations").fetchall())
    names = [n for (n,) in con.execute(f"SELECT platform_name FROM ({PLATFORM_NAMES_SQL})").fetchall()]
    con.close()
    return identifiers, current, names


def test_remembered_matches_equal_matching_every_name_again(matching_inputs, tmp_path):
    import duckdb

    identifiers, current, names = matching_inputs
    names = [*names, "A Body Nobody Has Published Before", "Bedfordshire Police", None]
    fresh = [dict.fromkeys(MATCH_FIELDS) | Matcher(identifiers, load_aliases(DATA), current).match(n) for n in names]
    rules = rules_sha256(identifiers, current, DATA / ALIAS_FILE)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    built = []
    assert match_names(names, lambda: built.append(1) or Matcher(identifiers, load_aliases(DATA), current), {}) \
        == fresh and built == [1]  # built once, for every name
    memo: dict = {}
    match_names(names[:-5], lambda: Matcher(identifiers, load_aliases(DATA), current), memo)
    remember_matches(con, rules, names[:-5], memo)
    remembered = remembered_matches(con, rules)
    assert len(remembered) == len(set(names[:-5]))
    built.clear()
    again = match_names(names, lambda: built.append(1) or Matcher(identifiers, load_aliases(DATA), current),
                        remembered)
    assert again == fresh and built == [1]  # the new names only need the matcher
    built.clear()
    assert match_names(names[:-5], lambda: built.append(1), remembered_matches(con, rules)) == fresh[:-5]
    assert built == []  # nothing new: nothing matched


def test_matches_are_not_remembered_across_a_change_of_rules(matching_inputs, tmp_path):
    import duckdb

    identifiers, current, names = matching_inputs
    alias_file = tmp_path / ALIAS_FILE
    alias_file.write_bytes((DATA / ALIAS_FILE).read_bytes())
    rules = rules_sha256(identifiers, current, alias_file)
    assert rules == rules_sha256(identifiers.sample(frac=1, random_state=1), dict(reversed(current.items())),
                                 alias_file)  # the same rules in another order
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    memo: dict = {}
    match_names(names, lambda: Matcher(identifiers, load_aliases(DATA), current), memo)
    remember_matches(con, rules, names, memo)
    first = identifiers.iloc[0]
    moved = identifiers.copy()
    moved.loc[0, "organisation_slug"] = "another-body"
    successor = {**current, first["organisation_slug"]: "another-body"}
    alias_file.write_bytes(alias_file.read_bytes() + b"\n# a curator's edit\n")
    changed = [rules_sha256(moved, current, DATA / ALIAS_FILE), rules_sha256(identifiers, successor, DATA / ALIAS_FILE),
               rules_sha256(identifiers, current, alias_file)]
    assert len({rules, *changed}) == 4
    assert all(remembered_matches(con, other) == {} for other in changed)


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
