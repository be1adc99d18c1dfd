"""Reference data: departments through machinery-of-government changes, matching, the curated files."""

from __future__ import annotations

import csv

import pandas as pd
import pytest
import yaml

from assets.organisation_matching import Matcher
from assets.targets import load_targets
from tests.conftest import DATA
from tracker.organisation_names import load_aliases, normalise

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
    assert len(frame) == len(published)
    assert rules == {"on_track": 0.95, "at_risk": 0.80, "forecast_window_days": 365}


def test_non_numeric_targets_are_100_percent_of_a_population():
    doc = yaml.safe_load((DATA / "targets.yaml").read_text())
    with open(DATA / "targets" / "strategy_targets_sources.csv") as f:
        worded = {r["metric"] for r in csv.DictReader(f) if not r["target_value"].replace(".", "").isdigit()}
    assert worded == {"departments_with_adoption_plan", "mandated_use"}
    for target in doc["targets"]:
        if target["metric"] in worded:
            assert target["target_value"] == 100 and target["unit"] == "percent" and target["population"]
