"""History as it was published: each series checked against an independent reading of the raw files."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import duckdb
import pytest

from tests.conftest import DATA
from tracker.versions import parse_versions, publications, visible
from tracker.warehouse import SourceFile

CATALOGUE = DATA / "data_sharing" / "catalogue_versions"


@pytest.fixture(scope="module")
def warehouse(built):
    con = duckdb.connect(str(Path(built["home"]) / "published" / "tracker.duckdb"), read_only=True)
    staging = duckdb.connect(str(Path(built["home"]) / "warehouse.duckdb"), read_only=True)
    yield con, staging
    con.close()
    staging.close()


def series(con, metric: str, date: str) -> float | None:
    rows = con.execute("SELECT value FROM marts.metric_series WHERE metric = ? AND date = ?", [metric, date]).fetchall()
    return rows[0][0] if rows else None


def on_main(date: str) -> str:
    """Independently: the catalogue file that was the state of main at the end of ``date``: the last file whose
    main-line commit was published by then (rows of versions.csv sharing a main commit: the last of them)."""
    rows = list(csv.DictReader((CATALOGUE / "versions.csv").open(encoding="utf-8")))
    end = dt.datetime.fromisoformat(date + "T23:59:59+00:00")
    published = [r for r in rows if dt.datetime.fromisoformat(r["published_at"]) <= end]
    return published[-1]["file"] if published else ""


def apis_in(file_name: str) -> set[tuple[str, str]]:
    with (CATALOGUE / file_name).open(encoding="utf-8-sig", newline="") as f:
        return {(r["provider"], r["name"].strip()) for r in csv.DictReader(f) if r["name"].strip()}


@pytest.mark.parametrize(("date", "expected"), [
    ("2022-09-26", 149),  # 48 NHS rows left the file (registries drawn at build time)
    ("2024-01-16", 170),  # GOV.UK PaaS v2 and v3 removed
    ("2024-10-10", 144),  # 30 DWP APIs removed
    ("2025-04-30", 147),  # the DIT -> DBT rename was committed 28 Apr but merged 15 May: main had 9 Apr's file
    ("2025-09-02", 242),
])
def test_api_catalogue_counts_match_an_independent_count(warehouse, date, expected):
    con, _ = warehouse
    independent = len(apis_in(on_main(date)))
    assert independent == expected
    latest = con.execute("SELECT arg_max(value, date) FROM marts.metric_series WHERE metric = 'apis_published' "
                         "AND date <= ?", [date]).fetchone()[0]
    assert latest == independent


def test_a_removed_api_stays_in_the_history_of_the_dates_it_was_listed(warehouse):
    _, staging = warehouse
    paas = staging.execute("SELECT min(published_on), max(published_on) FROM staging.api_catalogue_listings "
                           "WHERE provider = 'government-digital-service' AND api_name ILIKE '%PaaS%v2%'").fetchone()
    assert paas == (dt.date(2020, 10, 30), dt.date(2024, 1, 16))  # listed by df884e96 that morning
    removed = staging.execute("SELECT published_on, file_name FROM staging.api_catalogue_changes "
                              "WHERE change = 'removed' AND api_name ILIKE '%PaaS%'").fetchall()
    assert removed == [(dt.date(2024, 1, 16), "2024-01-16_086114c2.csv")] * 2
    # the series before the removal still counts them: 242 at the end, 228 read backwards was the old bug
    assert series(warehouse[0], "apis_published", "2024-01-16") == 170


def test_the_federated_period_is_marked_not_shown_as_a_fall(warehouse):
    con, _ = warehouse
    noted = con.execute("SELECT min(date), max(date) FROM marts.metric_series WHERE metric = 'apis_published' "
                        "AND definition_note IS NOT NULL").fetchone()
    assert noted[0] >= dt.date(2022, 3, 1) and noted[1] < dt.date(2025, 8, 6)
    assert con.execute("SELECT definition_note FROM marts.metric_series WHERE metric = 'apis_published' "
                       "AND date = '2022-09-26'").fetchone()[0].startswith("From March 2022")
    assert con.execute("SELECT definition_note FROM marts.metric_series WHERE metric = 'apis_published' "
                       "AND date = '2025-08-06'").fetchone()[0] is None


def test_one_login_counts_a_service_between_its_addition_and_its_offboarding(warehouse):
    con, staging = warehouse
    periods = staging.execute("SELECT live_from, live_until FROM staging.one_login_periods "
                              "WHERE client_key = 'connectFamilies'").fetchall()
    assert periods == [(dt.date(2025, 2, 6), dt.date(2025, 4, 29))]
    before = con.execute("SELECT arg_max(value, date) FROM marts.metric_series WHERE metric = "
                         "'one_login_services_onboarded' AND date <= '2025-04-28'").fetchone()[0]
    on_the_day = series(con, "one_login_services_onboarded", "2025-04-29")
    # connectFamilies and manageFamilySupport were offboarded on 29 Apr 2025, nothing else changed that day
    assert before - on_the_day == 2


def test_replaying_the_events_gives_the_registry_of_31_december_2025(warehouse):
    _, staging = warehouse
    with (DATA / "one_login" / "relying_party_registry_2025-12-31.csv").open(encoding="utf-8", newline="") as f:
        registry = {r["client_key"]: r["is_offboarded"] == "true" for r in csv.DictReader(f)}
    replayed = dict(staging.execute("SELECT client_key, is_offboarded FROM staging.one_login_services "
                                    "WHERE is_in_registry").fetchall())
    assert replayed == registry and sum(registry.values()) == 3


def test_pay_22_december_2025_per_organisation_as_the_file_says(warehouse):
    _, staging = warehouse
    pairs = json.loads((DATA / "pay" / "snapshots" / "2025-12-22_73bfaefd.json").read_text(encoding="utf-8"),
                       object_pairs_hook=lambda p: p)
    by_org = dict(pairs)["serviceCountByOrganisation"]
    assert (len(by_org), sum(n for _, n in by_org)) == (580, 1603)
    assert staging.execute("SELECT count(*), sum(live_services) FROM staging.pay_organisation_services "
                           "WHERE date_updated = '2025-12-22'").fetchone() == (580, 1603)


def test_pay_10_february_2025_is_the_later_commit(warehouse):
    con, staging = warehouse
    assert series(con, "pay_payments_cumulative", "2025-02-10") == 99_500_000
    assert series(con, "pay_organisations", "2025-02-10") == 435
    assert staging.execute("SELECT file_name FROM staging.pay_snapshots WHERE date_updated = '2025-02-10' "
                           "AND is_current_version").fetchall() == [("2025-02-10_7dd11adc.json",)]


def test_forms_versions_merged_together_count_once(warehouse):
    _, staging = warehouse
    rows = staging.execute("SELECT file_name, is_current_version, not_used_because FROM staging.forms_metrics "
                           "WHERE snapshot_date = '2025-07-23' OR file_name LIKE '2025-07-23%' "
                           "ORDER BY published_at, file_name").fetchall()
    current = [r for r in rows if r[1]]
    assert len(current) == 1 and current[0][0].startswith("2025-07-23_7c13c796")
    assert any("merged together" in (r[2] or "") for r in rows)


def _file(name: str) -> SourceFile:
    return SourceFile(Path(name), b"")


def test_versions_rules_by_hand():
    listed = parse_versions(SourceFile(Path("versions.csv"), io.StringIO(
        "file,commit,main_commit,published_at\n"
        "2025-01-01_a.json,a,m1,2025-01-01T09:00:00+00:00\n"
        "2025-01-01_b.json,b,m1,2025-01-01T09:00:00+00:00\n"   # merged with a: only b was ever public
        "2025-01-02_c.json,c,m2,2025-01-02T23:30:00+00:00\n"   # 23:30 UTC in January is 2 Jan in London
        "2025-07-01_d.json,d,m3,2025-07-01T23:30:00+00:00\n"   # 23:30 UTC in July is 2 Jul in London
    ).getvalue().encode()))
    files = [_file(n) for n in ("2025-01-01_a.json", "2025-01-01_b.json", "2025-01-02_c.json",
                                "2025-07-01_d.json", "2025-08-01_new.json", "undated.json")]
    pubs = publications(files, listed)
    assert pubs["2025-07-01_d.json"].published_on == dt.date(2025, 7, 2)
    assert pubs["2025-08-01_new.json"].published_on == dt.date(2025, 8, 1) and not pubs["2025-08-01_new.json"].listed
    shown = visible(pubs, dt.date(2025, 7, 1))
    assert list(shown) == ["2025-01-01_b.json", "2025-01-02_c.json"]
    assert "2025-08-01_new.json" in visible(pubs, dt.date(2025, 8, 1))


def test_a_versions_list_that_cannot_be_read_is_named():
    from tracker.parsing import FeedError

    listed = parse_versions(SourceFile(Path("versions.csv"),
                                       b"file,published_at\nx.json,yesterday\ny.json,2025-01-01T09:00:00\n"))
    assert "(row 2) gives published_at 'yesterday', not an ISO 8601" in listed["x.json"]["problem"]
    assert listed["y.json"]["published_at"] == dt.datetime(2025, 1, 1, 9, tzinfo=dt.UTC)  # the others stand
    with pytest.raises(FeedError, match="needs the columns file, published_at"):
        parse_versions(SourceFile(Path("versions.csv"), b"name,when\n"))


def test_no_headline_change_is_drawn_across_a_change_of_definition(warehouse):
    con, _ = warehouse
    previous, change = con.execute("SELECT previous_date, change FROM marts.platform_headlines "
                                   "WHERE metric = 'apis_published'").fetchone()
    # the latest figure (2 Sep 2025) counts the whole catalogue; every figure of the quarter before counted the file
    # only, so the 95 NHS and FSA APIs returning to the file are not shown as a rise
    assert previous is None and change is None
    pay = con.execute("SELECT change FROM marts.platform_headlines WHERE metric = 'pay_live_services'").fetchone()[0]
    assert pay is not None  # a series without a change of definition still shows its change
