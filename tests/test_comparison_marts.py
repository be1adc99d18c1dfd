"""The marts the dashboard reads, checked against staging and against each other (as of 2026-01-31)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from pipelines.definitions import defs

DATA = Path(__file__).resolve().parent.parent / "data"


def test_pay_headline_compares_with_the_previous_quarter_end(warehouse):
    row = warehouse.execute("SELECT * FROM marts.platform_headlines WHERE metric = 'pay_live_services'").df().iloc[0]
    previous = warehouse.execute("""
        SELECT arg_max(services, date_updated), max(date_updated) FROM staging.pay_snapshots
        WHERE is_current_version AND date_updated <= DATE '2025-09-30'""").fetchone()
    assert (row.latest_value, str(row.latest_date.date())) == (1603, "2025-12-22")
    assert str(row.previous_period_end.date()) == "2025-09-30"
    assert (row.previous_value, row.change) == (previous[0], 1603 - previous[0])
    # 40 days old on 31 January 2026, and Pay is expected within 14 days (its freshness check's rule)
    assert (row.days_old, row.fresh_within_days, row.freshness) == (40, 14, "stale")
    notify = warehouse.execute("SELECT freshness FROM marts.platform_headlines "
                               "WHERE metric = 'notify_agreements_signed'").fetchone()[0]
    assert notify == "no longer published"


def test_headlines_never_use_figures_after_the_reporting_date(warehouse):
    latest = warehouse.execute("SELECT max(latest_date) FROM marts.platform_headlines").fetchone()[0]
    assert str(latest)[:10] <= "2026-01-31"
    one_login = warehouse.execute("SELECT latest_value FROM marts.platform_headlines "
                                  "WHERE metric = 'one_login_services_onboarded'").fetchone()[0]
    expected = warehouse.execute("SELECT count(*) FROM staging.one_login_services WHERE NOT is_internal AND NOT "
                                 "is_offboarded AND first_seen <= DATE '2026-01-31'").fetchone()[0]
    assert one_login == expected


def test_movers_are_the_change_in_the_adoption_mart(warehouse):
    movers = warehouse.execute("SELECT * FROM marts.department_movers WHERE platform = 'GOV.UK Pay'").df()
    assert len(movers) > 10
    assert (movers["change"] == movers["value_now"] - movers["value_then"]).all()
    span = movers.iloc[0]
    assert (span.latest_month - span.base_month).days in (365, 366)
    for row in movers.head(5).itertuples():
        for month, value in ((row.base_month, row.value_then), (row.latest_month, row.value_now)):
            expected = warehouse.execute(
                "SELECT coalesce(sum(value), 0) FROM marts.adoption_by_department_month WHERE platform = 'GOV.UK Pay'"
                " AND measure = 'live services' AND department_code = ? AND month = ?",
                [row.department_code, month]).fetchone()[0]
            assert value == expected


def test_organisations_add_up_to_their_department(warehouse):
    by_department = warehouse.execute("""
        SELECT o.department_code, sum(o.pay_live_services) AS pay, sum(o.one_login_services) AS one_login,
               s.pay_live_services, s.one_login_services
        FROM marts.organisation_adoption o JOIN marts.department_scorecard s USING (department_code)
        GROUP BY ALL""").df()
    assert len(by_department) > 15
    assert (by_department["pay"] == by_department["pay_live_services"]).all()
    assert (by_department["one_login"] == by_department["one_login_services"]).all()


def test_league_reads_the_returns(warehouse):
    dft = warehouse.execute("SELECT * FROM marts.department_league WHERE department_code = 'D9'").df().iloc[0]
    assert dft.reconciliation_differences == 1  # DVLA: 9 reported, 6 on GOV.UK Pay
    assert (dft.returned_quarter, dft.one_login_plan, dft.returns_are_illustrative) == ("2025-26 Q3",
                                                                                       "plan confirmed", True)
    live, in_scope = warehouse.execute("SELECT sum(live), sum(in_scope) FROM marts.return_adoption WHERE level = "
                                       "'department' AND department_code = 'D9' AND reporting_quarter = '2025-26 Q3'"
                                       ).fetchone()
    assert dft.returned_adoption_rate == round(live / in_scope, 4)
    home_office = warehouse.execute("SELECT own_return_status FROM marts.department_league WHERE department_code = "
                                    "'D16'").fetchone()[0]
    assert home_office == "rejected, overdue"
    no_return = warehouse.execute("SELECT one_login_plan FROM marts.department_league WHERE department_code = 'D2'"
                                  ).fetchone()[0]
    assert no_return == "no return"


def test_sources_name_the_newest_file_and_its_hash(warehouse):
    pay = warehouse.execute("SELECT * FROM marts.sources WHERE source = 'pay'").df().iloc[0]
    files = sorted((DATA / "pay" / "snapshots").glob("*.json"))
    assert (pay.files_kept, pay.newest_file) == (len(files) + 1, files[-1].name)  # and versions.csv
    assert pay.newest_file_sha256 == hashlib.sha256(files[-1].read_bytes()).hexdigest()
    sources = set(warehouse.execute("SELECT source FROM marts.sources").df()["source"])
    assert sources == {"pay", "forms", "one_login", "data_sharing", "notify", "verify", "organisations", "skills",
                       "returns"}


def test_the_snapshot_carries_every_check_result_of_its_run(built):
    con = duckdb.connect(str(Path(built["home"]) / "published" / "tracker.duckdb"), read_only=True)
    published = con.execute("SELECT * FROM meta.check_results").df()
    con.close()
    evaluations = {(e.asset_key.to_user_string(), e.check_name): e for e in
                   built["result"].get_asset_check_evaluations()}
    graph = defs.resolve_asset_graph()
    # the Python checks and dbt's tests; not the live feeds' checks, which run only with their fetch schedules
    every_check = [key for key in graph.asset_check_keys if graph.get(key.asset_key).group_name != "feeds"]
    assert len(published) == len(every_check) == len(evaluations)
    assert set(published["run_id"]) == {built["result"].run_id}  # published after every check of its run
    assert published["description"].notna().all()  # dbt's tests too, described in words by assets/marts.py
    for row in published.itertuples():
        evaluation = evaluations[(row.asset, row.check_name)]
        expected = "passed" if evaluation.passed else ("warning" if evaluation.severity.value == "WARN" else "failed")
        assert row.outcome == expected
